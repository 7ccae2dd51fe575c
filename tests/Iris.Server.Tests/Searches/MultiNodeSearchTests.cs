using System.Diagnostics;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Net.Client;
using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Search.Index;
using Iris.Server.Hosting;
using Iris.Server.Searches;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// Two Iris nodes on one PostgreSQL database (and one blob directory): an input added and processed through one node is
/// found by a visual search on the other within a second, and its deletion through the first node removes it from the
/// other's results at once; neither node rebuilds its index to see it (both follow the store's change log). A node
/// writing a snapshot of its graph sees the other's new input within a second too.
/// </summary>
public sealed class MultiNodeSearchTests(PostgresSearchFixture iris) : IClassFixture<PostgresSearchFixture>, IAsyncLifetime
{
    private readonly CapturedLogs _logs = new();
    private IrisServer _second = null!;
    private GrpcChannel _channel = null!;
    private V2.V2Client _other = null!;

    public async Task InitializeAsync()
    {
        _second = IrisServer.Create(iris.SameStoreOptions(), logging => logging.AddProvider(_logs));
        await _second.StartAsync();
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_second.GrpcPort}", new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
        _other = new V2.V2Client(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _second.StopAsync();
        await _second.DisposeAsync();
        Assert.Empty(_logs.Errors);
        Assert.Empty(iris.Logs.Errors);
    }

    // Posts photo 0 as "new" through the first node, and searches by it on client's node until two hits come back or a
    // second has passed since it was processed: what that node answers then.
    private async Task<List<string>> PostNewAndSearchForASecondAsync(V2.V2Client client, string appId)
    {
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        post.Inputs.Add(SearchFixture.Photo("new", FixtureImages.Photos[0]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(appId, "new");
        var clock = Stopwatch.StartNew();
        List<string> seen;
        while ((seen = await SearchAsync(client, appId, FixtureImages.Photos[0])).Count < 2 && clock.Elapsed < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(20);
        }

        return seen;
    }

    private static async Task<List<string>> SearchAsync(V2.V2Client client, string appId, byte[] photo)
    {
        var request = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(appId), Pagination = new Pagination { PerPage = 10 } };
        request.Searches.Add(new SearchMessage
        {
            Query = new Query { Ranks = { new Rank { Annotation = new Annotation { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(photo) } } } } } },
        });
        var response = await client.PostInputsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return [.. response.Hits.Select(h => h.Input.Id)];
    }

    [Fact]
    public async Task A_second_node_sees_a_new_input_within_a_second_and_a_deletion_at_once()
    {
        var appId = await iris.CreateAppAsync("two-nodes");
        var first = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        first.Inputs.Add(SearchFixture.Photo("old", FixtureImages.Photos[1]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(first, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(appId, "old");
        Assert.Equal(["old"], await SearchAsync(_other, appId, FixtureImages.Photos[0])); // the second node's index is loaded now

        Assert.Equal(["new", "old"], await PostNewAndSearchForASecondAsync(_other, appId));

        var delete = new DeleteInputsRequest { UserAppId = InputsFixture.App(appId), Ids = { "new" } };
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteInputsAsync(delete, IrisFixture.PatMetadata)).Status.Code);
        Assert.Equal(["old"], await SearchAsync(_other, appId, FixtureImages.Photos[0]));
    }

    [Fact]
    public async Task A_second_node_sees_a_new_input_within_a_second_while_it_writes_a_snapshot_of_its_graph()
    {
        var appId = await iris.CreateAppAsync("two-nodes-snapshot");
        var app = new AppRef("admin", appId);
        var first = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        first.Inputs.Add(SearchFixture.Photo("old", FixtureImages.Photos[1]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(first, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(appId, "old");

        // A node whose indexes are HNSW graphs, snapshotted to the shared blob directory; its snapshot of the app is held
        // open inside its write (the graph's read lock held) until released.
        var graphNode = IrisServer.Create(iris.SameStoreOptions(), logging => logging.AddProvider(_logs), services => services.AddSingleton(new SearchOptions { Index = "hnsw" }));
        await graphNode.StartAsync();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{graphNode.GrpcPort}", new GrpcChannelOptions { MaxSendMessageSize = 64 << 20 });
        var client = new V2.V2Client(channel);
        var indexes = graphNode.Services.GetRequiredService<VectorIndexes>();
        var version = (await graphNode.Services.GetRequiredService<IBaseWorkflows>().ForAppAsync(app, default)).Embedder!.Descriptor.VersionId;
        using var held = new HeldSnapshot(indexes, app, version);
        try
        {
            Assert.Equal(["old"], await SearchAsync(client, appId, FixtureImages.Photos[0])); // loads the graph, starts its snapshot
            held.AssertWriting();

            Assert.Equal(["new", "old"], await PostNewAndSearchForASecondAsync(client, appId));
            Assert.True(held.Held);
        }
        finally
        {
            await held.ReleaseAsync();
        }

        try
        {
            var graph = Assert.IsType<HnswIndex>(await indexes.GetAsync(app, version, default));
            Assert.True(graph.Contains("new"));
            Assert.Equal(["new", "old"], await SearchAsync(client, appId, FixtureImages.Photos[0]));
        }
        finally
        {
            await graphNode.StopAsync();
            await graphNode.DisposeAsync();
        }
    }
}
