using Iris.Contracts.Descriptors;
using Iris.Server.Auth;

namespace Iris.Server.Api;

/// <summary>Which transport a request came in on; handlers never need it, the conventions sometimes do.</summary>
public enum Transport
{
    Grpc,
    Rest,
}

/// <summary>Everything a handler knows about the call besides its request message.</summary>
public sealed class CallContext
{
    internal CallContext(RpcInfo rpc, string requestId, Transport transport, Principal? principal, CancellationToken cancellationToken)
    {
        Rpc = rpc;
        RequestId = requestId;
        Transport = transport;
        Principal = principal;
        CancellationToken = cancellationToken;
    }

    public RpcInfo Rpc { get; }

    /// <summary>Unique per request; returned as <c>status.req_id</c> and as a response header.</summary>
    public string RequestId { get; }

    public Transport Transport { get; }

    /// <summary>The authenticated caller; null only for NoAuth RPCs.</summary>
    public Principal? Principal { get; }

    public CancellationToken CancellationToken { get; }
}

/// <summary>What the transport read from the request besides the message.</summary>
/// <param name="Authorization">The <c>Authorization</c> header or <c>authorization</c> metadata value.</param>
/// <param name="RequestIdPrefix">Optional <c>X-Clarifai-Request-ID-Prefix</c> sent by the official clients.</param>
/// <param name="Transport">The transport the request came in on.</param>
public readonly record struct RequestMeta(string? Authorization, string? RequestIdPrefix, Transport Transport);
