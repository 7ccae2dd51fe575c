using System.Net;
using Grpc.AspNetCore.Server.Model;
using Iris.Contracts.Descriptors;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Grpc;
using Iris.Server.Handlers;
using Iris.Server.Identity;
using Iris.Server.Inputs;
using Iris.Server.Models;
using Iris.Server.Rest;
using Iris.Server.Searches;
using Iris.Core.Fetching;
using Iris.Inference;
using Iris.Server.Validation;
using Iris.Server.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Hosting;

/// <summary>
/// One Iris server: gRPC (h2c, or TLS) and gRPC-web on one port, REST and gRPC-web on another, all over the same handlers. The CLI, the tests and the
/// benchmarks all host this same class in-process.
/// </summary>
public sealed class IrisServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private IrisServer(WebApplication app, IrisServerOptions options, BootstrapCredentials bootstrap)
    {
        _app = app;
        Options = options;
        Bootstrap = bootstrap;
    }

    public IrisServerOptions Options { get; }

    public BootstrapCredentials Bootstrap { get; }

    /// <summary>Where the metadata lives, for logs: the SQLite file or the PostgreSQL host and database.</summary>

    public string Storage => _app.Services.GetRequiredService<Iris.Storage.Db.Database>().Describe;

    /// <summary>Bound REST port (differs from the option when that was 0).</summary>
    public int HttpPort { get; private set; }

    /// <summary>Bound gRPC port.</summary>
    public int GrpcPort { get; private set; }

    public IServiceProvider Services => _app.Services;

    /// <param name="options">Validated here; the data directory is created when missing.</param>
    /// <param name="configureLogging">Replaces the default console logging (tests capture logs here).</param>
    /// <param name="configureServices">Adds services after Iris' own, e.g. further <see cref="IApiModule"/>s.</param>
    public static IrisServer Create(IrisServerOptions options, Action<ILoggingBuilder>? configureLogging = null, Action<IServiceCollection>? configureServices = null)
    {
        options.Validate();
        // Every area's settings are read and validated now: a value that cannot work stops start-up, naming the setting.
        var identity = IdentityOptions.FromEnvironment();
        var ingestion = IngestionOptions.FromEnvironment();
        var fetching = UrlFetcherOptions.FromEnvironment();
        var inference = InferenceOptions.FromEnvironment();
        var search = SearchOptions.FromEnvironment();
        Directory.CreateDirectory(options.DataDir);
        var bootstrap = BootstrapCredentials.Load(options);
        var certificate = options.TlsEnabled ? TlsCertificate.Load(options.TlsCertFile!, options.TlsKeyFile!) : null;
        var cors = WireCors.Policy(options.CorsOriginList);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Iris" });
        builder.Logging.ClearProviders();

        // Grpc.AspNetCore logs every failed call at information level, with the exception of a message it could not
        // read; callers can cause those at will. Iris logs its own refusals (rate-limited) instead.
        builder.Logging.AddFilter("Grpc.AspNetCore.Server", LogLevel.Warning);
        if (configureLogging is not null)
        {
            configureLogging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        }

        var address = string.Equals(options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(options.Host);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Cleartext HTTP/2 on the gRPC port looks like ALPN h2 to Kestrel (CleartextHttp2Detection), so the scheme
            // a request names (http) is taken as it is instead of the one Kestrel would infer (https).
            kestrel.AllowAlternateSchemes = true;
            kestrel.Limits.MaxRequestBodySize = options.MaxMessageBytes;

            // Above Iris' own limits (TransportLimits), so the usual oversize request gets an answer with an envelope.
            kestrel.Limits.MaxRequestLineSize = TransportLimits.KestrelRequestLineBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = TransportLimits.KestrelHeaderBytes;
            kestrel.Listen(address, options.GrpcPort, listen =>
            {
                // gRPC needs HTTP/2; gRPC-web from browsers comes over HTTP/1.1. With TLS, ALPN picks per connection;
                // in plaintext, the connection preface tells an HTTP/2 (prior knowledge, as gRPC clients do) connection.
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
                else
                {
                    listen.Use(CleartextHttp2Detection.Use);
                }
            });
            kestrel.Listen(address, options.HttpPort, listen =>
            {
                // Plaintext HTTP/2 needs prior knowledge, which REST clients do not use: HTTP/1.1 only. Over TLS, ALPN
                // offers h2 and HTTP/1.1.
                listen.Protocols = certificate is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2;
                listen.Use(next => connection =>
                {
                    connection.Items[RestGateway.ConnectionMarker] = true;
                    return next(connection);
                });
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(bootstrap);
        services.AddSingleton<ICredentialStore>(bootstrap);
        services.AddSingleton<Authenticator>();
        var readiness = new IrisReadiness();
        services.AddSingleton(readiness);
        services.AddIrisIdentity(identity);
        services.AddIrisStorage(options);
        services.AddSingleton<IApiModule, StatusCodesModule>();
        services.AddSingleton<IApiModule, LicensesModule>();
        services.AddIrisInputs(ingestion, fetching);
        services.AddIrisInference(options, inference, fetching);
        services.AddIrisWorkflows();
        services.AddIrisSearch(search);
        services.AddSingleton<HandlerRegistry>();
        services.AddSingleton<ApiInvoker>();
        services.AddSingleton(_ => new RouteTable(ApiCatalog.Instance));
        services.AddSingleton(sp => new RestGateway(sp.GetRequiredService<ApiInvoker>(), sp.GetRequiredService<RouteTable>(), sp.GetRequiredService<IrisReadiness>(),
            sp.GetRequiredService<ILogger<RestGateway>>())
        {
            MaxBodyBytes = options.MaxMessageBytes,
        });
        services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxMessageBytes;
            grpc.MaxSendMessageSize = null;
            grpc.EnableDetailedErrors = false;
        });
        if (cors is not null)
        {
            services.AddCors(c => c.AddDefaultPolicy(cors));
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<MalformedMessages>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<V2GrpcService>, V2MethodProvider>());
        services.AddGrpcHealthChecks().AddCheck("iris", () => readiness.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("starting"));
        configureServices?.Invoke(services);

        var app = builder.Build();
        var gateway = app.Services.GetRequiredService<RestGateway>();
        // CORS first, for REST and gRPC-web on both ports; a preflight it does not answer (CORS off) still gets 204.
        if (cors is not null)
        {
            app.UseCors();
        }

        app.Use(WireCors.AnswerUnallowedPreflightAsync);
        app.UseIrisPortal();
        app.UseWhen(RestGateway.IsRestRequest, rest => rest.Run(gateway.HandleAsync));

        // gRPC-web (either port) becomes a gRPC call here, so the gate and the method handlers serve it unchanged.
        app.Use(GrpcGate.MarkGrpcWebTextAsync);
        app.UseGrpcWeb(new GrpcWebOptions { DefaultEnabled = true });
        var grpcGate = new GrpcGate(app.Services.GetRequiredService<ApiInvoker>(), options.MaxMessageBytes);
        app.Use(grpcGate.InvokeAsync);
        app.MapGrpcService<V2GrpcService>();
        app.MapGrpcHealthChecksService();
        return new IrisServer(app, options, bootstrap);
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // Build the handler registry and routes, and migrate the database, before the first request: a bad
        // registration or a failed migration stops start-up instead of failing requests.
        _app.Services.GetRequiredService<RestGateway>();
        await _app.Services.MigrateStorageAsync(cancellationToken).ConfigureAwait(false);
        await _app.Services.GetRequiredService<Iris.Storage.Identity.IIdentityStore>().EnsureBootstrapAsync(
            Options.BootstrapUser, AppDeletionWorker.BootstrapKeyId, DbCredentialStore.Hash(Bootstrap.Token), cancellationToken).ConfigureAwait(false);
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        // Kestrel reports addresses in the order the endpoints were added: gRPC first, then REST.
        GrpcPort = new Uri(addresses[0]).Port;
        HttpPort = new Uri(addresses[1]).Port;
        _app.Services.GetRequiredService<IrisReadiness>().MarkReady();
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Completes when the host shuts down (SIGTERM, Ctrl+C or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
