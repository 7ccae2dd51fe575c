using Iris.Core.Apps;
using Iris.Storage.Inputs;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// Blobs are shared by content across inputs and apps: a blob file is deleted only when no input references it any
/// more, and an add racing a purge of the same bytes ends with the file present while the new input references it.
/// </summary>
public abstract class BlobReferenceTests(IStoreBackend backend, string store) : InputStoreTestBase(backend, store)
{
    private readonly AppRef _app = NewApp();

    private async Task<(string Key, byte[] Bytes)> PutAsync(string content)
    {
        var bytes = Utf8(content + Guid.NewGuid());
        return (await Blobs.PutAsync(bytes, Ct), bytes);
    }

    private async Task AddUploadAsync(SqlInputStore store, AppRef app, string id, string key, byte[] bytes) =>
        Assert.Equal(AddOutcome.Added, Assert.Single(await store.AddInputsAsync(app, [Input(id, sourceBlob: key, sourceBytes: bytes)], null, Ct)).Outcome);

    private async Task DeleteAsync(SqlInputStore store, AppRef app, string id)
    {
        await store.MarkDeletingAsync(app, [id], Ct);
        Assert.True(await store.PurgeInputAsync(app, id, Ct));
    }

    [Fact]
    public async Task Purging_the_only_input_of_an_upload_deletes_its_blob()
    {
        var (key, bytes) = await PutAsync("upload");
        await AddUploadAsync(Inputs, _app, "i1", key, bytes);
        Assert.Equal(key, (await Inputs.GetInputAsync(_app, "i1", Ct))?.SourceBlob);

        await Inputs.MarkDeletingAsync(_app, ["i1"], Ct);
        Assert.True(await Blobs.ExistsAsync(key, Ct));
        Assert.True(await Inputs.PurgeInputAsync(_app, "i1", Ct));
        Assert.False(await Blobs.ExistsAsync(key, Ct));
    }

    [Fact]
    public async Task A_blob_shared_by_inputs_of_two_apps_stays_until_the_last_goes()
    {
        var other = NewApp();
        var (key, bytes) = await PutAsync("shared");
        await AddUploadAsync(Inputs, _app, "mine", key, bytes);
        await AddUploadAsync(Inputs, other, "theirs", key, bytes);

        await DeleteAsync(Inputs, _app, "mine");
        Assert.True(await Blobs.ExistsAsync(key, Ct));
        await DeleteAsync(Inputs, other, "theirs");
        Assert.False(await Blobs.ExistsAsync(key, Ct));
    }

    [Fact]
    public async Task Processed_images_and_thumbnails_count_as_references()
    {
        var (source, sourceBytes) = await PutAsync("source");
        var (processed, _) = await PutAsync("processed");
        var (thumb, thumbBytes) = await PutAsync("thumb");
        await AddUploadAsync(Inputs, _app, "img", source, sourceBytes);
        Assert.True(await Inputs.CompleteImageAsync(_app, "img", processed, thumb, 10, 10, "PNG", "RGB", Ct));
        // Another input whose upload happens to be the same bytes as the thumbnail.
        await AddUploadAsync(Inputs, _app, "copy", thumb, thumbBytes);

        await DeleteAsync(Inputs, _app, "img");
        Assert.False(await Blobs.ExistsAsync(source, Ct));
        Assert.False(await Blobs.ExistsAsync(processed, Ct));
        Assert.True(await Blobs.ExistsAsync(thumb, Ct));
    }

    [Fact]
    public async Task Releasing_uploads_deletes_only_the_unreferenced_ones()
    {
        var (used, usedBytes) = await PutAsync("used");
        var (orphan, _) = await PutAsync("orphan");
        await AddUploadAsync(Inputs, _app, "i1", used, usedBytes);

        await Inputs.ReleaseBlobsAsync([used, orphan], Ct);
        Assert.True(await Blobs.ExistsAsync(used, Ct));
        Assert.False(await Blobs.ExistsAsync(orphan, Ct));
    }

    [Fact]
    public async Task Purging_an_app_deletes_its_blobs_but_not_those_another_app_references()
    {
        var other = NewApp();
        var (own, ownBytes) = await PutAsync("own");
        var (shared, sharedBytes) = await PutAsync("shared");
        await AddUploadAsync(Inputs, _app, "a", own, ownBytes);
        await AddUploadAsync(Inputs, _app, "b", shared, sharedBytes);
        await AddUploadAsync(Inputs, other, "c", shared, sharedBytes);

        await Inputs.PurgeAppAsync(_app, Ct);
        Assert.False(await Blobs.ExistsAsync(own, Ct));
        Assert.True(await Blobs.ExistsAsync(shared, Ct));
    }

    [Fact]
    public async Task An_add_whose_upload_was_purged_meanwhile_writes_the_bytes_again()
    {
        var (key, bytes) = await PutAsync("vanishing");
        await Blobs.DeleteAsync(key, Ct);

        await AddUploadAsync(Inputs, _app, "late", key, bytes);
        Assert.Equal(bytes, await Blobs.GetAsync(key, Ct));
    }

    [Fact]
    public async Task Completing_an_image_whose_blob_vanished_fails_so_the_worker_retries()
    {
        await Inputs.AddInputsAsync(_app, [Input("img")], null, Ct);
        var (key, _) = await PutAsync("gone");
        await Blobs.DeleteAsync(key, Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Inputs.CompleteImageAsync(_app, "img", key, key, 1, 1, "PNG", "RGB", Ct));
        Assert.Null((await Inputs.GetInputAsync(_app, "img", Ct))?.BlobKey);
    }

    [Fact]
    public async Task An_add_racing_a_purge_of_the_same_bytes_ends_with_the_file_present()
    {
        var second = SecondNode();
        for (var round = 0; round < 15; round++)
        {
            var (key, bytes) = await PutAsync("race");
            await AddUploadAsync(Inputs, _app, "old" + round, key, bytes);
            await Inputs.MarkDeletingAsync(_app, ["old" + round], Ct);

            var r = round;
            await Task.WhenAll(
                Task.Run(() => Inputs.PurgeInputAsync(_app, "old" + r, Ct), Ct),
                Task.Run(async () =>
                {
                    // The API writes the upload first, then adds the input that references it.
                    await Blobs.PutAsync(bytes, Ct);
                    await AddUploadAsync(second, _app, "new" + r, key, bytes);
                }, Ct));

            Assert.Equal(key, (await Inputs.GetInputAsync(_app, "new" + round, Ct))?.SourceBlob);
            Assert.Equal(bytes, await Blobs.GetAsync(key, Ct));
        }
    }
}

public sealed class SqliteBlobReferenceTests(StoreFixture<SqliteBackend> fixture)
    : BlobReferenceTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresBlobReferenceTests(StoreFixture<PostgresBackend> fixture)
    : BlobReferenceTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
