using Iris.Core.Apps;

namespace Iris.Storage.Identity;

/// <summary>Visibility levels of <c>Visibility.Gettable</c> as stored (resources.proto).</summary>
public static class Gettable
{
    public const int Private = 10;
    public const int Org = 30;
    public const int Public = 50;
}

/// <summary>Key types of <c>Key.type</c>.</summary>
public static class KeyTypes
{
    public const string AppSpecific = "app_specific_key";
    public const string PersonalAccessToken = "personal_access_token";
}

public sealed record UserRecord(string Id, string FirstName, string LastName, string CompanyName, string PrimaryEmail, int Visibility, DateTimeOffset CreatedAt);

public sealed record AppRecord(
    string UserId,
    string Id,
    string Name,
    string Description,
    string Notes,
    string DefaultLanguage,
    string DefaultWorkflowId,
    int Visibility,
    bool IsTemplate,
    uint SampleMs,
    string MetadataJson,
    DateTimeOffset CreatedAt,
    DateTimeOffset ModifiedAt)
{
    public AppRef Ref => new(UserId, Id);
}

/// <summary>A key as stored; its secret exists only as a hash.</summary>
/// <param name="Id">The key's public id (never the secret), used by GetKey/PatchKeys/DeleteKey and in logs.</param>
/// <param name="UserId">The owner.</param>
/// <param name="Type"><see cref="KeyTypes"/>.</param>
/// <param name="Description">Free text.</param>
/// <param name="AppId">The one app of an app-specific key (owned by <paramref name="UserId"/>); null for PATs.</param>
/// <param name="Scopes">Proto names of <c>clarifai.auth.scope.S</c> values (<c>All</c>, <c>Apps_Get</c>, …).</param>
/// <param name="Endpoints">RPC names the key may call regardless of its scopes.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="ExpiresAt">When the key stops working; null = never.</param>
public sealed record KeyRecord(
    string Id,
    string UserId,
    string Type,
    string Description,
    string? AppId,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> Endpoints,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt);

public sealed record CollaboratorRecord(
    string Id,
    AppRef App,
    string UserId,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> Endpoints,
    DateTimeOffset CreatedAt,
    DateTimeOffset ModifiedAt);
