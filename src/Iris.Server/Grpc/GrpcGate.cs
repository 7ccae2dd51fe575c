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
        var path = http.Request.Path.Value;
        if (path is null || !path.StartsWith(ServicePrefix, StringComparison.Ordinal)
            || ApiCatalog.Instance.Find(path[ServicePrefix.Length..]) is not { } rpc
            || !IsGrpc(http.Request.ContentType))
        {
            // Unknown methods and non-gRPC requests get Grpc.AspNetCore's own answers (UNIMPLEMENTED, 415).
            await next(http).ConfigureAwait(false);
            return;
        }

        var headers = http.Request.Headers;
        var prefix = headers["x-clarifai-request-id-prefix"];
        var meta = new RequestMeta(headers.Authorization.Count > 0 ? headers.Authorization[0] : null, prefix.Count > 0 ? prefix[0] : null, Transport.Grpc);
        var requestId = RequestIds.New(meta.RequestIdPrefix);
        http.Response.Headers[V2MethodProvider.RequestIdHeader] = requestId;

        var admission = await invoker.AdmitAsync(rpc, meta, requestId, http.RequestAborted).ConfigureAwait(false);
        if (!admission.Admitted)
        {
            await WriteResponseAsync(http, admission.Refusal!).ConfigureAwait(false);
            return;
        }

        if (!rpc.IsClientStreaming)
        {
            var limit = admission.Principal is null ? Math.Min(RequestLimits.MaxUnauthenticatedBodyBytes, maxMessageBytes) : maxMessageBytes;
            var length = await PeekMessageLengthAsync(http).ConfigureAwait(false);
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
        var frame = new byte[5 + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)size);
        response.WriteTo(frame.AsSpan(5));
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/grpc";
        await http.Response.Body.WriteAsync(frame, http.RequestAborted).ConfigureAwait(false);
        http.Response.AppendTrailer("grpc-status", "0");
    }

    private static bool IsGrpc(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && !contentType.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase);
}

/// <summary>What <see cref="GrpcGate"/> decided about a call, for the method handler.</summary>
internal sealed record GrpcCallState(Admission Admission, string RequestId);
