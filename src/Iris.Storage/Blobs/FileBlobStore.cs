using System.Security.Cryptography;
using Iris.Core.IO;

namespace Iris.Storage.Blobs;

/// <summary>
/// Blobs as files under <c>&lt;blob-dir&gt;/ab/cd/&lt;sha256&gt;</c> (default blob dir <c>&lt;data-dir&gt;/blobs</c>). Writes go
/// to a temporary file and are renamed into place, so a blob is either whole or absent on any POSIX file system, shared
/// ones (NFS) included: several nodes can use one directory. Writing the same bytes twice stores them once.
/// </summary>
public sealed class FileBlobStore : IBlobStore
{
    public FileBlobStore(string root)
    {
        Root = root;
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public Task<string> PutAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes.Span));
        return File.Exists(PathOf(key)) ? Task.FromResult(key) : PutAsync((stream, ct) => stream.WriteAsync(bytes, ct).AsTask(), cancellationToken);
    }

    // The one way a blob is written: to a temporary file in the blob directory while hashing, flushed to disk, then
    // renamed to its key; when the writer throws, the temporary file goes and nothing is stored.
    public async Task<string> PutAsync(Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        var tmp = Path.Combine(Root, "put-" + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            string key;
            await using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await using (var buffered = new BufferedStream(new HashingStream(file, hash), 1 << 20))
                {
                    await write(buffered, cancellationToken).ConfigureAwait(false);
                    await buffered.FlushAsync(cancellationToken).ConfigureAwait(false);
                }

                file.Flush(flushToDisk: true);
                key = Convert.ToHexStringLower(hash.GetHashAndReset());
            }

            var path = PathOf(key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Move(tmp, path, overwrite: true);
            return key;
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken) => Task.FromResult(File.Exists(PathOf(key)));

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            // FileShare.Delete: a blob deleted while it is read stays readable through this handle (POSIX unlink).
            return Task.FromResult<Stream?>(new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    // Deleting what is not there succeeds: a purge retried on another node, or a key whose ab/cd folder never existed
    // (File.Delete throws DirectoryNotFoundException for those on Unix, which would fail the purge job forever).
    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            File.Delete(PathOf(key));
        }
        catch (DirectoryNotFoundException)
        {
        }

        return Task.CompletedTask;
    }

    public string PathOf(string key)
    {
        if (key.Length != 64 || !key.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException("A blob key is 64 lowercase hex characters.", nameof(key));
        }

        return Path.Combine(Root, key[..2], key[2..4], key);
    }

    /// <summary>A write-only stream that hashes what passes through it to the file under it.</summary>
    private sealed class HashingStream(FileStream file, IncrementalHash hash) : ForwardingWriteStream(file)
    {
        protected override void OnWrite(ReadOnlySpan<byte> buffer) => hash.AppendData(buffer);
    }
}
