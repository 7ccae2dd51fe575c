using System.Security.Cryptography;

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

    public async Task<string> PutAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes.Span));
        var path = PathOf(key);
        if (File.Exists(path))
        {
            return key;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
        {
            await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
        return key;
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
}
