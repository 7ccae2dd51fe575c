using System.Collections.Frozen;
using System.Reflection;
using Clarifai.Api;
using Clarifai.Auth.Types;
using Clarifai.Auth.Util;
using Google.Api;
using Google.Protobuf.Reflection;

namespace Iris.Contracts.Descriptors;

/// <summary>
/// The V2 service as data: every RPC with its REST bindings, auth type and scopes, read once from the
/// descriptors compiled from the official protos. Nothing here is hand-listed.
/// </summary>
public sealed class ApiCatalog
{
    public static ApiCatalog Instance { get; } = new();

    private readonly FrozenDictionary<string, RpcInfo> _byName;

    private ApiCatalog()
    {
        Service = Clarifai.Api.ServiceReflection.Descriptor.FindTypeByName<ServiceDescriptor>("V2")
            ?? throw new InvalidOperationException("clarifai.api.V2 is missing from the compiled protos.");
        var rpcs = new List<RpcInfo>(Service.Methods.Count);
        foreach (var method in Service.Methods)
        {
            var options = method.GetOptions();
            var authType = options?.GetExtension(ExtensionExtensions.ClAuthType) ?? AuthType.Undef;
            var scopes = options?.GetExtension(ExtensionExtensions.ClDependingScopes)?.ToArray() ?? [];
            var bindings = new List<HttpBinding>();
            var rule = options?.GetExtension(AnnotationsExtensions.Http);
            if (rule is not null)
            {
                AddBinding(bindings, rule);
                foreach (var extra in rule.AdditionalBindings)
                {
                    AddBinding(bindings, extra);
                }
            }

            rpcs.Add(new RpcInfo(method, authType, scopes, bindings, FindGrpcMethod(method.Name)));
        }

        Rpcs = rpcs;
        _byName = rpcs.ToFrozenDictionary(r => r.Name, StringComparer.Ordinal);
    }

    public ServiceDescriptor Service { get; }

    /// <summary>All RPCs in declaration order (the order of service.proto, which also encodes REST precedence).</summary>
    public IReadOnlyList<RpcInfo> Rpcs { get; }

    public RpcInfo? Find(string name) => _byName.GetValueOrDefault(name);

    private static void AddBinding(List<HttpBinding> bindings, HttpRule rule)
    {
        var (verb, template) = rule.PatternCase switch
        {
            HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
            HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
            HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
            HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
            HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
            HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind.ToUpperInvariant(), rule.Custom.Path),
            _ => (string.Empty, string.Empty),
        };
        if (verb.Length > 0)
        {
            bindings.Add(new HttpBinding(verb, template, rule.Body));
        }
    }

    /// <summary>The generated client/server code keeps one static <c>Method&lt;,&gt;</c> per RPC; reuse it (and its marshallers).</summary>
    private static object FindGrpcMethod(string name)
    {
        var field = typeof(V2).GetField("__Method_" + name, BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"Generated gRPC method for {name} not found.");
        return field.GetValue(null)!;
    }
}
