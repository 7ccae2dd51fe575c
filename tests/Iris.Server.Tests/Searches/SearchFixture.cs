using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Identity;
using Iris.Server.Searches;
using Microsoft.Extensions.DependencyInjection;
using Iris.Server.Tests.Inputs;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// A server with one app of five real photos (labels, metadata and geo on three of them) and one text input, all
/// processed by the base workflow (real embeddings and predicted concepts) before the tests run.
/// </summary>
public class SearchFixture : InputsFixture, IAsyncLifetime
{
    public const string AppId = "search";

    /// <summary>New York (Metro-North photo) and two points in Paris, about 6.7 km apart.</summary>
    public static readonly (float Lon, float Lat) Nyc = (-73.98f, 40.75f), Paris = (2.35f, 48.85f), ParisSouth = (2.30f, 48.80f);

    /// <summary>A PAT of another user, who cannot see the app.</summary>
    public string StrangerPat { get; private set; } = string.Empty;

    /// <summary>An API key of the app (scope All), for the short routes.</summary>
    public string AppKey { get; private set; } = string.Empty;

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await using (var admin = await UserAdministration.OpenAsync(DataDir, DatabaseUrl))
        {
            await admin.CreateUserAsync("steve", "Steve", "Stranger", string.Empty);
            StrangerPat = (await admin.CreateTokenAsync("steve", "test")).Secret;
        }

        await CreateAppAsync(AppId);
        var keys = new PostKeysRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        keys.Keys.Add(new Key { Description = "search key", Scopes = { "All" }, Apps = { new App { Id = AppId, UserId = "admin" } } });
        AppKey = (await Grpc.PostKeysAsync(keys, PatMetadata)).Keys.Single().Id;
        var request = new PostInputsRequest { UserAppId = App(AppId) };
        request.Inputs.Add(Photo("p0", FixtureImages.Photos[0], concept: ("train", 1f), metadata: """{"kind": "rail", "city": {"name": "nyc", "borough": "manhattan"}, "tags": ["a", "b"]}""", geo: Nyc));
        request.Inputs.Add(Photo("p1", FixtureImages.Photos[1], concept: ("people", 1f), metadata: """{"kind": "faces"}""", geo: Paris));
        request.Inputs.Add(Photo("p2", FixtureImages.Photos[2], concept: ("train", 0f), metadata: """{"kind": "screen", "city": {"name": "paris"}}""", geo: ParisSouth));
        request.Inputs.Add(Photo("p3", FixtureImages.Photos[3]));
        request.Inputs.Add(Photo("p4", FixtureImages.Photos[4]));
        request.Inputs.Add(new Input { Id = "t0", Data = new Data { Text = new Text { Raw = "a train at a station" } } });
        var response = await Grpc.PostInputsAsync(request, PatMetadata);
        if (response.Status.Code != StatusCode.Success)
        {
            throw new InvalidOperationException($"PostInputs: {response.Status.Code} {response.Status.Details}");
        }

        foreach (var input in request.Inputs)
        {
            var done = await WaitProcessedAsync(AppId, input.Id);
            if (done.Status.Code != StatusCode.InputSuccess)
            {
                throw new InvalidOperationException($"{input.Id}: {done.Status.Code} {done.Status.Details}");
            }
        }
    }

    public static Input Photo(string id, byte[] bytes, (string Id, float Value)? concept = null, string? metadata = null, (float Lon, float Lat)? geo = null)
    {
        var data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(bytes) } };
        if (concept is { } c)
        {
            data.Concepts.Add(new Concept { Id = c.Id, Name = c.Id.ToUpperInvariant(), Value = c.Value });
        }

        if (metadata is not null)
        {
            data.Metadata = Struct.Parser.ParseJson(metadata);
        }

        if (geo is { } g)
        {
            data.Geo = new Geo { GeoPoint = new GeoPoint { Longitude = g.Lon, Latitude = g.Lat } };
        }

        return new Input { Id = id, Data = data };
    }
}

/// <summary>The same photos on PostgreSQL.</summary>
public sealed class PostgresSearchFixture : SearchFixture
{
    protected override bool OnPostgres => true;
}

/// <summary>The same photos on SQLite with the HNSW index behind every search instead of the exact scan.</summary>
public sealed class HnswSearchFixture : SearchFixture
{
    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddSingleton(new SearchOptions { Index = "hnsw" });
    }
}

/// <summary>The same photos on PostgreSQL with the HNSW index behind every search.</summary>
public sealed class PostgresHnswSearchFixture : SearchFixture
{
    protected override bool OnPostgres => true;

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddSingleton(new SearchOptions { Index = "hnsw" });
    }
}

/// <summary>
/// The same photos with the auto engine and a threshold of <see cref="Threshold"/> vectors: the fixture's app (five photo
/// embeddings) stays exact, an app given more switches to a graph.
/// </summary>
public class AutoSearchFixture : SearchFixture
{
    public const int Threshold = 6;

    public SearchOptions Options { get; } = new() { Index = "auto", HnswThreshold = Threshold };

    protected override void ConfigureServices(IServiceCollection services)
    {
        base.ConfigureServices(services);
        services.AddSingleton(Options);
    }
}

/// <summary>The auto engine with a small threshold on PostgreSQL.</summary>
public sealed class PostgresAutoSearchFixture : AutoSearchFixture
{
    protected override bool OnPostgres => true;
}
