using System.Security.Cryptography;
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
using Microsoft.Extensions.Logging;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// HNSW snapshots: the first search of an app builds its graph and writes a snapshot to the blob store; a restarted node
/// (a fresh set of indexes over the same store) restores the snapshot instead of rebuilding, and applies the inputs
/// indexed after it from the change log.
/// </summary>
public abstract class SnapshotTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : SearchFixture
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

        // The graph was streamed into the blob store: its key is the SHA-256 of the blob's bytes, which hold the graph.
        var blobs = Assert.IsType<FileBlobStore>(services.GetRequiredService<IBlobStore>());
        var bytes = await File.ReadAllBytesAsync(blobs.PathOf(snapshot.Value.BlobKey));
        Assert.Equal(snapshot.Value.BlobKey, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(first.Count, services.GetRequiredService<SearchOptions>().RestoreIndex(new MemoryStream(bytes))!.Count);

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

    [Fact]
    public async Task A_snapshot_the_blob_store_cannot_write_is_logged_and_the_search_still_answers()
    {
        var app = new AppRef("admin", SearchFixture.AppId);
        var services = iris.Server.Services;
        var embedder = (await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!;
        var store = services.GetRequiredService<IInputIndexStore>();
        var options = services.GetRequiredService<SearchOptions>();

        // A real file blob store whose directory has since become a file: every write fails with an IOException.
        var root = Path.Combine(Path.GetTempPath(), "iris-blobs-" + Guid.NewGuid().ToString("N"));
        var broken = new FileBlobStore(root);
        Directory.Delete(root);
        await File.WriteAllTextAsync(root, "not a directory");
        try
        {
            var node = new VectorIndexes(store, broken, services.GetRequiredService<ILogger<VectorIndexes>>())
            {
                Factory = options.NewIndex,
                Restore = _ => null, // rebuild from the store, so the load ends with a snapshot attempt
            };
            var index = await node.GetAsync(app, embedder.Descriptor.VersionId, default);

            Assert.Equal((0, 1), (node.LoadsFromSnapshot, node.LoadsFromStore));
            var stored = await store.FindEmbeddingAsync(app, "p1", default);
            Assert.Equal("p1", index.Search(stored!.Vector, 1, null)[0].Key);
            Assert.Contains(iris.Logs.Messages, m => m.StartsWith($"The vector index snapshot of app admin/{SearchFixture.AppId} could not be written", StringComparison.Ordinal));
            Assert.Equal("not a directory", await File.ReadAllTextAsync(root));
        }
        finally
        {
            File.Delete(root);
        }
    }

    [Fact]
    public async Task A_snapshot_that_cannot_be_read_whole_is_logged_and_the_index_is_rebuilt_from_the_store()
    {
        var app = new AppRef("admin", SearchFixture.AppId);
        var services = iris.Server.Services;
        var embedder = (await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!;
        var store = services.GetRequiredService<IInputIndexStore>();
        var options = services.GetRequiredService<SearchOptions>();
        await services.GetRequiredService<VectorIndexes>().GetAsync(app, embedder.Descriptor.VersionId, default);
        var snapshot = await store.FindSnapshotAsync(app, embedder.Descriptor.VersionId, default);
        Assert.NotNull(snapshot);

        // The blob as a damaged disk would return it: its first kilobyte, then the end of the stream.
        var node = new VectorIndexes(store, services.GetRequiredService<IBlobStore>(), services.GetRequiredService<ILogger<VectorIndexes>>())
        {
            Factory = options.NewIndex,
            Restore = stream =>
            {
                var head = new byte[1024];
                stream.ReadExactly(head);
                return options.RestoreIndex(new MemoryStream(head));
            },
        };
        var index = await node.GetAsync(app, embedder.Descriptor.VersionId, default);

        Assert.Equal((0, 1), (node.LoadsFromSnapshot, node.LoadsFromStore));
        Assert.Equal((await store.LoadAllAsync(app, embedder.Descriptor.VersionId, default)).Vectors.Count, index.Count);
        var stored = await store.FindEmbeddingAsync(app, "p2", default);
        Assert.Equal("p2", index.Search(stored!.Vector, 1, null)[0].Key);
        Assert.Contains(iris.Logs.Messages, m => m.StartsWith($"The vector index snapshot {snapshot.Value.BlobKey} of app admin/{SearchFixture.AppId} could not be read", StringComparison.Ordinal));
    }
}

public sealed class SnapshotTestsOnSqlite(HnswSearchFixture iris) : SnapshotTests<HnswSearchFixture>(iris);

public sealed class SnapshotTestsOnPostgres(PostgresHnswSearchFixture iris) : SnapshotTests<PostgresHnswSearchFixture>(iris);
