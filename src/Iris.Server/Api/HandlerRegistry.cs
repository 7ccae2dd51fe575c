using System.Collections.Frozen;
using Google.Protobuf;
using Iris.Contracts.Descriptors;

namespace Iris.Server.Api;

/// <summary>A unary handler: the same code serves gRPC and REST.</summary>
public delegate ValueTask<TResponse> UnaryHandler<in TRequest, TResponse>(TRequest request, CallContext context)
    where TRequest : IMessage
    where TResponse : IMessage;

/// <summary>A family of RPCs (status codes, apps, inputs, …) registering its handlers.</summary>
public interface IApiModule
{
    void Register(HandlerRegistry registry);
}

/// <summary>
/// The server's registry of implemented RPCs. Anything not registered answers 10040 NOT_IMPLEMENTED, and the
/// compatibility table in docs/ is generated from this registry.
/// </summary>
public sealed class HandlerRegistry
{
    private readonly Dictionary<string, Func<IMessage, CallContext, ValueTask<IMessage>>> _handlers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _statusIsPayload = new(StringComparer.Ordinal);
    private FrozenDictionary<string, Func<IMessage, CallContext, ValueTask<IMessage>>>? _frozen;

    public HandlerRegistry(IEnumerable<IApiModule> modules)
    {
        foreach (var module in modules)
        {
            module.Register(this);
        }

        _frozen = _handlers.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public IReadOnlyCollection<string> Implemented => _frozen?.Keys ?? (IReadOnlyCollection<string>)_handlers.Keys;

    public void Add<TRequest, TResponse>(string rpcName, UnaryHandler<TRequest, TResponse> handler)
        where TRequest : IMessage
        where TResponse : IMessage
    {
        if (_frozen is not null)
        {
            throw new InvalidOperationException("Handlers are registered at start-up only.");
        }

        var rpc = ApiCatalog.Instance.Find(rpcName) ?? throw new ArgumentException($"No RPC named {rpcName} in clarifai.api.V2.", nameof(rpcName));
        if (rpc.RequestType.ClrType != typeof(TRequest) || rpc.ResponseType.ClrType != typeof(TResponse))
        {
            throw new ArgumentException($"{rpcName} takes {rpc.RequestType.ClrType.Name} and returns {rpc.ResponseType.ClrType.Name}.", nameof(handler));
        }

        if (rpc.IsClientStreaming || rpc.IsServerStreaming)
        {
            throw new ArgumentException($"{rpcName} is a streaming RPC; unary handlers cannot serve it.", nameof(rpcName));
        }

        if (!_handlers.TryAdd(rpcName, async (request, context) => await handler((TRequest)request, context).ConfigureAwait(false)))
        {
            throw new ArgumentException($"{rpcName} is registered twice.", nameof(rpcName));
        }
    }

    /// <summary>
    /// Marks an RPC whose response <c>status</c> is its answer rather than the outcome of the call (GetStatusCode
    /// describes the code asked for), so REST answers HTTP 200 when the handler succeeds.
    /// </summary>
    public void MarkStatusIsPayload(string rpcName)
    {
        if (!_handlers.ContainsKey(rpcName))
        {
            throw new ArgumentException($"{rpcName} has no handler.", nameof(rpcName));
        }

        _statusIsPayload.Add(rpcName);
    }

    public bool StatusIsPayload(string rpcName) => _statusIsPayload.Contains(rpcName);

    internal Func<IMessage, CallContext, ValueTask<IMessage>>? Find(string rpcName) => _frozen!.GetValueOrDefault(rpcName);
}
