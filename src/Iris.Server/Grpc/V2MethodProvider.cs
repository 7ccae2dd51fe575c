using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Iris.Contracts.Descriptors;
using Iris.Server.Api;

namespace Iris.Server.Grpc;

/// <summary>Registers all 289 RPCs of the descriptor with Grpc.AspNetCore, each routed to the shared invoker.</summary>
internal sealed class V2MethodProvider(ApiInvoker invoker) : IServiceMethodProvider<V2GrpcService>
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
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        context.AddUnaryMethod((Method<TRequest, TResponse>)rpc.GrpcMethod, [], async (_, request, call) =>
            (TResponse)(await InvokeAsync(rpc, request, call).ConfigureAwait(false)).Response);
    }

    // Streaming RPCs have no handlers yet: each answers one message carrying 10040 NOT_IMPLEMENTED, then ends.
    private void AddServerStreaming<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        context.AddServerStreamingMethod((Method<TRequest, TResponse>)rpc.GrpcMethod, [], async (_, request, stream, call) =>
            await stream.WriteAsync((TResponse)(await InvokeAsync(rpc, request, call).ConfigureAwait(false)).Response).ConfigureAwait(false));
    }

    private void AddClientStreaming<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        context.AddClientStreamingMethod((Method<TRequest, TResponse>)rpc.GrpcMethod, [], async (_, requests, call) =>
            (TResponse)(await InvokeAsync(rpc, await FirstOrEmptyAsync(rpc, requests, call).ConfigureAwait(false), call).ConfigureAwait(false)).Response);
    }

    private void AddDuplex<TRequest, TResponse>(ServiceMethodProviderContext<V2GrpcService> context, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        context.AddDuplexStreamingMethod((Method<TRequest, TResponse>)rpc.GrpcMethod, [], async (_, requests, stream, call) =>
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
        where TRequest : class, IMessage<TRequest>
        => await requests.MoveNext(call.CancellationToken).ConfigureAwait(false) ? requests.Current : rpc.NewRequest();

    private ValueTask<InvokeResult> InvokeAsync(RpcInfo rpc, IMessage request, ServerCallContext call)
    {
        // Read headers straight from HTTP/2: ServerCallContext.RequestHeaders builds a Metadata copy of all of them.
        var http = call.GetHttpContext();
        var headers = http.Request.Headers;
        var prefix = headers["x-clarifai-request-id-prefix"];
        var meta = new RequestMeta(headers.Authorization.Count > 0 ? headers.Authorization[0] : null, prefix.Count > 0 ? prefix[0] : null, Transport.Grpc);
        var requestId = RequestIds.New(meta.RequestIdPrefix);
        http.Response.Headers[RequestIdHeader] = requestId;
        return invoker.InvokeAsync(rpc, request, meta, requestId, call.CancellationToken);
    }
}
