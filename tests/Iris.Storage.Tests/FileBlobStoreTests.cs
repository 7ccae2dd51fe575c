using System.Security.Cryptography;
using Iris.Storage.Blobs;

namespace Iris.Storage.Tests;

/// <summary>
/// The file blob store, which every backend shares: content addressing, whole-or-absent writes, and deletes that are
/// idempotent (a purge retried on another node, or a blob directory restored without some subfolders, must not fail).
/// </summary>
public sealed class FileBlobStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "iris-blobs-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Bytes_are_stored_once_under_their_sha256_and_read_back()
    {
        var blobs = new FileBlobStore(_root);
        byte[] bytes = [1, 2, 3, 4];

        var key = await blobs.PutAsync(bytes, CancellationToken.None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), key);
        Assert.Equal(key, await blobs.PutAsync(bytes, CancellationToken.None));
        Assert.Equal(bytes, await blobs.GetAsync(key, CancellationToken.None));
        Assert.Equal(Path.Combine(_root, key[..2], key[2..4], key), blobs.PathOf(key));
        Assert.Single(Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
        Assert.Throws<ArgumentException>(() => blobs.PathOf("../../etc/passwd"));
    }

    [Fact]
    public async Task Deleting_is_idempotent_even_when_the_blobs_folder_never_existed()
    {
        var blobs = new FileBlobStore(_root);
        var key = await blobs.PutAsync(new byte[] { 9 }, CancellationToken.None);

        await blobs.DeleteAsync(key, CancellationToken.None);
        await blobs.DeleteAsync(key, CancellationToken.None);
        Assert.False(await blobs.ExistsAsync(key, CancellationToken.None));
        Assert.Null(await blobs.GetAsync(key, CancellationToken.None));

        var never = Convert.ToHexStringLower(SHA256.HashData(new byte[] { 42 }));
        await blobs.DeleteAsync(never, CancellationToken.None);
        Assert.Null(await blobs.GetAsync(never, CancellationToken.None));
    }
}
