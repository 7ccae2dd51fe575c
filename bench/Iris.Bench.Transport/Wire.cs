using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Clarifai.Api;
using Google.Protobuf;

namespace Iris.Bench.Transport;

/// <summary>The cheap RPC both transports drive: GetStatusCode(10000), NoAuth, a handler that only describes a code.</summary>
internal static class Rpc
{
    public const string StatusCodeId = "10000";

    public const string GrpcPath = "/clarifai.api.V2/GetStatusCode";

    public const string RestPath = "/v2/status_codes/" + StatusCodeId;

    /// <summary>Fixed bootstrap PAT; every request carries it, as the official clients always send a key.</summary>
    public const string Pat = "iris_bench_transport_pat_0123456789";

    public const string Authorization = "Key " + Pat;

    public static GetStatusCodeRequest Request { get; } = new() { StatusCodeId = StatusCodeId };

    /// <summary>The request as one uncompressed gRPC length-prefixed message.</summary>
    public static byte[] Frame(IMessage message)
    {
        var payload = message.ToByteArray();
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }
}

/// <summary>One response as it came off the wire: headers (content headers included), body, trailers.</summary>
internal sealed record CapturedResponse(
    int StatusCode,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    IReadOnlyList<KeyValuePair<string, string>> Trailers)
{
    /// <summary>Headers a server writes on its own (date) or that the replay sets through its own API (length).</summary>
    private static readonly HashSet<string> Excluded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Date", "Server", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
    };

    public string ContentType => Headers.First(h => string.Equals(h.Key, "Content-Type", StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>The per-request id Iris puts in a header and in <c>status.req_id</c>.</summary>
    public string RequestId => Headers.First(h => string.Equals(h.Key, "X-Clarifai-Request-ID", StringComparison.OrdinalIgnoreCase)).Value;

    public static async Task<CapturedResponse> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        var headers = response.Headers.Concat(response.Content.Headers)
            .Where(h => !Excluded.Contains(h.Key))
            .Select(h => KeyValuePair.Create(h.Key, string.Join(", ", h.Value)))
            .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
            .ToArray();
        var trailers = response.TrailingHeaders
            .Select(h => KeyValuePair.Create(h.Key, string.Join(", ", h.Value)))
            .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
            .ToArray();
        return new CapturedResponse((int)response.StatusCode, headers, body, trailers);
    }

    /// <summary>Same status, header names and values, body bytes and trailers, once each side's request id is masked.</summary>
    public string? Difference(CapturedResponse other)
    {
        if (StatusCode != other.StatusCode)
        {
            return $"HTTP status {StatusCode} vs {other.StatusCode}";
        }

        var mine = Describe(Headers, RequestId);
        var theirs = Describe(other.Headers, other.RequestId);
        if (!string.Equals(mine, theirs, StringComparison.OrdinalIgnoreCase))
        {
            return $"headers [{mine}] vs [{theirs}]";
        }

        if (!Mask(Body, RequestId).AsSpan().SequenceEqual(Mask(other.Body, other.RequestId)))
        {
            return $"body {Convert.ToHexString(Body)} vs {Convert.ToHexString(other.Body)}";
        }

        var myTrailers = Describe(Trailers, RequestId);
        var theirTrailers = Describe(other.Trailers, other.RequestId);
        return string.Equals(myTrailers, theirTrailers, StringComparison.OrdinalIgnoreCase) ? null : $"trailers [{myTrailers}] vs [{theirTrailers}]";
    }

    public string DescribeHeaders() => Describe(Headers, null);

    public string DescribeTrailers() => Describe(Trailers, null);

    private static string Describe(IEnumerable<KeyValuePair<string, string>> headers, string? requestId) =>
        string.Join("; ", headers.Select(h => $"{h.Key.ToLowerInvariant()}: {(requestId is null ? h.Value : h.Value.Replace(requestId, "<req_id>", StringComparison.Ordinal))}"));

    private static byte[] Mask(byte[] body, string requestId)
    {
        var text = Encoding.Latin1.GetString(body);
        return Encoding.Latin1.GetBytes(text.Replace(requestId, new string('0', requestId.Length), StringComparison.Ordinal));
    }
}

/// <summary>Single raw requests used to capture Iris' responses and to check that the bare servers replay them exactly.</summary>
internal static class Probe
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false });

    public static async Task<CapturedResponse> GrpcAsync(int port)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{port}{Rpc.GrpcPath}"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(Rpc.Frame(Rpc.Request)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("authorization", Rpc.Authorization);
        using var response = await Client.SendAsync(request).ConfigureAwait(false);
        return await CapturedResponse.ReadAsync(response).ConfigureAwait(false);
    }

    public static async Task<CapturedResponse> RestAsync(int port)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{port}{Rpc.RestPath}"));
        request.Headers.TryAddWithoutValidation("Authorization", Rpc.Authorization);
        using var response = await Client.SendAsync(request).ConfigureAwait(false);
        return await CapturedResponse.ReadAsync(response).ConfigureAwait(false);
    }
}
