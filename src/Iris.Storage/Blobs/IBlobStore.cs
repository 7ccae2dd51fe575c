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

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken);

    /// <summary>A whole blob; null when it does not exist.</summary>
    Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken);

    Task DeleteAsync(string key, CancellationToken cancellationToken);
}
