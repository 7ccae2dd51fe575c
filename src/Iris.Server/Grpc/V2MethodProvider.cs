using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Iris.Contracts.Descriptors;
using Iris.Server.Api;

namespace Iris.Server.Grpc;

/// <summary>
/// Registers all 289 RPCs of the descriptor with Grpc.AspNetCore, each routed to the shared invoker. Requests are read
/// through <see cref="MalformedMessages"/>' marshaller, so a message that does not parse answers INVALID_ARGUMENT with
/// a Clarifai status in the trailers instead of an exception per call.
/// </summary>
internal sealed class V2MethodProvider(ApiInvoker invoker, MalformedMessages malformed) : IServiceMethodProvider<V2GrpcService>
{
    internal const string RequestIdHeader = "x-clarifai-request-id";

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<V2GrpcService> context)
    {
        foreach (var rpc in ApiCatalog.Instance.Rpcs)
        {
            var kind = (rpc.IsClientStreaming, rpc.IsServerStreaming) switch
            {
                (false, false) => nameof(AddUnary),
                (false, true) => nameof(AddServerStreaming),
                (true, false) => nameof(AddClientStreaming),
                (true, true) => nameof(AddDuplex),
            };
            var types = rpc.GrpcMethod.GetType().GetGenericArguments();
            typeof(V2MethodProvider).GetMethod(kind, BindingFlags.NonPublic | BindingFlags.Instance)!
                .MakeGenericMethod(types)
                .Invoke(this, [context, rpc]);
        }
    }

    private void AddUnary<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        context.AddUnaryMethod(MalformedMessages.Guarded((Method<TRequest, TResponse>)rpc.GrpcMethod), [], async (_, request, call) =>
            (TResponse)(await InvokeAsync(rpc, request, call).ConfigureAwait(false)).Response);
    }

    // Streaming RPCs have no handlers yet: each answers one message carrying 10040 NOT_IMPLEMENTED, then ends.
    private void AddServerStreaming<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        context.AddServerStreamingMethod(MalformedMessages.Guarded((Method<TRequest, TResponse>)rpc.GrpcMethod), [], async (_, request, stream, call) =>
            await stream.WriteAsync((TResponse)(await InvokeAsync(rpc, request, call).ConfigureAwait(false)).Response).ConfigureAwait(false));
    }

    private void AddClientStreaming<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        context.AddClientStreamingMethod(MalformedMessages.Guarded((Method<TRequest, TResponse>)rpc.GrpcMethod), [], async (_, requests, call) =>
            (TResponse)(await InvokeAsync(rpc, await FirstOrEmptyAsync(rpc, requests, call).ConfigureAwait(false), call).ConfigureAwait(false)).Response);
    }

    private void AddDuplex<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>
    {
        context.AddDuplexStreamingMethod(MalformedMessages.Guarded((Method<TRequest, TResponse>)rpc.GrpcMethod), [], async (_, requests, stream, call) =>
        {
            var first = await FirstOrEmptyAsync(rpc, requests, call).ConfigureAwait(false);
            await stream.WriteAsync((TResponse)(await InvokeAsync(rpc, first, call).ConfigureAwait(false)).Response).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Streaming callers usually send before they read; answering before reading would fail their first write.
    /// Wait for the first message (or the end of the stream) and answer from it.
    /// </summary>
    private static async Task<IMessage> FirstOrEmptyAsync<TRequest>(RpcInfo rpc, IAsyncStreamReader<TRequest> requests, ServerCallContext call)
        where TRequest : class, IMessage<TRequest>, new()
        => await requests.MoveNext(call.CancellationToken).ConfigureAwait(false) ? requests.Current : rpc.NewRequest();

    private async ValueTask<InvokeResult> InvokeAsync(RpcInfo rpc, IMessage request, ServerCallContext call)
    {
        var http = call.GetHttpContext();
        var state = http.Features.Get<GrpcCallState>();
        string requestId;
        Admission admission;
        if (state is not null)
        {
            (admission, requestId) = (state.Admission, state.RequestId);
        }
        else
        {
            // Not through the gate (a content type it leaves to Grpc.AspNetCore): admit here. Read headers straight from
            // HTTP/2: ServerCallContext.RequestHeaders builds a Metadata copy of all of them.
            var headers = http.Request.Headers;
            var prefix = headers["x-clarifai-request-id-prefix"];
            var meta = new RequestMeta(headers.Authorization.Count > 0 ? headers.Authorization[0] : null, prefix.Count > 0 ? prefix[0] : null, Transport.Grpc);
            requestId = RequestIds.New(meta.RequestIdPrefix);
            http.Response.Headers[RequestIdHeader] = requestId;
            admission = await invoker.AdmitAsync(rpc, meta, requestId, call.CancellationToken).ConfigureAwait(false);
        }

        if (admission.Admitted && malformed.TakeFailure(request) is { } failure)
        {
            throw malformed.Refuse(rpc, failure, requestId);
        }

        return await invoker.InvokeAsync(rpc, request, admission, Transport.Grpc, requestId, call.CancellationToken).ConfigureAwait(false);
    }
}
