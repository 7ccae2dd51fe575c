using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Search.Index;
using Iris.Server.Searches;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Iris.Storage.Blobs;
using Iris.Storage.Jobs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// Pruning the vector change log loses no change: a node whose index is behind the pruned point (it last searched
/// before inserts and a delete whose log entries were pruned) reloads from the store and answers with all of them. The
/// pruning job is queued once for the cluster.
/// </summary>
public abstract class ChangeLogPruningTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : SearchFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private async Task AddAsync(string appId, params (string Id, int Photo)[] inputs)
    {
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        post.Inputs.Add(inputs.Select(i => SearchFixture.Photo(i.Id, FixtureImages.Photos[i.Photo])));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        foreach (var (id, _) in inputs)
        {
            Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(appId, id)).Status.Code);
        }
    }

    [Fact]
    public async Task A_node_behind_the_pruned_point_reloads_from_the_store_and_misses_no_change()
    {
        var services = iris.Server.Services;
        var appId = await iris.CreateAppAsync("search-prune-" + Guid.NewGuid().ToString("N")[..8]);
        var app = new AppRef("admin", appId);
        var store = services.GetRequiredService<IInputIndexStore>();
        var version = (await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!.Descriptor.VersionId;
        var options = services.GetRequiredService<SearchOptions>();
        var node = new VectorIndexes(store, services.GetRequiredService<IBlobStore>()) { Factory = options.NewIndex, Restore = options.RestoreIndex };

        await AddAsync(appId, ("a", 0));
        Assert.Equal(1, (await node.GetAsync(app, version, default)).Count);
        var seen = await store.VersionAsync(app, default);

        await AddAsync(appId, ("b", 1), ("c", 2));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteInputsAsync(new DeleteInputsRequest { UserAppId = InputsFixture.App(appId), Ids = { "a" } }, IrisFixture.PatMetadata)).Status.Code);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await store.FindEmbeddingAsync(app, "a", default) is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "input a was not purged within 30 s");
            await Task.Delay(50);
        }

        Assert.True(await store.PruneChangesAsync(TimeSpan.Zero, default) >= 3);
        Assert.True((await store.ChangesSinceAsync(app, seen, default)).Reset);

        var index = await node.GetAsync(app, version, default);
        Assert.Equal(2, index.Count);
        Assert.True(index.Contains("b") && index.Contains("c") && !index.Contains("a"));
        Assert.Equal(2, node.LoadsFromStore + node.LoadsFromSnapshot);
        Assert.Equal(1, await services.GetRequiredService<JobQueue>().CountAsync(SearchJobKinds.PruneVectorLog, default));
    }
}

public sealed class ChangeLogPruningTestsOnSqlite(SearchFixture iris) : ChangeLogPruningTests<SearchFixture>(iris);

public sealed class ChangeLogPruningTestsOnPostgres(PostgresSearchFixture iris) : ChangeLogPruningTests<PostgresSearchFixture>(iris);

/// <summary>DeleteApp takes the app's index snapshot out of the blob store (with the HNSW engine, which snapshots).</summary>
public sealed class SnapshotPurgeTests(HnswSearchFixture iris) : IClassFixture<HnswSearchFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task Deleting_an_app_deletes_its_snapshot_blob()
    {
        var services = iris.Server.Services;
        var appId = await iris.CreateAppAsync("search-purge-" + Guid.NewGuid().ToString("N")[..8]);
        var app = new AppRef("admin", appId);
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        post.Inputs.Add(SearchFixture.Photo("a", FixtureImages.Photos[0]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(appId, "a");
        var version = (await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!.Descriptor.VersionId;
        await services.GetRequiredService<VectorIndexes>().GetAsync(app, version, default);
        await services.GetRequiredService<VectorIndexes>().SnapshotWrittenAsync(app, version); // written in the background
        var snapshot = await services.GetRequiredService<IInputIndexStore>().FindSnapshotAsync(app, version, default);
        Assert.NotNull(snapshot);
        var blobs = services.GetRequiredService<IBlobStore>();
        Assert.True(await blobs.ExistsAsync(snapshot.Value.BlobKey, default));

        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteAppAsync(new DeleteAppRequest { UserAppId = InputsFixture.App(appId) }, IrisFixture.PatMetadata)).Status.Code);
        // The purge job deletes the blob, then the row, in its own time.
        var store = services.GetRequiredService<IInputIndexStore>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await store.FindSnapshotAsync(app, version, default) is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the snapshot row is still there 30 s after DeleteApp");
            await Task.Delay(50);
        }

        Assert.False(await blobs.ExistsAsync(snapshot.Value.BlobKey, default));
    }
}
