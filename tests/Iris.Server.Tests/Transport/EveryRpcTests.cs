using System.Net;
using System.Reflection;
using Google.Protobuf;
using Grpc.Core;
using Iris.Contracts.Descriptors;
using Iris.Server.Api;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Status = Clarifai.Api.Status.Status;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Transport;

/// <summary>
/// All 289 RPCs answer on gRPC and on every REST binding: implemented ones run, the others answer 10040 naming the RPC
/// (REST 501) — never a crash, a hang or an empty body.
/// </summary>
public sealed class EveryRpcTests(IrisFixture iris) : IClassFixture<IrisFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public void The_catalog_has_every_RPC_and_binding_of_the_official_service()
    {
        var catalog = ApiCatalog.Instance;
        Assert.Equal(289, catalog.Rpcs.Count);
        Assert.Equal(Clarifai.Api.V2.Descriptor.Methods.Count, catalog.Rpcs.Count);
        Assert.All(catalog.Rpcs, rpc => Assert.NotEmpty(rpc.HttpBindings));
        Assert.Equal(3, catalog.Find("ListModels")!.HttpBindings.Count);
        Assert.Equal(5, catalog.Find("PostModelOutputs")!.HttpBindings.Count);
        Assert.Equal(Clarifai.Auth.Types.AuthType.NoAuth, catalog.Find("ListStatusCodes")!.AuthType);
        Assert.Equal(Clarifai.Auth.Types.AuthType.Patauth, catalog.Find("PostApps")!.AuthType);
        Assert.Contains(Clarifai.Auth.Scope.S.InputsAdd, catalog.Find("PostInputs")!.RequiredScopes);
    }

    [Fact]
    public async Task Every_REST_binding_answers_with_a_status_body()
    {
        var registry = iris.Server.Services.GetRequiredService<HandlerRegistry>();
        var checkedBindings = 0;
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rpc in ApiCatalog.Instance.Rpcs)
        {
            foreach (var binding in rpc.HttpBindings)
            {
                // service.proto binds a few verb+path pairs twice (PatchRunners repeats PostRunners' POST); the first RPC owns them.
                if (!claimed.Add(binding.Verb + " " + binding.Template))
                {
                    continue;
                }

                var path = System.Text.RegularExpressions.Regex.Replace(binding.Template, "\\{[^}]+\\}", "x1");
                var request = IrisFixture.Authorized(new HttpMethod(binding.Verb), path, binding.Verb == "GET" ? null : "{}");
                var (status, json, _) = await Json.SendAsync(iris.Http, request);
                var code = json.Code();
                Assert.False(string.IsNullOrEmpty(json.GetProperty("status").GetProperty("req_id").GetString()));
                if (registry.Implemented.Contains(rpc.Name))
                {
                    Assert.True((int)status < 500, $"{binding.Verb} {path} ({rpc.Name}) answered HTTP {(int)status} with {code}");
                }
                else
                {
                    Assert.True(code == 10040, $"{binding.Verb} {path} routed to the wrong RPC: {code} {json.Details()} (expected {rpc.Name})");
                    Assert.Equal(HttpStatusCode.NotImplemented, status);
                    Assert.Equal($"{rpc.Name} is not implemented in this version of Iris.", json.Details());
                }

                checkedBindings++;
            }
        }

        Assert.True(checkedBindings >= 480, $"only {checkedBindings} bindings");
    }

    [Fact]
    public async Task Every_RPC_answers_over_gRPC()
    {
        var invoker = iris.Channel.CreateCallInvoker();
        var registry = iris.Server.Services.GetRequiredService<HandlerRegistry>();
        foreach (var rpc in ApiCatalog.Instance.Rpcs)
        {
            var kind = (rpc.IsClientStreaming, rpc.IsServerStreaming) switch
            {
                (false, false) => nameof(CallUnary),
                (false, true) => nameof(CallServerStreaming),
                (true, false) => nameof(CallClientStreaming),
                (true, true) => nameof(CallDuplex),
            };
            var call = typeof(EveryRpcTests).GetMethod(kind, BindingFlags.NonPublic | BindingFlags.Static)!
                .MakeGenericMethod(rpc.GrpcMethod.GetType().GetGenericArguments());
            var response = await (Task<IMessage>)call.Invoke(null, [invoker, rpc])!;
            var status = (Status)response.Descriptor.FindFieldByName("status").Accessor.GetValue(response);
            Assert.NotNull(status);
            Assert.Matches("^[0-9a-f]{32}$", status.ReqId);
            if (!registry.Implemented.Contains(rpc.Name))
            {
                Assert.True(status.Code == StatusCode.NotImplemented, $"{rpc.Name}: {status.Code} {status.Details}");
                Assert.Equal($"{rpc.Name} is not implemented in this version of Iris.", status.Details);
            }
        }
    }

    private static CallOptions Options => new(IrisFixture.PatMetadata, DateTime.UtcNow.AddSeconds(30));

    private static async Task<IMessage> CallUnary<TRequest, TResponse>(CallInvoker invoker, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
        => await invoker.AsyncUnaryCall((Method<TRequest, TResponse>)rpc.GrpcMethod, null, Options, (TRequest)rpc.NewRequest());

    private static async Task<IMessage> CallServerStreaming<TRequest, TResponse>(CallInvoker invoker, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        using var call = invoker.AsyncServerStreamingCall((Method<TRequest, TResponse>)rpc.GrpcMethod, null, Options, (TRequest)rpc.NewRequest());
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var first = call.ResponseStream.Current;
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        return first;
    }

    private static async Task<IMessage> CallClientStreaming<TRequest, TResponse>(CallInvoker invoker, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        using var call = invoker.AsyncClientStreamingCall((Method<TRequest, TResponse>)rpc.GrpcMethod, null, Options);
        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    private static async Task<IMessage> CallDuplex<TRequest, TResponse>(CallInvoker invoker, RpcInfo rpc)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        using var call = invoker.AsyncDuplexStreamingCall((Method<TRequest, TResponse>)rpc.GrpcMethod, null, Options);
        await call.RequestStream.WriteAsync((TRequest)rpc.NewRequest());
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current;
    }
}
