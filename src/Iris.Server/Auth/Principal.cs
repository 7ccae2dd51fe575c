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
public sealed record Principal(string UserId, CredentialKind Kind, string? AppId = null);
