using Clarifai.Auth.Scope;

namespace Iris.Server.Auth;

/// <summary>What kind of credential authenticated a request.</summary>
public enum CredentialKind
{
    /// <summary>A personal access token: reaches everything its user may reach, and must name the app.</summary>
    PersonalAccessToken,

    /// <summary>An app-specific API key: bound to one app and a set of scopes.</summary>
    ApiKey,
}

/// <summary>The authenticated caller of one request.</summary>
/// <param name="UserId">The user the credential belongs to.</param>
/// <param name="Kind">PAT or app key.</param>
/// <param name="AppId">For app keys, the one app they reach; otherwise null.</param>
public sealed record Principal(string UserId, CredentialKind Kind, string? AppId = null)
{
    /// <summary>Public id of the key (never its secret): the throttling budget and the audit log are per key.</summary>
    public string? KeyId { get; init; }

    /// <summary>Scopes of an API key; null means every scope of the user (PATs).</summary>
    public IReadOnlySet<S>? Scopes { get; init; }

    /// <summary>RPC names an API key may call regardless of <see cref="Scopes"/>; empty for PATs.</summary>
    public IReadOnlySet<string> Endpoints { get; init; } = EmptyEndpoints;

    private static readonly IReadOnlySet<string> EmptyEndpoints = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>True when the credential holds <paramref name="scope"/> (<c>All</c> holds every scope).</summary>
    public bool HasScope(S scope) => Scopes is null || Scopes.Contains(S.All) || Scopes.Contains(scope);
}
