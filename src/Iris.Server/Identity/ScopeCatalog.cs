using System.Collections.Frozen;
using Clarifai.Auth.Scope;
using Google.Protobuf.Reflection;
using Iris.Contracts.Descriptors;

namespace Iris.Server.Identity;

/// <summary>
/// The scope enum <c>clarifai.auth.scope.S</c> as data, read from its descriptor: wire names (<c>Apps_Get</c>), whether a
/// scope is exposed to users (<c>clarfai_exposed</c>) and its recommended dependencies (<c>clarifai_depending_scopes</c>).
/// </summary>
internal static class ScopeCatalog
{
    public sealed record ScopeInfo(S Scope, string Name, bool Exposed, IReadOnlyList<S> DependsOn);

    public const string EndpointPrefix = "/clarifai.api.V2/";

    private static readonly FrozenDictionary<string, ScopeInfo> ByName;
    private static readonly FrozenDictionary<S, ScopeInfo> ByScope;

    static ScopeCatalog()
    {
        var infos = new List<ScopeInfo>();
        foreach (var value in ScopeReflection.Descriptor.FindTypeByName<EnumDescriptor>("S").Values)
        {
            var options = value.GetOptions();
            infos.Add(new ScopeInfo((S)value.Number, value.Name, options?.GetExtension(ScopeExtensions.ClarfaiExposed) ?? false,
                options?.GetExtension(ScopeExtensions.ClarifaiDependingScopes)?.ToArray() ?? []));
        }

        All = infos.Where(i => i.Scope != S.Undef).ToArray();
        ByName = All.ToFrozenDictionary(i => i.Name, StringComparer.Ordinal);
        ByScope = All.GroupBy(i => i.Scope).ToFrozenDictionary(g => g.Key, g => g.First());
    }

    /// <summary>Every scope but <c>undef</c>, in declaration order.</summary>
    public static IReadOnlyList<ScopeInfo> All { get; }

    public static string NameOf(S scope) => ByScope.TryGetValue(scope, out var info) ? info.Name : scope.ToString();

    public static bool TryParse(string name, out S scope)
    {
        if (ByName.TryGetValue(name, out var info))
        {
            scope = info.Scope;
            return true;
        }

        scope = S.Undef;
        return false;
    }

    /// <summary>
    /// The RPC an endpoint scope names: <c>PostModelOutputs</c>, <c>/clarifai.api.V2/PostModelOutputs</c> or
    /// <c>clarifai.api.V2.PostModelOutputs</c>; null when no such RPC exists.
    /// </summary>
    public static string? ParseEndpoint(string endpoint)
    {
        var name = endpoint;
        foreach (var prefix in (ReadOnlySpan<string>)[EndpointPrefix, "clarifai.api.V2/", "clarifai.api.V2."])
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                name = name[prefix.Length..];
                break;
            }
        }

        return ApiCatalog.Instance.Find(name)?.Name;
    }
}
