using Clarifai.Api;
using Google.Protobuf;
using Grpc.Net.Client;
using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Search.Index;
using Iris.Server.Hosting;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// The auto engine in a server whose threshold is <see cref="AutoSearchFixture.Threshold"/> vectors: an app at the
/// threshold answers exactly; inputs added past it switch its index to a graph built in the background; searches answer
/// the exact order before and after, pages continue each other over gRPC and REST, with and without a filter; the graph
/// is snapshotted at the switch and a second server started on the same store restores it, while a small app loads exact.
/// </summary>
public abstract class AutoSwitchTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : AutoSearchFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private static string Id(int i) => "a" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture);

    // Inputs Id(from) … Id(to − 1): photo i % 5, every even one labelled "even".
    private async Task AddAsync(string appId, int from, int to)
    {
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        for (var i = from; i < to; i++)
        {
            post.Inputs.Add(SearchFixture.Photo(Id(i), FixtureImages.Photos[i % 5], concept: i % 2 == 0 ? ("even", 1f) : null));
        }

        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        foreach (var input in post.Inputs)
        {
            Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(appId, input.Id)).Status.Code);
        }
    }

    private static async Task<(AutoIndex Index, string Version)> IndexAsync(IServiceProvider services, string appId)
    {
        var app = new AppRef("admin", appId);
        var version = (await services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!.Descriptor.VersionId;
        var index = await services.GetRequiredService<VectorIndexes>().GetAsync(app, version, default);
        return (Assert.IsType<AutoIndex>(index), version);
    }

    private static Query ByInput(string inputId, bool evenOnly = false)
    {
        var query = new Query { Ranks = { new Rank { Annotation = new Annotation { InputId = inputId } } } };
        if (evenOnly)
        {
            var labels = new Data();
            labels.Concepts.Add(new Concept { Id = "even", Value = 1 });
            query.Filters.Add(new Filter { Annotation = new Annotation { Data = labels } });
        }

        return query;
    }

    // The input ids in the order an exact float scan of the stored embeddings ranks them for inputId's embedding
    // (cosine descending, equal cosines by id), among the ids passing the filter.
    private async Task<List<string>> ExactOrderAsync(string appId, string inputId, IEnumerable<string> ids)
    {
        var store = iris.Server.Services.GetRequiredService<IInputIndexStore>();
        var app = new AppRef("admin", appId);
        var exact = new ExactIndex();
        foreach (var id in ids)
        {
            exact.Upsert(id, (await store.FindEmbeddingAsync(app, id, default))!.Vector);
        }

        var query = (await store.FindEmbeddingAsync(app, inputId, default))!.Vector;
        return [.. exact.Search(query, exact.Count, null).OrderByDescending(n => n.Cosine).ThenBy(n => n.Key, StringComparer.Ordinal).Select(n => n.Key)];
    }

    [Fact]
    public async Task Results_stay_exact_across_the_switch_and_pages_continue_each_other_on_the_graph()
    {
        var appId = await iris.CreateAppAsync("auto-switch-" + Guid.NewGuid().ToString("N")[..8]);
        await AddAsync(appId, 0, AutoSearchFixture.Threshold);

        // At the threshold: exact, no build; the order is the exact scan's.
        var (index, _) = await IndexAsync(iris.Server.Services, appId);
        Assert.Equal(AutoSearchFixture.Threshold, index.Count);
        var small = Enumerable.Range(0, AutoSearchFixture.Threshold).Select(Id).ToList();
        var before = await InputSearchPages.GrpcAsync(iris.Grpc, appId, ByInput("a01"), 1, 100);
        Assert.Null(index.Graph);
        Assert.False(index.Building);
        Assert.Equal(await ExactOrderAsync(appId, "a01", small), before.Select(h => h.Input));

        // Six more: the next look at the index applies them and starts the build in the background; once it has
        // swapped, the graph serves and the order is still the exact scan's, the old hits scoring as before.
        await AddAsync(appId, AutoSearchFixture.Threshold, 2 * AutoSearchFixture.Threshold);
        (index, _) = await IndexAsync(iris.Server.Services, appId);
        await index.BuildDone;
        Assert.Equal((1, 0), (index.Switches, index.BuildFailures));
        Assert.NotNull(index.Graph);
        Assert.Equal(2 * AutoSearchFixture.Threshold, index.Count);
        Assert.Contains(iris.Logs.Messages, m => m.StartsWith($"A vector index passed {AutoSearchFixture.Threshold} vectors and now answers from an HNSW graph of {2 * AutoSearchFixture.Threshold} vectors", StringComparison.Ordinal));

        var all = Enumerable.Range(0, 2 * AutoSearchFixture.Threshold).Select(Id).ToList();
        var after = await InputSearchPages.AssertWalkTheBigPageAsync(all.Count, (page, perPage) => InputSearchPages.GrpcAsync(iris.Grpc, appId, ByInput("a01"), page, perPage));
        Assert.Equal(await ExactOrderAsync(appId, "a01", all), after.Select(h => h.Input));
        foreach (var (input, score) in before)
        {
            Assert.Equal(score, after.Single(h => h.Input == input).Score, 5);
        }

        // A filter (the even half) and another rank, over gRPC and REST: the same exact orders, page by page.
        var evens = all.Where((_, i) => i % 2 == 0).ToList();
        var filtered = await InputSearchPages.AssertWalkTheBigPageAsync(evens.Count, (page, perPage) => InputSearchPages.GrpcAsync(iris.Grpc, appId, ByInput("a03", evenOnly: true), page, perPage));
        Assert.Equal(await ExactOrderAsync(appId, "a03", evens), filtered.Select(h => h.Input));
        var rest = await InputSearchPages.AssertWalkTheBigPageAsync(all.Count, (page, perPage) => InputSearchPages.RestAsync(iris.Http, appId, """{"ranks": [{"annotation": {"input_id": "a03"}}]}""", page, perPage));
        Assert.Equal(await ExactOrderAsync(appId, "a03", all), rest.Select(h => h.Input));

        // By image: the photo's three copies (a01, a06, a11) tie at the top, in id order.
        var request = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(appId), Pagination = new Pagination { PerPage = 2 } };
        request.Searches.Add(new SearchMessage { Query = new Query { Ranks = { new Rank { Annotation = new Annotation { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(FixtureImages.Photos[1]) } } } } } } });
        var byImage = await iris.Grpc.PostInputsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, byImage.Status.Code);
        Assert.Equal(["a01", "a06"], byImage.Hits.Select(h => h.Input.Id));
        Assert.True(byImage.Hits[0].Score > 0.95f, $"the photo itself scored {byImage.Hits[0].Score}");
    }

    [Fact]
    public async Task A_second_server_on_the_same_store_restores_the_graph_and_loads_a_small_app_exact()
    {
        var appId = await iris.CreateAppAsync("auto-restart-" + Guid.NewGuid().ToString("N")[..8]);
        await AddAsync(appId, 0, 2 * AutoSearchFixture.Threshold);
        var (index, version) = await IndexAsync(iris.Server.Services, appId);
        await index.BuildDone;
        Assert.NotNull(index.Graph);

        // The first look after the switch writes the graph's snapshot.
        var store = iris.Server.Services.GetRequiredService<IInputIndexStore>();
        await IndexAsync(iris.Server.Services, appId);
        await iris.Server.Services.GetRequiredService<VectorIndexes>().SnapshotWrittenAsync(new AppRef("admin", appId), version); // written in the background
        Assert.NotNull(await store.FindSnapshotAsync(new AppRef("admin", appId), version, default));
        var expected = await InputSearchPages.GrpcAsync(iris.Grpc, appId, ByInput("a02"), 1, 100);

        // One more input after the snapshot: the restarted server finds it in the change log.
        await AddAsync(appId, 2 * AutoSearchFixture.Threshold, (2 * AutoSearchFixture.Threshold) + 1);

        var logs = new CapturedLogs();
        var second = IrisServer.Create(iris.SameStoreOptions(), logging => logging.AddProvider(logs), services => services.AddSingleton(iris.Options));
        await second.StartAsync();
        try
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{second.GrpcPort}");
            var client = new V2.V2Client(channel);
            var hits = await InputSearchPages.GrpcAsync(client, appId, ByInput("a02"), 1, 100);
            var indexes = second.Services.GetRequiredService<VectorIndexes>();
            Assert.Equal((1, 0), (indexes.LoadsFromSnapshot, indexes.LoadsFromStore));
            var (restored, _) = await IndexAsync(second.Services, appId);
            Assert.NotNull(restored.Graph);
            Assert.Equal(0, restored.Switches);
            Assert.False(restored.Building);
            Assert.Equal(expected.Count + 1, hits.Count);
            Assert.Equal(expected.Select(h => h.Input), hits.Select(h => h.Input).Where(id => id != Id(2 * AutoSearchFixture.Threshold)));
            Assert.Equal(await ExactOrderAsync(appId, "a02", Enumerable.Range(0, (2 * AutoSearchFixture.Threshold) + 1).Select(Id)), hits.Select(h => h.Input));

            // The fixture's app (five photo embeddings, under the threshold) has no snapshot: loaded exact, no build.
            var (small, _) = await IndexAsync(second.Services, SearchFixture.AppId);
            Assert.Null(small.Graph);
            Assert.False(small.Building);
            Assert.Equal(5, small.Count);
            Assert.Equal((1, 1), (indexes.LoadsFromSnapshot, indexes.LoadsFromStore));
        }
        finally
        {
            await second.StopAsync();
            await second.DisposeAsync();
        }

        Assert.Empty(logs.Errors);
    }
}

public sealed class AutoSwitchTestsOnSqlite(AutoSearchFixture iris) : AutoSwitchTests<AutoSearchFixture>(iris);

public sealed class AutoSwitchTestsOnPostgres(PostgresAutoSearchFixture iris) : AutoSwitchTests<PostgresAutoSearchFixture>(iris);
