using Clarifai.Auth.Scope;
using Clarifai.Auth.Types;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Iris.Contracts.Descriptors;

/// <summary>One RPC of service <c>clarifai.api.V2</c>, with everything the transports need, read from its descriptor.</summary>
public sealed class RpcInfo
{
    internal RpcInfo(MethodDescriptor method, AuthType authType, IReadOnlyList<S> scopes, IReadOnlyList<HttpBinding> bindings, object grpcMethod)
    {
        Method = method;
        AuthType = authType;
        RequiredScopes = scopes;
        HttpBindings = bindings;
        GrpcMethod = grpcMethod;
        var ids = method.InputType.FindFieldByName("user_app_id");
        UserAppIdField = ids is { FieldType: FieldType.Message, IsRepeated: false } && ids.MessageType.ClrType == typeof(Clarifai.Api.UserAppIDSet) ? ids : null;
    }

    /// <summary>The RPC name, e.g. <c>PostModelOutputs</c>.</summary>
    public string Name => Method.Name;

    public MethodDescriptor Method { get; }

    public MessageDescriptor RequestType => Method.InputType;

    public MessageDescriptor ResponseType => Method.OutputType;

    public bool IsClientStreaming => Method.IsClientStreaming;

    public bool IsServerStreaming => Method.IsServerStreaming;

    /// <summary>From the <c>cl_auth_type</c> method option.</summary>
    public AuthType AuthType { get; }

    /// <summary>From the <c>cl_depending_scopes</c> method option: the minimum scopes an API key needs.</summary>
    public IReadOnlyList<S> RequiredScopes { get; }

    /// <summary>Every <c>google.api.http</c> binding, <c>additional_bindings</c> included, in declaration order.</summary>
    public IReadOnlyList<HttpBinding> HttpBindings { get; }

    /// <summary>The request's <c>user_app_id</c> field (a <c>UserAppIDSet</c>), or null when the request has none; looked up once.</summary>
    public FieldDescriptor? UserAppIdField { get; }

    /// <summary>The generated <c>Grpc.Core.Method&lt;TRequest, TResponse&gt;</c> of this RPC.</summary>
    public object GrpcMethod { get; }

    public IMessage NewRequest() => RequestType.Parser.ParseFrom(ByteString.Empty);

    public IMessage NewResponse() => ResponseType.Parser.ParseFrom(ByteString.Empty);
}

/// <summary>One REST binding: an HTTP verb and a path template such as <c>/v2/users/{user_app_id.user_id}/apps/{user_app_id.app_id}/inputs</c>.</summary>
public sealed record HttpBinding(string Verb, string Template, string Body);
