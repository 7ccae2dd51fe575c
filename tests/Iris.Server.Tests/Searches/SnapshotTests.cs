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
        await indexes.SnapshotWrittenAsync(app, embedder.Descriptor.VersionId); // written in the background
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
    public async Task What_arrives_while_a_snapshot_is_written_joins_results_at_once_and_reaches_the_graph_after_the_write()
    {
        var services = iris.Server.Services;
        var appId = await iris.CreateAppAsync("snap-write-" + Guid.NewGuid().ToString("N")[..8]);
        var app = new AppRef("admin", appId);
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        post.Inputs.Add(SearchFixture.Photo("s0", FixtureImages.Photos[0], concept: ("train", 1f)));
        post.Inputs.Add(SearchFixture.Photo("s1", FixtureImages.Photos[1], concept: ("bus", 1f)));
        post.Inputs.Add(SearchFixture.Photo("s2", FixtureImages.Photos[2], concept: ("train", 1f)));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        foreach (var id in new[] { "s0", "s1", "s2" })
        {
            await iris.WaitProcessedAsync(appId, id);
        }

        var models = await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default);
        var version = models.Embedder!.Descriptor.VersionId;
        var store = services.GetRequiredService<IInputIndexStore>();
        var blobs = services.GetRequiredService<IBlobStore>();
        var indexes = services.GetRequiredService<VectorIndexes>();
        var before = await store.VersionAsync(app, default);
        var s0 = (await store.FindEmbeddingAsync(app, "s0", default))!.Vector;
        var s1 = (await store.FindEmbeddingAsync(app, "s1", default))!.Vector;

        // The server's snapshot of this app stops inside its write, with the graph's read lock held, until released.
        using var held = new HeldSnapshot(indexes, app, version);
        OverlayIndex overlay;
        try
        {
            // The first search loads the index and starts its snapshot; it answers without waiting for the write.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Assert.Equal("s0", (await SearchAsync(appId, "s0", null, deadline.Token))[0]);
            held.AssertWriting();

            // While it is being written: searches of the app answer, filtered or not.
            var during = await SearchAsync(appId, "s1", null, deadline.Token);
            Assert.Equal("s1", during[0]);
            Assert.Equal(["s0", "s1", "s2"], during.Order(StringComparer.Ordinal));
            Assert.Equal(["s2", "s0"], await SearchAsync(appId, "s2", "train", deadline.Token));

            // An input indexed meanwhile joins results at once: by its vector, and filtered by a set that holds it or not.
            var late = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
            late.Inputs.Add(SearchFixture.Photo("s3", FixtureImages.Photos[3], concept: ("train", 1f)));
            Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(late, IrisFixture.PatMetadata, cancellationToken: deadline.Token)).Status.Code);
            await iris.WaitProcessedAsync(appId, "s3");
            var found = await HitsAsync(appId, ByInput("s3"), null, deadline.Token);
            Assert.Equal(("s3", 4), (found[0].Id, found.Count));
            Assert.True(found[0].Score > 0.999f, $"s3 scored {found[0].Score}");
            Assert.Equal("s3", (await SearchAsync(appId, "s3", "train", deadline.Token))[0]);
            Assert.Equal(["s0", "s2", "s3"], (await SearchAsync(appId, "s0", "train", deadline.Token)).Order(StringComparer.Ordinal));
            Assert.Equal(["s1"], await SearchAsync(appId, "s3", "bus", deadline.Token));

            // A re-embedded input (stored again with another vector, as the indexer does) appears once, with its new score.
            var concepts = await store.FindConceptsAsync(app, "s1", deadline.Token);
            await store.SaveAsync(app, "s1", models.Embedder.Descriptor.Id, version, s0, concepts, models.Concepts?.Descriptor.VersionId ?? string.Empty, deadline.Token);
            var bySame = await HitsAsync(appId, ByVector(s0), null, deadline.Token);
            Assert.Equal(["s0", "s1"], bySame.Take(2).Select(h => h.Id).Order(StringComparer.Ordinal));
            Assert.All(bySame.Take(2), h => Assert.True(h.Score > 0.999f, $"{h.Id} scored {h.Score}"));
            Assert.Equal(4, bySame.Count);
            var byOld = await HitsAsync(appId, ByVector(s1), null, deadline.Token);
            Assert.Single(byOld, h => h.Id == "s1");
            Assert.True(byOld.Single(h => h.Id == "s1").Score < 0.99f, "s1's stale vector still answers");
            Assert.Equal(byOld.Single(h => h.Id == "s0").Score, byOld.Single(h => h.Id == "s1").Score, 4);
            Assert.Equal(["s1"], await SearchAsync(appId, "s3", "bus", deadline.Token));

            // A deleted input leaves results at once, and the index drops it when its purge reaches the change log.
            var delete = new DeleteInputsRequest { UserAppId = InputsFixture.App(appId), Ids = { "s2" } };
            Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteInputsAsync(delete, IrisFixture.PatMetadata, cancellationToken: deadline.Token)).Status.Code);
            Assert.Equal(["s0", "s1", "s3"], (await SearchAsync(appId, "s0", null, deadline.Token)).Order(StringComparer.Ordinal));
            IVectorIndex view;
            while ((view = await indexes.GetAsync(app, version, deadline.Token)).Contains("s2"))
            {
                await Task.Delay(50, deadline.Token);
            }

            Assert.Equal(3, view.Count);
            Assert.Equal(["s0", "s3"], (await SearchAsync(appId, "s0", "train", deadline.Token)).Order(StringComparer.Ordinal));

            // None of it went into the graph, which the snapshot is being written from.
            Assert.True(held.Held);
            overlay = Assert.IsType<OverlayIndex>(view);
            Assert.Equal(3, overlay.Base.Count);
            Assert.False(overlay.Base.Contains("s3"));
        }
        finally
        {
            await held.ReleaseAsync();
        }

        // The snapshot is recorded with the version it reflects (before s3), and the write's task has moved the changes
        // since into the graph; the next look drops the overlay.
        var snapshot = await store.FindSnapshotAsync(app, version, default);
        Assert.NotNull(snapshot);
        Assert.Equal(before, snapshot.Value.Version);
        Assert.Equal(0, overlay.Unmoved);
        AssertChanged(overlay.Base, s0);
        AssertChanged(overlay, s0);
        var graph = Assert.IsType<HnswIndex>(await indexes.GetAsync(app, version, default));
        Assert.Same(overlay.Base, graph);
        AssertChanged(graph, s0);
        Assert.Equal("s3", (await SearchAsync(appId, "s3", null, default))[0]);
        Assert.Equal(["s0", "s3"], (await SearchAsync(appId, "s0", "train", default)).Order(StringComparer.Ordinal));

        // The next snapshot of the graph holds them.
        var options = services.GetRequiredService<SearchOptions>();
        using (var next = new MemoryStream())
        {
            graph.WriteSnapshot(next);
            next.Position = 0;
            AssertChanged(options.RestoreIndex(next)!, s0);
        }

        // A restarted node restores the recorded snapshot and replays the changes from the change log: nothing is lost.
        var restarted = new VectorIndexes(store, blobs) { Factory = options.NewIndex, Restore = options.RestoreIndex };
        var restored = await restarted.GetAsync(app, version, default);
        Assert.Equal((1, 0), (restarted.LoadsFromSnapshot, restarted.LoadsFromStore));
        AssertChanged(restored, s0);

        // A newer snapshot (a node that rebuilt from the store) replaces it, and the replaced blob is deleted.
        var rebuilt = new VectorIndexes(store, blobs) { Factory = options.NewIndex, Restore = _ => null };
        AssertChanged(await rebuilt.GetAsync(app, version, default), s0);
        await rebuilt.SnapshotWrittenAsync(app, version);
        var newer = await store.FindSnapshotAsync(app, version, default);
        Assert.NotNull(newer);
        Assert.True(newer.Value.Version > before);
        Assert.NotEqual(snapshot.Value.BlobKey, newer.Value.BlobKey);
        Assert.False(await blobs.ExistsAsync(snapshot.Value.BlobKey, default));
        Assert.True(await blobs.ExistsAsync(newer.Value.BlobKey, default));
    }

    // The index after the changes made during the write: s3 added, s1 re-embedded with s0's vector, s2 removed; once each.
    private static void AssertChanged(IVectorIndex index, float[] s0)
    {
        Assert.Equal(3, index.Count);
        Assert.True(index.Contains("s3"));
        Assert.False(index.Contains("s2"));
        Assert.True(index.TrySimilarity(s0, "s1", out var cosine));
        Assert.Equal(1f, cosine, 4);
        Assert.Equal(["s0", "s1", "s3"], index.Search(s0, 10, null).Select(n => n.Key).Order(StringComparer.Ordinal));
    }

    private static Rank ByInput(string inputId) => new() { Annotation = new Annotation { InputId = inputId } };

    private static Rank ByVector(float[] vector) => new() { Annotation = new Annotation { Data = new Data { Embeddings = { new Embedding { Vector = { vector } } } } } };

    // The ids of a search ranked by a stored input's embedding, optionally filtered by a label, most similar first.
    private async Task<List<string>> SearchAsync(string appId, string byInput, string? label, CancellationToken cancellationToken) =>
        [.. (await HitsAsync(appId, ByInput(byInput), label, cancellationToken)).Select(h => h.Id)];

    private async Task<List<(string Id, float Score)>> HitsAsync(string appId, Rank rank, string? label, CancellationToken cancellationToken)
    {
        var query = new Query { Ranks = { rank } };
        if (label is not null)
        {
            query.Filters.Add(new Filter { Annotation = new Annotation { Data = new Data { Concepts = { new Concept { Id = label, Value = 1 } } } } });
        }

        var request = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(appId), Pagination = new Pagination { Page = 1, PerPage = 10 } };
        request.Searches.Add(new Clarifai.Api.Search { Query = query });
        var response = await iris.Grpc.PostInputsSearchesAsync(request, IrisFixture.PatMetadata, cancellationToken: cancellationToken);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return [.. response.Hits.Select(h => (h.Input.Id, h.Score))];
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
            await node.SnapshotWrittenAsync(app, embedder.Descriptor.VersionId);

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
        await services.GetRequiredService<VectorIndexes>().SnapshotWrittenAsync(app, embedder.Descriptor.VersionId);
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
