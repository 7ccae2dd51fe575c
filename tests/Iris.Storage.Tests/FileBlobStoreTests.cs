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

    // Snapshots of large vector indexes are streamed in: hashed while written, whole or absent, read back as a stream.
    [Fact]
    public async Task A_streamed_blob_is_stored_under_the_sha256_of_its_bytes_and_read_back_as_a_stream()
    {
        var blobs = new FileBlobStore(_root);
        var bytes = new byte[3 << 20];
        new Random(7).NextBytes(bytes);

        // Written in pieces of odd sizes, synchronously and asynchronously (BinaryWriter and CopyToAsync do both).
        var key = await blobs.PutAsync(async (stream, ct) =>
        {
            stream.Write(bytes, 0, 1);
            stream.Write(bytes.AsSpan(1, 4095));
            await stream.WriteAsync(bytes.AsMemory(4096, (2 << 20) - 4096), ct);
            stream.Write(bytes.AsSpan(2 << 20));
        }, CancellationToken.None);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), key);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(blobs.PathOf(key)));
        await using (var read = await blobs.OpenReadAsync(key, CancellationToken.None))
        {
            Assert.NotNull(read);
            using var copy = new MemoryStream();
            await read.CopyToAsync(copy);
            Assert.Equal(bytes, copy.ToArray());
        }

        // The same bytes again, as one array or streamed: the same key, one file, no temporary file left.
        Assert.Equal(key, await blobs.PutAsync(bytes, CancellationToken.None));
        Assert.Equal(key, await blobs.PutAsync((stream, ct) => stream.WriteAsync(bytes, ct).AsTask(), CancellationToken.None));
        Assert.Equal([blobs.PathOf(key)], Directory.GetFiles(_root, "*", SearchOption.AllDirectories));

        var empty = await blobs.PutAsync((_, _) => Task.CompletedTask, CancellationToken.None);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData([])), empty);
        Assert.Null(await blobs.OpenReadAsync(Convert.ToHexStringLower(SHA256.HashData(new byte[] { 42 })), CancellationToken.None));
    }

    [Fact]
    public async Task A_write_that_fails_midway_leaves_no_blob_and_no_temporary_file()
    {
        var blobs = new FileBlobStore(_root);
        var bytes = new byte[5 << 20];
        new Random(8).NextBytes(bytes);

        var failure = await Assert.ThrowsAsync<IOException>(() => blobs.PutAsync(async (stream, ct) =>
        {
            await stream.WriteAsync(bytes.AsMemory(0, 3 << 20), ct); // past the 1 MB buffer: on disk already
            throw new IOException("the index went away mid-snapshot");
        }, CancellationToken.None));
        Assert.Equal("the index went away mid-snapshot", failure.Message);
        Assert.Empty(Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
        Assert.False(await blobs.ExistsAsync(Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(0, 3 << 20))), CancellationToken.None));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blobs.PutAsync((stream, ct) => stream.WriteAsync(bytes, ct).AsTask(), cancelled.Token));
        Assert.Empty(Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
    }
}
