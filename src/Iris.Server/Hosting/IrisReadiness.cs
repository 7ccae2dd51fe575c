namespace Iris.Server.Hosting;

/// <summary>Flips to ready once the server has started listening; <c>/healthz</c> and the gRPC health service read it.</summary>
public sealed class IrisReadiness
{
    private volatile bool _ready;

    public bool IsReady => _ready;

    internal void MarkReady() => _ready = true;
}
