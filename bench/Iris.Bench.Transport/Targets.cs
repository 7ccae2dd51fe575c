using System.Net;
using Clarifai.Api;
using Grpc.Core;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Grpc.Net.Client;

namespace Iris.Bench.Transport;

/// <summary>One server endpoint the load generator drives with the cheap RPC.</summary>
internal abstract class Target : IDisposable
{
    protected Target(string transport, string server, bool isIris)
    {
        Transport = transport;
        Server = server;
        IsIris = isIris;
    }

    /// <summary><c>gRPC</c> or <c>REST</c>.</summary>
    public string Transport { get; }

    /// <summary>Which server answers.</summary>
    public string Server { get; }

    public bool IsIris { get; }

    /// <summary>Called before each concurrency level (REST sizes its connection pool to the worker count).</summary>
    public virtual void Prepare(int concurrency)
    {
    }

    /// <summary>One call; throws when the answer is not the expected success.</summary>
    public abstract ValueTask CallAsync();

    public abstract void Dispose();
}

/// <summary>Grpc.Net.Client over one shared <see cref="GrpcChannel"/>: all workers multiplex one HTTP/2 connection.</summary>
internal sealed class GrpcTarget : Target
{
    private readonly GrpcChannel _channel;
    private readonly V2.V2Client _client;
    private readonly Metadata _headers = new() { { "authorization", Rpc.Authorization } };

    public GrpcTarget(string server, bool isIris, int port)
        : base("gRPC", server, isIris)
    {
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = false },
        });
        _client = new V2.V2Client(_channel);
    }

    public override async ValueTask CallAsync()
    {
        var response = await _client.GetStatusCodeAsync(Rpc.Request, _headers).ConfigureAwait(false);
        if (response.Status.Code != StatusCode.Success)
        {
            throw new InvalidOperationException($"{Server} answered status {response.Status.Code}.");
        }
    }

    public override void Dispose() => _channel.Dispose();
}

/// <summary>HttpClient over HTTP/1.1 keep-alive connections, one per worker (MaxConnectionsPerServer = concurrency).</summary>
internal sealed class RestTarget(string server, bool isIris, int port, int expectedLength) : Target("REST", server, isIris)
{
    private readonly Uri _uri = new($"http://127.0.0.1:{port}{Rpc.RestPath}");
    private HttpClient? _client;

    public override void Prepare(int concurrency)
    {
        _client?.Dispose();
        _client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        })
        {
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public override async ValueTask CallAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _uri);
        request.Headers.TryAddWithoutValidation("Authorization", Rpc.Authorization);
        using var response = await _client!.SendAsync(request).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK || body.Length != expectedLength)
        {
            throw new InvalidOperationException($"{Server} answered HTTP {(int)response.StatusCode} with {body.Length} bytes.");
        }
    }

    public override void Dispose() => _client?.Dispose();
}
