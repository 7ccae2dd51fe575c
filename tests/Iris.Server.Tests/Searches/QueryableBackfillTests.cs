using System.Net;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Inputs;
using Iris.Server.Tests.Infrastructure;
using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// A store of the release before the queryable columns: its inputs and annotations are written as that release wrote
/// them (metadata and geo only inside the serialized data), then the server migrates it and starts, which queues the
/// backfill job once for the cluster.
/// </summary>
public class OlderReleaseFixture : IrisFixture
{
    public const string AppId = "legacy";

    protected override async Task PrepareStoreAsync()
    {
        await using var database = Database.Create(DatabaseUrl, DataDir, TimeProvider.System);
        var now = Clock.NowMicros(TimeProvider.System);
        await OlderRelease.MigrateBeforeQueryableColumnsAsync(database, CancellationToken.None);
        await OlderRelease.WriteAppAsync(database, "admin", AppId, now, CancellationToken.None);
        await WriteTextAsync(database, "old-nyc", now, """{"kind": "rail", "city": {"name": "nyc"}}""", (-73.98f, 40.75f));
        await WriteTextAsync(database, "old-paris", now + 1, """{"kind": "faces"}""", (2.35f, 48.85f));
        await WriteTextAsync(database, "old-plain", now + 2, null, null);
    }

    private static Task WriteTextAsync(Database database, string id, long now, string? metadata, (float Lon, float Lat)? geo)
    {
        var annotation = new Data();
        if (metadata is not null)
        {
            annotation.Metadata = Struct.Parser.ParseJson(metadata);
        }

        if (geo is { } g)
        {
            annotation.Geo = new Geo { GeoPoint = new GeoPoint { Longitude = g.Lon, Latitude = g.Lat } };
        }

        var media = new Data { Text = new Text { Raw = "an input of the older release: " + id } };
        return OlderRelease.WriteInputAsync(database, "admin", AppId, id, "text", media.ToByteArray(), annotation.ToByteArray(), now, CancellationToken.None);
    }
}

public sealed class PostgresOlderReleaseFixture : OlderReleaseFixture
{
    protected override bool OnPostgres => true;
}

/// <summary>
/// Nothing stored is lost to search: inputs written before the queryable metadata and geo columns existed are found by
/// metadata and geo filters (both transports) once the start-up backfill job has run, and running it again does nothing.
/// </summary>
public abstract class QueryableBackfillTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : OlderReleaseFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private async Task WaitBackfilledAsync()
    {
        var store = iris.Server.Services.GetRequiredService<IQueryableBackfillStore>();
        var queue = iris.Server.Services.GetRequiredService<JobQueue>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await store.AnyPendingAsync(CancellationToken.None) || await queue.CountAsync(JobKinds.QueryableBackfill, CancellationToken.None) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the backfill job did not finish within 30 s");
            await Task.Delay(50);
        }
    }

    private async Task<List<string>> GrpcFilterAsync(Data data)
    {
        var search = new SearchMessage { Query = new Query() };
        search.Query.Filters.Add(new Filter { Annotation = new Annotation { Data = data } });
        var request = new PostInputsSearchesRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = OlderReleaseFixture.AppId } };
        request.Searches.Add(search);
        var response = await iris.Grpc.PostInputsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        Assert.All(response.Hits, h => Assert.Equal(1f, h.Score));
        return [.. response.Hits.Select(h => h.Input.Id)];
    }

    private async Task<List<string>> RestFilterAsync(string dataJson)
    {
        var body = $$$"""{"searches": [{"query": {"filters": [{"annotation": {"data": {{{dataJson}}}}}]}}]}""";
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{OlderReleaseFixture.AppId}/inputs/searches", body));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        return [.. json.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("input").GetProperty("id").GetString()!)];
    }

    private static Data Near(double lon, double lat, float km) =>
        new() { Geo = new Geo { GeoPoint = new GeoPoint { Longitude = (float)lon, Latitude = (float)lat }, GeoLimit = new GeoLimit { Type = "withinKilometers", Value = km } } };

    [Fact]
    public async Task Inputs_of_the_older_release_are_found_by_metadata_and_geo_after_the_backfill()
    {
        await WaitBackfilledAsync();

        Assert.Equal(["old-nyc"], await GrpcFilterAsync(new Data { Metadata = Struct.Parser.ParseJson("""{"city": {"name": "nyc"}}""") }));
        Assert.Equal(["old-paris", "old-nyc"], await GrpcFilterAsync(new Data { Metadata = Struct.Parser.ParseJson("""{"kind": "faces", "city": {"name": "nyc"}}""") }));
        Assert.Equal(["old-paris"], await GrpcFilterAsync(Near(2.30, 48.80, 10)));
        Assert.Equal(["old-nyc"], await GrpcFilterAsync(Near(-74.0, 40.7, 50)));

        Assert.Equal(["old-nyc"], await RestFilterAsync("""{"metadata": {"kind": "rail"}}"""));
        Assert.Equal(["old-paris"], await RestFilterAsync("""{"geo": {"geo_point": {"longitude": 2.3, "latitude": 48.8}, "geo_limit": {"type": "withinKilometers", "value": 10}}}"""));
        // Empty metadata matches every input that has metadata, newest first; the one without stays out.
        Assert.Equal(["old-paris", "old-nyc"], await RestFilterAsync("""{"metadata": {}}"""));
    }

    [Fact]
    public async Task Running_the_backfill_again_does_nothing()
    {
        await WaitBackfilledAsync();
        var backfill = iris.Server.Services.GetServices<IHostedService>().OfType<QueryableBackfill>().Single();

        Assert.Equal(0, await backfill.FillAllAsync(null, CancellationToken.None));
        // Queued again (the first job is done), it runs and leaves nothing behind.
        Assert.True(await iris.Server.Services.GetRequiredService<JobQueue>().EnqueueClusterJobAsync(JobKinds.QueryableBackfill, JobKinds.ClusterTarget, CancellationToken.None));
        await WaitBackfilledAsync();
        Assert.Equal(["old-nyc"], await GrpcFilterAsync(new Data { Metadata = Struct.Parser.ParseJson("""{"kind": "rail"}""") }));
    }
}

public sealed class QueryableBackfillTestsOnSqlite(OlderReleaseFixture iris) : QueryableBackfillTests<OlderReleaseFixture>(iris);

public sealed class QueryableBackfillTestsOnPostgres(PostgresOlderReleaseFixture iris) : QueryableBackfillTests<PostgresOlderReleaseFixture>(iris);
