using Iris.Core.Apps;

namespace Iris.Storage.Identity;

/// <summary>
/// Users, apps, keys and collaborators. Every app-level query is keyed by the app (owner + app id), and key look-ups
/// by their hash or by owner, so a handler that forgets a check still cannot read across apps. Apps being deleted are
/// invisible to every query except the deletion worker's. Implemented on SQLite today; nothing here is SQLite-specific.
/// </summary>
public interface IIdentityStore
{
    Task<bool> CreateUserAsync(UserRecord user, CancellationToken cancellationToken);

    Task<UserRecord?> FindUserAsync(string userId, CancellationToken cancellationToken);

    Task<IReadOnlyList<UserRecord>> ListUsersAsync(CancellationToken cancellationToken);

    /// <summary>Removes the user with their keys and collaborations at once and marks their apps for deletion; false when unknown.</summary>
    Task<bool> DeleteUserAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Creates the bootstrap user when missing and points key <paramref name="keyId"/> at the hash of its PAT.</summary>
    Task EnsureBootstrapAsync(string userId, string keyId, byte[] secretHash, CancellationToken cancellationToken);

    /// <summary>False when an app (live or being deleted) already has that id.</summary>
    Task<bool> CreateAppAsync(AppRecord app, CancellationToken cancellationToken);

    Task<AppRecord?> FindAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>Live apps of <paramref name="ownerId"/> that <paramref name="callerId"/> may see (all when they are the owner).</summary>
    Task<IReadOnlyList<AppRecord>> ListAppsAsync(string ownerId, string callerId, CancellationToken cancellationToken);

    /// <summary>Live apps the caller may see anywhere: their own, their collaborations and public apps.</summary>
    Task<IReadOnlyList<AppRecord>> ListVisibleAppsAsync(string callerId, CancellationToken cancellationToken);

    Task UpdateAppAsync(AppRecord app, CancellationToken cancellationToken);

    /// <summary>Renames an app with its keys and collaborators; false when <paramref name="newId"/> is taken.</summary>
    Task<bool> RenameAppAsync(AppRef app, string newId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Hides the app at once, removes its keys and collaborators and queues its purge job; false when it was not live.</summary>
    Task<bool> MarkAppDeletingAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>Removes the row of an app marked for deletion, after every area purged its data.</summary>
    Task RemoveDeletedAppAsync(AppRef app, CancellationToken cancellationToken);

    Task CreateKeyAsync(KeyRecord key, byte[] secretHash, CancellationToken cancellationToken);

    /// <summary>The key whose secret hashes to <paramref name="secretHash"/>, with the stored hash for a constant-time comparison.</summary>
    Task<(KeyRecord Key, byte[] StoredHash)?> FindKeyByHashAsync(byte[] secretHash, CancellationToken cancellationToken);

    Task<KeyRecord?> FindKeyAsync(string userId, string keyId, CancellationToken cancellationToken);

    /// <summary>Keys of a user; with <paramref name="appId"/>, only the app-specific keys of that app of theirs.</summary>
    Task<IReadOnlyList<KeyRecord>> ListKeysAsync(string userId, string? appId, CancellationToken cancellationToken);

    Task UpdateKeyAsync(KeyRecord key, CancellationToken cancellationToken);

    Task<bool> DeleteKeyAsync(string userId, string keyId, CancellationToken cancellationToken);

    /// <summary>False when the user already collaborates on the app.</summary>
    Task<bool> AddCollaboratorAsync(CollaboratorRecord collaborator, CancellationToken cancellationToken);

    Task<CollaboratorRecord?> FindCollaboratorAsync(AppRef app, string userId, CancellationToken cancellationToken);

    Task<IReadOnlyList<CollaboratorRecord>> ListCollaboratorsAsync(AppRef app, CancellationToken cancellationToken);

    Task UpdateCollaboratorAsync(CollaboratorRecord collaborator, CancellationToken cancellationToken);

    Task<bool> DeleteCollaboratorAsync(AppRef app, string userId, CancellationToken cancellationToken);

    /// <summary>The live apps <paramref name="userId"/> collaborates on.</summary>
    Task<IReadOnlyList<(CollaboratorRecord Collaborator, AppRecord App)>> ListCollaborationsAsync(string userId, CancellationToken cancellationToken);
}
