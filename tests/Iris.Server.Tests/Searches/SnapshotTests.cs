using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Search.Index;
using Iris.Server.Searches;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Iris.Storage.Blobs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// HNSW snapshots: the first search of an app builds its graph and writes a snapshot to the blob store; a restarted node
/// (a fresh set of indexes over the same store) restores the snapshot instead of rebuilding, and applies the inputs
/// indexed after it from the change log.
/// </summary>
public sealed class SnapshotTests(HnswSearchFixture iris) : IClassFixture<HnswSearchFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task A_restarted_node_restores_the_graph_and_applies_the_changes_after_the_snapshot()
    {
        var app = new AppRef("admin", SearchFixture.AppId);
        var services = iris.Server.Services;
        var embedder = (await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!;
        var store = services.GetRequiredService<IInputIndexStore>();
        var indexes = services.GetRequiredService<VectorIndexes>();
        var first = await indexes.GetAsync(app, embedder.Descriptor.VersionId, default);
        Assert.IsType<HnswIndex>(first);
        var snapshot = await store.FindSnapshotAsync(app, embedder.Descriptor.VersionId, default);
        Assert.NotNull(snapshot);

        var post = new PostInputsRequest { UserAppId = InputsFixture.App(SearchFixture.AppId) };
        post.Inputs.Add(SearchFixture.Photo("late", FixtureImages.Photos[4]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(SearchFixture.AppId, "late");

        var options = services.GetRequiredService<SearchOptions>();
        var restarted = new VectorIndexes(store, services.GetRequiredService<IBlobStore>()) { Factory = options.NewIndex, Restore = options.RestoreIndex };
        var index = await restarted.GetAsync(app, embedder.Descriptor.VersionId, default);

        Assert.Equal((1, 0), (restarted.LoadsFromSnapshot, restarted.LoadsFromStore));
        Assert.Equal(6, index.Count); // five photos from the snapshot, "late" from the log
        Assert.True(index.Contains("late"));
        var stored = await store.FindEmbeddingAsync(app, "p0", default);
        Assert.Equal("p0", index.Search(stored!.Vector, 1, null)[0].Key);
    }
}
