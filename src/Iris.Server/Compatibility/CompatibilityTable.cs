using System.Globalization;
using System.Text;
using Iris.Contracts.Descriptors;
using Iris.Server.Api;

namespace Iris.Server.Compatibility;

/// <summary>
/// Renders docs/api-compatibility.md from the service descriptor and the server's registry of implemented RPCs: one
/// row per RPC of <c>clarifai.api.V2</c>. A test fails when the committed file differs from this output.
/// </summary>
public static class CompatibilityTable
{
    public const string RelativePath = "docs/api-compatibility.md";

    public static string Render(ApiCatalog catalog, HandlerRegistry registry)
    {
        var implemented = registry.Implemented.ToHashSet(StringComparer.Ordinal);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# API compatibility");
        sb.AppendLine();
        sb.AppendLine("Generated from the `clarifai.api.V2` service descriptor (npm `clarifai-nodejs-grpc` 11.11.0) and Iris' registry of");
        sb.AppendLine("implemented RPCs by `./iris docs api-compatibility`; a test fails when this file is stale. Every RPC is served on");
        sb.AppendLine("gRPC and on each of its REST bindings; an RPC marked \"not yet\" answers `10040 NOT_IMPLEMENTED` (REST 501).");
        sb.AppendLine();
        sb.AppendLine(inv, $"Implemented: **{implemented.Count}** of **{catalog.Rpcs.Count}** RPCs.");
        sb.AppendLine();
        sb.AppendLine("| RPC | Implemented | Auth | Streaming | REST bindings |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var rpc in catalog.Rpcs)
        {
            var streaming = (rpc.IsClientStreaming, rpc.IsServerStreaming) switch
            {
                (true, true) => "bidi",
                (true, false) => "client",
                (false, true) => "server",
                _ => string.Empty,
            };
            var bindings = string.Join("<br>", rpc.HttpBindings.Select(b => $"`{b.Verb} {b.Template}`"));
            sb.AppendLine(inv, $"| {rpc.Name} | {(implemented.Contains(rpc.Name) ? "yes" : "not yet")} | {rpc.AuthType} | {streaming} | {bindings} |");
        }

        return sb.ToString();
    }
}
