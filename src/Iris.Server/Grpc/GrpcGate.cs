using System.Buffers;
using System.Buffers.Binary;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Validation;
using Microsoft.AspNetCore.Http;

namespace Iris.Server.Grpc;

/// <summary>
/// Runs on the gRPC port before Grpc.AspNetCore reads a message: it authenticates and authorizes the call from its
/// headers and, for a caller it cannot admit, answers at once without reading the body (the answer is the RPC's
/// response message carrying the Clarifai status, gRPC status OK, as for every business error). For an admitted call
/// it peeks at the 5-byte gRPC frame header and refuses a message over the limit with 40033 before it is buffered: the
/// full limit for authenticated callers, <see cref="RequestLimits.MaxUnauthenticatedBodyBytes"/> for NoAuth RPCs.
/// The outcome travels to <see cref="V2MethodProvider"/> in a <see cref="GrpcCallState"/> feature.
/// </summary>
internal sealed class GrpcGate(ApiInvoker invoker, long maxMessageBytes)
{
    private const string ServicePrefix = "/clarifai.api.V2/";

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        try
        {
            await GateAsync(http, next).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && http.RequestAborted.IsCancellationRequested)
        {
            // The caller went away while the gate waited for its headers' verdict or its first bytes: nothing to answer.
        }
    }

    private async Task GateAsync(HttpContext http, RequestDelegate next)
    {
        var path = http.Request.Path.Value;
        if (path is null || !path.StartsWith(ServicePrefix, StringComparison.Ordinal) || !IsGrpc(http.Request.ContentType))
        {
            // Other services (health) and non-gRPC requests get Grpc.AspNetCore's own answers.
            await next(http).ConfigureAwait(false);
            return;
        }

        if (ApiCatalog.Instance.Find(path[ServicePrefix.Length..]) is not { } rpc)
        {
            WriteUnknownMethod(http, path[ServicePrefix.Length..]);
            return;
        }

        var headers = http.Request.Headers;
        var prefix = headers["x-clarifai-request-id-prefix"];
        var meta = new RequestMeta(headers.Authorization.Count > 0 ? headers.Authorization[0] : null, prefix.Count > 0 ? prefix[0] : null, Transport.Grpc);
        var requestId = RequestIds.New(meta.RequestIdPrefix);
        http.Response.Headers[V2MethodProvider.RequestIdHeader] = requestId;

        // Kestrel's header limit is set above Iris' (TransportLimits) so that REST can answer with an envelope; hold gRPC
        // to the same limit, answered the gRPC way.
        var headerBytes = TransportLimits.HeaderBytes(headers);
        if (headerBytes > TransportLimits.MaxHeaderBytes)
        {
            var error = IrisException.InvalidRequest($"The request headers are {headerBytes} bytes; the limit is {TransportLimits.MaxHeaderBytes} bytes.");
            await WriteResponseAsync(http, ApiInvoker.Refusal(rpc, error, requestId)).ConfigureAwait(false);
            return;
        }

        var admission = await invoker.AdmitAsync(rpc, meta, requestId, http.RequestAborted).ConfigureAwait(false);
        if (!admission.Admitted)
        {
            await WriteResponseAsync(http, admission.Refusal!).ConfigureAwait(false);
            return;
        }

        if (!rpc.IsClientStreaming)
        {
            var limit = admission.Principal is null ? Math.Min(RequestLimits.MaxUnauthenticatedBodyBytes, maxMessageBytes) : maxMessageBytes;
            var length = http.Items.ContainsKey(GrpcWebTextMarker) ? AnnouncedTextMessageLength(http) : await PeekMessageLengthAsync(http).ConfigureAwait(false);
            if (length > limit)
            {
                var error = new IrisException(StatusCode.RpcMaxMessageSizeExceeded, $"The request message of {length} bytes is over the limit of {limit} bytes.");
                await WriteResponseAsync(http, ApiInvoker.Refusal(rpc, error, requestId)).ConfigureAwait(false);
                return;
            }
        }

        http.Features.Set(new GrpcCallState(admission, requestId));
        await next(http).ConfigureAwait(false);
    }

    /// <summary>
    /// Set (in <see cref="HttpContext.Items"/>) on a gRPC-web-text request before Grpc.AspNetCore.Web turns it into a gRPC
    /// call: its body is base64, decoded in place as it is read, so it cannot be peeked at and read again.
    /// </summary>
    internal const string GrpcWebTextMarker = "iris.grpc-web-text";

    /// <summary>Marks gRPC-web-text requests for the gate (see <see cref="GrpcWebTextMarker"/>); runs before <c>UseGrpcWeb</c>.</summary>
    internal static Task MarkGrpcWebTextAsync(HttpContext http, RequestDelegate next)
    {
        if (http.Request.ContentType is { } type && type.StartsWith("application/grpc-web-text", StringComparison.OrdinalIgnoreCase))
        {
            http.Items[GrpcWebTextMarker] = true;
        }

        return next(http);
    }

    /// <summary>
    /// For a gRPC-web-text body, the message length its Content-Length implies (base64 carries 3 bytes in 4 characters;
    /// the 5-byte frame header aside), or -1 when the length is not announced; Grpc.AspNetCore's own limit covers the rest.
    /// </summary>
    private static long AnnouncedTextMessageLength(HttpContext http) =>
        http.Request.ContentLength is { } length ? (length / 4 * 3) - 5 : -1;

    /// <summary>The length the first frame announces (bytes 1–4, big-endian), or -1 when the body ends sooner; nothing is consumed.</summary>
    private static async Task<long> PeekMessageLengthAsync(HttpContext http)
    {
        var reader = http.Request.BodyReader;
        var result = await reader.ReadAtLeastAsync(5, http.RequestAborted).ConfigureAwait(false);
        var buffer = result.Buffer;
        long length = -1;
        if (buffer.Length >= 5)
        {
            Span<byte> header = stackalloc byte[5];
            buffer.Slice(0, 5).CopyTo(header);
            length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        }

        // Examined up to the start: Grpc.AspNetCore's first read sees the same bytes at once.
        reader.AdvanceTo(buffer.Start, buffer.Start);
        return length;
    }

    /// <summary>A complete gRPC response: one length-prefixed message, then <c>grpc-status: 0</c> in the trailers.</summary>
    internal static async Task WriteResponseAsync(HttpContext http, IMessage response)
    {
        var size = response.CalculateSize();
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/grpc";

        // One span of the whole frame, as Grpc.AspNetCore writes messages: gRPC-web-text's base64 writer needs that.
        var writer = http.Response.BodyWriter;
        var frame = writer.GetSpan(5 + size)[..(5 + size)];
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        response.WriteTo(frame[5..]);
        writer.Advance(5 + size);
        await writer.FlushAsync(http.RequestAborted).ConfigureAwait(false);
        http.Response.AppendTrailer("grpc-status", "0");
    }

    /// <summary>
    /// <c>UNIMPLEMENTED</c> (what gRPC clients expect for a method the service lacks) with the Clarifai status 40036
    /// RPC_UNKNOWN_METHOD in the trailers, as <see cref="MalformedMessages"/> carries it.
    /// </summary>
    private static void WriteUnknownMethod(HttpContext http, string method)
    {
        var details = $"clarifai.api.V2 has no method {method}.";
        var status = new Clarifai.Api.Status.Status
        {
            Code = StatusCode.RpcUnknownMethod,
            Description = StatusCatalog.Describe(StatusCode.RpcUnknownMethod),
            Details = details,
            ReqId = RequestIds.New(null),
        };
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/grpc";
        http.Response.Headers[V2MethodProvider.RequestIdHeader] = status.ReqId;
        http.Response.AppendTrailer("grpc-status", "12");
        http.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(details));
        http.Response.AppendTrailer(MalformedMessages.StatusCodeTrailer, ((int)status.Code).ToString(System.Globalization.CultureInfo.InvariantCulture));
        http.Response.AppendTrailer(MalformedMessages.StatusTrailer, Convert.ToBase64String(status.ToByteArray()).TrimEnd('='));
    }

    private static bool IsGrpc(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && !contentType.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase);
}

/// <summary>What <see cref="GrpcGate"/> decided about a call, for the method handler.</summary>
internal sealed record GrpcCallState(Admission Admission, string RequestId);
