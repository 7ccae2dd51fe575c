using System.Security.Cryptography;

namespace Iris.Storage;

/// <summary>
/// Content-addressed files under <c>&lt;data-dir&gt;/blobs/ab/cd/&lt;sha256&gt;</c>. Writes go to a temporary file and are
/// renamed into place, so a blob is either whole or absent; writing the same bytes twice stores them once.
/// </summary>
public sealed class BlobStore
{
    public BlobStore(string dataDir)
    {
        Root = Path.Combine(dataDir, "blobs");
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>Stores <paramref name="bytes"/> and returns their lowercase hex SHA-256, the blob's key.</summary>
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

    public bool Exists(string key) => File.Exists(PathOf(key));

    /// <summary>Reads a whole blob; null when it does not exist.</summary>
    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false) : null;
    }

    public void Delete(string key)
    {
        var path = PathOf(key);
        if (File.Exists(path))
        {
            File.Delete(path);
        }
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
