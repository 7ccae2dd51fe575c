using System.Net.Http.Headers;
using Clarifai.Api;
using Grpc.Core;
using Grpc.Net.Client;
using Iris.Server.Hosting;
using Iris.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Tests.Infrastructure;

/// <summary>A real Iris server on loopback (free ports, a temporary data directory), with a gRPC channel and an HttpClient.</summary>
public class IrisFixture : IAsyncLifetime
{
    public const string Pat = "bootstrap0pat0for0tests0000000001";

    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("iris-test-");

    public IrisServer Server { get; private set; } = null!;

    public CapturedLogs Logs { get; } = new();

    public GrpcChannel Channel { get; private set; } = null!;

    public V2.V2Client Grpc { get; private set; } = null!;

    /// <summary>REST client with no credentials; use <see cref="Authorized"/> to add the bootstrap PAT.</summary>
    public HttpClient Http { get; private set; } = null!;

    public string DataDir => _dataDir.FullName;

    /// <summary>The metadata database the server uses: null for SQLite in <see cref="DataDir"/>, else a PostgreSQL URL.</summary>
    public string? DatabaseUrl { get; protected set; }

    public static Metadata PatMetadata => new() { { "authorization", "Key " + Pat } };

    public static HttpRequestMessage Authorized(HttpMethod method, string path, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Key", Pat);
        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        return request;
    }

    /// <summary>Creates app <paramref name="appId"/> for the bootstrap user through the API (PostApps over gRPC) and returns its id.</summary>
    public async Task<string> CreateAppAsync(string appId)
    {
        var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        request.Apps.Add(new App { Id = appId });
        var response = await Grpc.PostAppsAsync(request, PatMetadata);
        if (response.Status.Code != Clarifai.Api.Status.StatusCode.Success)
        {
            throw new InvalidOperationException($"PostApps {appId}: {response.Status.Code} {response.Status.Details}");
        }

        return appId;
    }

    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>True to run the server on a fresh database of the test run's PostgreSQL cluster instead of SQLite.</summary>
    protected virtual bool OnPostgres => false;

    /// <summary>Adjusts the server's options before it is created (e.g. a smaller message limit).</summary>
    protected virtual void ConfigureOptions(IrisServerOptions options)
    {
    }

    /// <summary>Runs once the database exists and before the server migrates and starts it (a store as an older release left it).</summary>
    protected virtual Task PrepareStoreAsync() => Task.CompletedTask;

    /// <summary>
    /// The options of a server on this fixture's data directory and database, on free ports, with the bootstrap PAT:
    /// the fixture's own server (before <see cref="ConfigureOptions"/>), and a second node or a restarted one in a test.
    /// </summary>
    public IrisServerOptions SameStoreOptions() => new()
    {
        DataDir = _dataDir.FullName,
        DatabaseUrl = DatabaseUrl,
        HttpPort = 0,
        GrpcPort = 0,
        BootstrapPat = Pat,
        BootstrapUser = "admin",
    };

    public async Task InitializeAsync()
    {
        if (OnPostgres)
        {
            var cluster = await PostgresCluster.SharedAsync();
            DatabaseUrl = await cluster.CreateDatabaseAsync(GetType().Name);
        }

        await PrepareStoreAsync();

        var options = SameStoreOptions();
        ConfigureOptions(options);
        Server = IrisServer.Create(options, logging => logging.AddProvider(Logs), ConfigureServices);
        await Server.StartAsync();
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Server.GrpcPort}", new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 256 * 1024 * 1024,
            MaxSendMessageSize = 256 * 1024 * 1024,
        });
        Grpc = new V2.V2Client(Channel);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Server.HttpPort}") };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Channel.ShutdownAsync();
        Channel.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        _dataDir.Delete(recursive: true);
    }
}
