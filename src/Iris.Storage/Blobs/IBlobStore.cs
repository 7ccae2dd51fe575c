namespace Iris.Storage.Blobs;

/// <summary>
/// Content-addressed bytes (originals, thumbnails, masks): the key is the lowercase hex SHA-256 of the bytes, so writing
/// the same bytes twice stores them once and a key always names the same bytes. Whether a blob may be deleted is decided
/// by the metadata store (rows referencing the key, under <c>Database.LockKeyAsync</c>), never by the blob store.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores <paramref name="bytes"/> (whole or not at all) and returns their key.</summary>
    Task<string> PutAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    /// <summary>
    /// Stores what <paramref name="write"/> writes to the stream it is given, of any length, and returns its key (the
    /// SHA-256 of those bytes, hashed as they are written). Whole or not at all: when <paramref name="write"/> throws,
    /// nothing is stored and the exception propagates.
    /// </summary>
    Task<string> PutAsync(Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken);

    /// <summary>A whole blob; null when it does not exist.</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>A blob to read as a stream (the caller disposes it); null when it does not exist.</summary>
    Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken);

    Task DeleteAsync(string key, CancellationToken cancellationToken);
}
