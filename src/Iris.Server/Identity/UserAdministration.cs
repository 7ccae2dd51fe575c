using Iris.Storage.Identity;
using Iris.Core.Errors;
using Iris.Server.Auth;
using Iris.Storage;
using Iris.Storage.Db;

namespace Iris.Server.Identity;

/// <summary>One user as the operator sees it.</summary>
public sealed record UserSummary(string Id, string Name, string PrimaryEmail, DateTimeOffset CreatedAt, int Tokens);

/// <summary>
/// The operator's user management (<c>iris users …</c>) on the metadata database (SQLite in a data directory or
/// PostgreSQL), safe while servers run on it: writes note the change, so every server's key cache drops it (at once on
/// SQLite, within a poll interval on PostgreSQL) and deleted users' tokens stop. Deleting a user marks their apps for deletion; a running server (or the next start) purges them.
/// </summary>
public sealed class UserAdministration : IAsyncDisposable
{
    private readonly Database _database;
    private readonly SqlIdentityStore _store;

    private UserAdministration(Database database)
    {
        _database = database;
        _store = new SqlIdentityStore(database, TimeProvider.System);
    }

    /// <summary>Opens the metadata database a server with these settings uses (SQLite in <paramref name="dataDir"/>, or <paramref name="databaseUrl"/>) and migrates it.</summary>
    public static async Task<UserAdministration> OpenAsync(string dataDir, string? databaseUrl = null, CancellationToken cancellationToken = default)
    {
        var database = Database.Create(databaseUrl, dataDir, TimeProvider.System);
        try
        {
            await database.MigrateAsync(StorageAreas.Migrations, cancellationToken).ConfigureAwait(false);
            return new UserAdministration(database);
        }
        catch
        {
            await database.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    public async Task CreateUserAsync(string userId, string firstName, string lastName, string email, CancellationToken cancellationToken = default)
    {
        try
        {
            IdentityMapping.ValidateId("User", userId);
        }
        catch (IrisException e)
        {
            throw new InvalidOperationException(e.Details, e);
        }

        var user = new UserRecord(userId, firstName, lastName, string.Empty, email, Gettable.Private, DateTimeOffset.UtcNow);
        if (!await _store.CreateUserAsync(user, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"User '{userId}' already exists.");
        }
    }

    public async Task<IReadOnlyList<UserSummary>> ListUsersAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<UserSummary>();
        foreach (var user in await _store.ListUsersAsync(cancellationToken).ConfigureAwait(false))
        {
            var keys = await _store.ListKeysAsync(user.Id, null, cancellationToken).ConfigureAwait(false);
            result.Add(new UserSummary(user.Id, $"{user.FirstName} {user.LastName}".Trim(), user.PrimaryEmail, user.CreatedAt,
                keys.Count(k => k.Type == KeyTypes.PersonalAccessToken)));
        }

        return result;
    }

    public async Task DeleteUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        if (userId == "clarifai")
        {
            throw new InvalidOperationException("User 'clarifai' owns the built-in models and cannot be deleted.");
        }

        if (!await _store.DeleteUserAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"User '{userId}' does not exist.");
        }
    }

    /// <summary>Creates a personal access token for the user and returns its secret (shown once, stored only as a hash).</summary>
    public async Task<(string KeyId, string Secret)> CreateTokenAsync(string userId, string description, CancellationToken cancellationToken = default)
    {
        if (await _store.FindUserAsync(userId, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new InvalidOperationException($"User '{userId}' does not exist.");
        }

        var secret = Tokens.NewSecret();
        var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var key = new KeyRecord(id, userId, KeyTypes.PersonalAccessToken, description, null, ["All"], [], DateTimeOffset.UtcNow, null);
        await _store.CreateKeyAsync(key, DbCredentialStore.Hash(secret), cancellationToken).ConfigureAwait(false);
        return (id, secret);
    }
}
