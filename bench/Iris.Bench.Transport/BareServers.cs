using System.Buffers;
using System.Net;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Iris.Bench.Transport;

/// <summary>
/// The baseline: the engine beneath Iris (Kestrel, endpoint routing) with nothing on top. It replays, byte for byte,
/// a response Iris gave: gRPC as a raw length-prefixed frame plus the <c>grpc-status</c> trailer (no Grpc.AspNetCore),
/// REST as the JSON body with the same content type and headers. Configured as Iris configures Kestrel.
/// </summary>
internal sealed class BareKestrel : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BareKestrel(WebApplication app, int grpcPort, int httpPort)
    {
        _app = app;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
    }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public static async Task<BareKestrel> StartAsync(CapturedResponse grpc, CapturedResponse rest)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "BareKestrel" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();

        var grpcHeaders = grpc.Headers.ToArray();
        var grpcTrailers = grpc.Trailers.ToArray();
        var grpcBody = grpc.Body;
        app.MapPost(Rpc.GrpcPath, async http =>
        {
            // Read the request message as any server must, then answer with the captured frame and trailers.
            var reader = http.Request.BodyReader;
            while (true)
            {
                var read = await reader.ReadAsync(http.RequestAborted).ConfigureAwait(false);
                reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            var response = http.Response;
            foreach (var (name, value) in grpcHeaders)
            {
                response.Headers[name] = value;
            }

            // Buffered without a flush, as Grpc.AspNetCore writes unary replies: Kestrel sends headers, data and
            // trailers together when the request completes.
            response.BodyWriter.Write(grpcBody);
            foreach (var (name, value) in grpcTrailers)
            {
                response.AppendTrailer(name, value);
            }
        });

        var restHeaders = rest.Headers.ToArray();
        var restBody = rest.Body;
        var restStatus = rest.StatusCode;
        app.MapGet(Rpc.RestPath, http =>
        {
            var response = http.Response;
            response.StatusCode = restStatus;
            foreach (var (name, value) in restHeaders)
            {
                response.Headers[name] = value;
            }

            response.ContentLength = restBody.Length;
            return response.Body.WriteAsync(restBody, http.RequestAborted).AsTask();
        });

        await app.StartAsync().ConfigureAwait(false);
        var ports = Ports(app);
        return new BareKestrel(app, ports[0], ports[1]);
    }

    internal static int[] Ports(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a).Port).ToArray();

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>
/// A reference point between the two: Grpc.AspNetCore (as Iris uses it) serving a V2 service whose GetStatusCode
/// returns a pre-built response message. Its distance to <see cref="BareKestrel"/> is the gRPC library's cost; its
/// distance to Iris is Iris' own pipeline.
/// </summary>
internal sealed class BareGrpcService : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BareGrpcService(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<BareGrpcService> StartAsync(CapturedResponse grpc)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "BareGrpc" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = 128 * 1024 * 1024;
            options.MaxSendMessageSize = null;
            options.EnableDetailedErrors = false;
        });
        builder.Services.AddSingleton(new PrebuiltV2Service(grpc));
        var app = builder.Build();
        app.MapGrpcService<PrebuiltV2Service>();
        await app.StartAsync().ConfigureAwait(false);
        return new BareGrpcService(app, BareKestrel.Ports(app)[0]);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>GetStatusCode answers the response message Iris sent, parsed once; every other V2 method stays unimplemented.</summary>
internal sealed class PrebuiltV2Service(CapturedResponse grpc) : V2.V2Base
{
    private readonly SingleStatusCodeResponse _response = SingleStatusCodeResponse.Parser.ParseFrom(grpc.Body.AsSpan(5));
    private readonly KeyValuePair<string, string>[] _headers = grpc.Headers
        .Where(h => !string.Equals(h.Key, "Content-Type", StringComparison.OrdinalIgnoreCase))
        .ToArray();

    public override Task<SingleStatusCodeResponse> GetStatusCode(GetStatusCodeRequest request, ServerCallContext context)
    {
        var headers = context.GetHttpContext().Response.Headers;
        foreach (var (name, value) in _headers)
        {
            headers[name] = value;
        }

        return Task.FromResult(_response);
    }
}
