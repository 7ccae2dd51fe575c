using Iris.Core.Apps;
using System.Data.Common;
using Iris.Storage.Db;
using Iris.Storage.Jobs;

namespace Iris.Storage.Identity;

/// <summary>
/// <see cref="IIdentityStore"/> on the embedded SQLite database. Each call opens a pooled connection, so the CLI can
/// change users and tokens while a server runs on the same file (WAL) and the server sees them on the next request.
/// </summary>
public sealed class SqlIdentityStore(Database database, TimeProvider time) : IIdentityStore
{
    private const string AppColumns = "user_id, id, name, description, notes, default_language, default_workflow_id, visibility, is_template, sample_ms, metadata, created_at, modified_at";
    private const string KeyColumns = "id, user_id, type, description, app_id, scopes, endpoints, created_at, expires_at";
    private const string CollaboratorColumns = "c.id, c.app_user_id, c.app_id, c.user_id, c.scopes, c.endpoints, c.created_at, c.modified_at";
    private const string Area = "identity";
    private const int MaxCachedReads = 10_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Version, object? Value)> _reads = new(StringComparer.Ordinal);

    /// <summary>
    /// The reads every request makes (key by secret hash, app, collaborator), cached until the database's data version
    /// moves — any commit by any connection or process — so a key deleted by the API or by <c>iris users</c> stops
    /// working at once. Records are immutable; absent ones are cached too (creating one commits, which invalidates).
    /// </summary>
    private async Task<T> CachedAsync<T>(string key, Func<Task<T>> load)
    {
        var version = database.ChangeVersion(Area);
        if (_reads.TryGetValue(key, out var hit) && hit.Version == version)
        {
            return (T)hit.Value!;
        }

        var value = await load().ConfigureAwait(false);
        if (_reads.Count >= MaxCachedReads)
        {
            _reads.Clear();
        }

        _reads[key] = (version, value);
        return value;
    }

    public async Task<bool> CreateUserAsync(UserRecord user, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var inserted = await ExecuteAsync(connection, null, """
            INSERT INTO identity_users (id, first_name, last_name, company_name, primary_email, visibility, created_at)
            VALUES (@id, @first, @last, @company, @email, @visibility, @created) ON CONFLICT (id) DO NOTHING;
            """, cancellationToken, ("@id", user.Id), ("@first", user.FirstName), ("@last", user.LastName), ("@company", user.CompanyName),
            ("@email", user.PrimaryEmail), ("@visibility", user.Visibility), ("@created", Clock.ToMicros(user.CreatedAt))).ConfigureAwait(false);
        return inserted == 1;
    }

    public async Task<UserRecord?> FindUserAsync(string userId, CancellationToken cancellationToken)
    {
        var users = await QueryAsync("SELECT id, first_name, last_name, company_name, primary_email, visibility, created_at FROM identity_users WHERE id = @id;",
            ReadUser, cancellationToken, ("@id", userId)).ConfigureAwait(false);
        return users.Count == 0 ? null : users[0];
    }

    public Task<IReadOnlyList<UserRecord>> ListUsersAsync(CancellationToken cancellationToken) =>
        QueryAsync("SELECT id, first_name, last_name, company_name, primary_email, visibility, created_at FROM identity_users ORDER BY id;", ReadUser, cancellationToken);

    public async Task<bool> DeleteUserAsync(string userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        // Keys and collaborations of the user go with the row (ON DELETE CASCADE); their apps' keys and collaborators now.
        await ExecuteAsync(connection, transaction, """
            DELETE FROM identity_collaborators WHERE app_user_id = @id;
            DELETE FROM identity_keys WHERE user_id = @id;
            UPDATE identity_apps SET deleting = 1 WHERE user_id = @id;
            INSERT INTO work_queue (kind, user_id, app_id, target, run_after, created_at)
              SELECT @kind, user_id, id, id, @now, @now FROM identity_apps WHERE user_id = @id AND deleting = 1;
            """, cancellationToken, ("@id", userId), ("@kind", JobKinds.PurgeApp), ("@now", Clock.NowMicros(time))).ConfigureAwait(false);
        var deleted = await ExecuteAsync(connection, transaction, "DELETE FROM identity_users WHERE id = @id;", cancellationToken, ("@id", userId)).ConfigureAwait(false);
        await CommitAsync(transaction, cancellationToken).ConfigureAwait(false);
        return deleted == 1;
    }

    public async Task EnsureBootstrapAsync(string userId, string keyId, byte[] secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        await ExecuteAsync(connection, transaction, """
            INSERT INTO identity_users (id, visibility, created_at) VALUES (@user, 10, @now) ON CONFLICT (id) DO NOTHING;
            DELETE FROM identity_keys WHERE id = @key OR secret_hash = @hash;
            INSERT INTO identity_keys (id, secret_hash, user_id, type, description, app_id, scopes, endpoints, created_at, expires_at)
            VALUES (@key, @hash, @user, 'personal_access_token', 'bootstrap personal access token', NULL, 'All', '', @now, NULL);
            """, cancellationToken, ("@user", userId), ("@key", keyId), ("@hash", secretHash), ("@now", now)).ConfigureAwait(false);
        await CommitAsync(transaction, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> CreateAppAsync(AppRecord app, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var inserted = await ExecuteAsync(connection, null, $"""
            INSERT INTO identity_apps ({AppColumns}) VALUES (@user, @id, @name, @description, @notes, @language, @workflow, @visibility, @template, @sample, @metadata, @created, @modified)
            ON CONFLICT (user_id, id) DO NOTHING;
            """, cancellationToken, AppParameters(app)).ConfigureAwait(false);
        return inserted == 1;
    }

    public Task<AppRecord?> FindAppAsync(AppRef app, CancellationToken cancellationToken) =>
        CachedAsync("app\n" + app.UserId + "\n" + app.AppId, () => LoadAppAsync(app, cancellationToken));

    private async Task<AppRecord?> LoadAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        var apps = await QueryAsync($"SELECT {AppColumns} FROM identity_apps WHERE user_id = @user AND id = @id AND deleting = 0;", ReadApp, cancellationToken,
            ("@user", app.UserId), ("@id", app.AppId)).ConfigureAwait(false);
        return apps.Count == 0 ? null : apps[0];
    }

    public Task<IReadOnlyList<AppRecord>> ListAppsAsync(string ownerId, string callerId, CancellationToken cancellationToken) =>
        QueryAsync($"""
            SELECT {AppColumns} FROM identity_apps a WHERE a.user_id = @owner AND a.deleting = 0 AND (
              a.user_id = @caller OR a.visibility = 50
              OR EXISTS (SELECT 1 FROM identity_collaborators c WHERE c.app_user_id = a.user_id AND c.app_id = a.id AND c.user_id = @caller));
            """, ReadApp, cancellationToken, ("@owner", ownerId), ("@caller", callerId));

    public Task<IReadOnlyList<AppRecord>> ListVisibleAppsAsync(string callerId, CancellationToken cancellationToken) =>
        QueryAsync($"""
            SELECT {AppColumns} FROM identity_apps a WHERE a.deleting = 0 AND (
              a.user_id = @caller OR a.visibility = 50
              OR EXISTS (SELECT 1 FROM identity_collaborators c WHERE c.app_user_id = a.user_id AND c.app_id = a.id AND c.user_id = @caller));
            """, ReadApp, cancellationToken, ("@caller", callerId));

    public async Task UpdateAppAsync(AppRecord app, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, """
            UPDATE identity_apps SET name = @name, description = @description, notes = @notes, default_language = @language,
              default_workflow_id = @workflow, visibility = @visibility, is_template = @template, sample_ms = @sample, metadata = @metadata,
              modified_at = @modified
            WHERE user_id = @user AND id = @id AND deleting = 0;
            """, cancellationToken, AppParameters(app)).ConfigureAwait(false);
    }

    public async Task<bool> RenameAppAsync(AppRef app, string newId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        // The new id is free exactly when the primary key accepts it: a racing rename or create on another node loses here.
        int renamed;
        try
        {
            renamed = await ExecuteAsync(connection, transaction, """
                UPDATE identity_apps SET id = @new, modified_at = @now WHERE user_id = @user AND id = @old AND deleting = 0;
                """, cancellationToken, ("@user", app.UserId), ("@old", app.AppId), ("@new", newId), ("@now", Clock.ToMicros(now))).ConfigureAwait(false);
        }
        catch (Exception e) when (database.IsUniqueViolation(e))
        {
            return false;
        }

        if (renamed != 1)
        {
            return false;
        }

        await ExecuteAsync(connection, transaction, """
            UPDATE identity_keys SET app_id = @new WHERE user_id = @user AND app_id = @old;
            UPDATE identity_collaborators SET app_id = @new WHERE app_user_id = @user AND app_id = @old;
            """, cancellationToken, ("@user", app.UserId), ("@old", app.AppId), ("@new", newId)).ConfigureAwait(false);
        await CommitAsync(transaction, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<bool> MarkAppDeletingAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var marked = await ExecuteAsync(connection, transaction, "UPDATE identity_apps SET deleting = 1 WHERE user_id = @user AND id = @id AND deleting = 0;",
            cancellationToken, ("@user", app.UserId), ("@id", app.AppId)).ConfigureAwait(false);
        if (marked == 1)
        {
            await ExecuteAsync(connection, transaction, """
                DELETE FROM identity_keys WHERE user_id = @user AND app_id = @id;
                DELETE FROM identity_collaborators WHERE app_user_id = @user AND app_id = @id;
                INSERT INTO work_queue (kind, user_id, app_id, target, run_after, created_at) VALUES (@kind, @user, @id, @id, @now, @now);
                """, cancellationToken, ("@user", app.UserId), ("@id", app.AppId), ("@kind", JobKinds.PurgeApp), ("@now", Clock.NowMicros(time))).ConfigureAwait(false);
        }

        await CommitAsync(transaction, cancellationToken).ConfigureAwait(false);
        return marked == 1;
    }

    public async Task RemoveDeletedAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "DELETE FROM identity_apps WHERE user_id = @user AND id = @id AND deleting = 1;", cancellationToken,
            ("@user", app.UserId), ("@id", app.AppId)).ConfigureAwait(false);
    }

    public async Task CreateKeyAsync(KeyRecord key, byte[] secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, $"""
            INSERT INTO identity_keys ({KeyColumns}, secret_hash) VALUES (@id, @user, @type, @description, @app, @scopes, @endpoints, @created, @expires, @hash);
            """, cancellationToken, [.. KeyParameters(key), ("@hash", secretHash)]).ConfigureAwait(false);
    }

    public Task<(KeyRecord Key, byte[] StoredHash)?> FindKeyByHashAsync(byte[] secretHash, CancellationToken cancellationToken) =>
        CachedAsync("key\n" + Convert.ToHexString(secretHash), () => LoadKeyByHashAsync(secretHash, cancellationToken));

    private async Task<(KeyRecord Key, byte[] StoredHash)?> LoadKeyByHashAsync(byte[] secretHash, CancellationToken cancellationToken)
    {
        var keys = await QueryAsync($"SELECT {KeyColumns}, secret_hash FROM identity_keys WHERE secret_hash = @hash;",
            r => (ReadKey(r), (byte[])r.GetValue(9)), cancellationToken, ("@hash", secretHash)).ConfigureAwait(false);
        return keys.Count == 0 ? null : keys[0];
    }

    public async Task<KeyRecord?> FindKeyAsync(string userId, string keyId, CancellationToken cancellationToken)
    {
        var keys = await QueryAsync($"SELECT {KeyColumns} FROM identity_keys WHERE user_id = @user AND id = @id;", ReadKey, cancellationToken,
            ("@user", userId), ("@id", keyId)).ConfigureAwait(false);
        return keys.Count == 0 ? null : keys[0];
    }

    public Task<IReadOnlyList<KeyRecord>> ListKeysAsync(string userId, string? appId, CancellationToken cancellationToken) =>
        appId is null
            ? QueryAsync($"SELECT {KeyColumns} FROM identity_keys WHERE user_id = @user ORDER BY created_at DESC, id;", ReadKey, cancellationToken, ("@user", userId))
            : QueryAsync($"SELECT {KeyColumns} FROM identity_keys WHERE user_id = @user AND app_id = @app ORDER BY created_at DESC, id;", ReadKey, cancellationToken,
                ("@user", userId), ("@app", appId));

    public async Task UpdateKeyAsync(KeyRecord key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, """
            UPDATE identity_keys SET description = @description, scopes = @scopes, endpoints = @endpoints, expires_at = @expires
            WHERE user_id = @user AND id = @id;
            """, cancellationToken, KeyParameters(key)).ConfigureAwait(false);
    }

    public async Task<bool> DeleteKeyAsync(string userId, string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, "DELETE FROM identity_keys WHERE user_id = @user AND id = @id;", cancellationToken,
            ("@user", userId), ("@id", keyId)).ConfigureAwait(false) == 1;
    }

    public async Task<bool> AddCollaboratorAsync(CollaboratorRecord collaborator, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, """
            INSERT INTO identity_collaborators (id, app_user_id, app_id, user_id, scopes, endpoints, created_at, modified_at)
            VALUES (@id, @owner, @app, @user, @scopes, @endpoints, @created, @modified) ON CONFLICT DO NOTHING;
            """, cancellationToken, CollaboratorParameters(collaborator)).ConfigureAwait(false) == 1;
    }

    public Task<CollaboratorRecord?> FindCollaboratorAsync(AppRef app, string userId, CancellationToken cancellationToken) =>
        CachedAsync("collaborator\n" + app.UserId + "\n" + app.AppId + "\n" + userId, () => LoadCollaboratorAsync(app, userId, cancellationToken));

    private async Task<CollaboratorRecord?> LoadCollaboratorAsync(AppRef app, string userId, CancellationToken cancellationToken)
    {
        var found = await QueryAsync($"""
            SELECT {CollaboratorColumns} FROM identity_collaborators c WHERE c.app_user_id = @owner AND c.app_id = @app AND c.user_id = @user;
            """, ReadCollaborator, cancellationToken, ("@owner", app.UserId), ("@app", app.AppId), ("@user", userId)).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    public Task<IReadOnlyList<CollaboratorRecord>> ListCollaboratorsAsync(AppRef app, CancellationToken cancellationToken) =>
        QueryAsync($"""
            SELECT {CollaboratorColumns} FROM identity_collaborators c WHERE c.app_user_id = @owner AND c.app_id = @app ORDER BY c.created_at, c.user_id;
            """, ReadCollaborator, cancellationToken, ("@owner", app.UserId), ("@app", app.AppId));

    public async Task UpdateCollaboratorAsync(CollaboratorRecord collaborator, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, """
            UPDATE identity_collaborators SET scopes = @scopes, endpoints = @endpoints, modified_at = @modified
            WHERE app_user_id = @owner AND app_id = @app AND user_id = @user;
            """, cancellationToken, CollaboratorParameters(collaborator)).ConfigureAwait(false);
    }

    public async Task<bool> DeleteCollaboratorAsync(AppRef app, string userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(connection, null, "DELETE FROM identity_collaborators WHERE app_user_id = @owner AND app_id = @app AND user_id = @user;",
            cancellationToken, ("@owner", app.UserId), ("@app", app.AppId), ("@user", userId)).ConfigureAwait(false) == 1;
    }

    public Task<IReadOnlyList<(CollaboratorRecord Collaborator, AppRecord App)>> ListCollaborationsAsync(string userId, CancellationToken cancellationToken) =>
        QueryAsync($"""
            SELECT {CollaboratorColumns}, a.user_id, a.id, a.name, a.description, a.notes, a.default_language, a.default_workflow_id, a.visibility,
                   a.is_template, a.sample_ms, a.metadata, a.created_at, a.modified_at
            FROM identity_collaborators c JOIN identity_apps a ON a.user_id = c.app_user_id AND a.id = c.app_id
            WHERE c.user_id = @user AND a.deleting = 0 ORDER BY c.created_at, c.app_user_id, c.app_id;
            """, r => (ReadCollaborator(r), ReadApp(r, 8)), cancellationToken, ("@user", userId));

    private static (string, object?)[] AppParameters(AppRecord app) =>
    [
        ("@user", app.UserId), ("@id", app.Id), ("@name", app.Name), ("@description", app.Description), ("@notes", app.Notes),
        ("@language", app.DefaultLanguage), ("@workflow", app.DefaultWorkflowId), ("@visibility", app.Visibility), ("@template", app.IsTemplate ? 1 : 0),
        ("@sample", (long)app.SampleMs), ("@metadata", app.MetadataJson), ("@created", Clock.ToMicros(app.CreatedAt)), ("@modified", Clock.ToMicros(app.ModifiedAt)),
    ];

    private static (string, object?)[] KeyParameters(KeyRecord key) =>
    [
        ("@id", key.Id), ("@user", key.UserId), ("@type", key.Type), ("@description", key.Description), ("@app", key.AppId),
        ("@scopes", string.Join(' ', key.Scopes)), ("@endpoints", string.Join(' ', key.Endpoints)), ("@created", Clock.ToMicros(key.CreatedAt)),
        ("@expires", key.ExpiresAt is { } e ? Clock.ToMicros(e) : null),
    ];

    private static (string, object?)[] CollaboratorParameters(CollaboratorRecord c) =>
    [
        ("@id", c.Id), ("@owner", c.App.UserId), ("@app", c.App.AppId), ("@user", c.UserId), ("@scopes", string.Join(' ', c.Scopes)),
        ("@endpoints", string.Join(' ', c.Endpoints)), ("@created", Clock.ToMicros(c.CreatedAt)), ("@modified", Clock.ToMicros(c.ModifiedAt)),
    ];

    private static UserRecord ReadUser(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), Sql.Int(r, 5), Clock.FromMicros(r.GetInt64(6)));

    private static AppRecord ReadApp(DbDataReader r) => ReadApp(r, 0);

    private static AppRecord ReadApp(DbDataReader r, int o) =>
        new(r.GetString(o), r.GetString(o + 1), r.GetString(o + 2), r.GetString(o + 3), r.GetString(o + 4), r.GetString(o + 5), r.GetString(o + 6),
            Sql.Int(r, o + 7), r.GetInt64(o + 8) != 0, (uint)r.GetInt64(o + 9), r.GetString(o + 10), Clock.FromMicros(r.GetInt64(o + 11)), Clock.FromMicros(r.GetInt64(o + 12)));

    private static KeyRecord ReadKey(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), Split(r.GetString(5)), Split(r.GetString(6)),
            Clock.FromMicros(r.GetInt64(7)), r.IsDBNull(8) ? null : Clock.FromMicros(r.GetInt64(8)));

    private static CollaboratorRecord ReadCollaborator(DbDataReader r) =>
        new(r.GetString(0), new AppRef(r.GetString(1), r.GetString(2)), r.GetString(3), Split(r.GetString(4)), Split(r.GetString(5)),
            Clock.FromMicros(r.GetInt64(6)), Clock.FromMicros(r.GetInt64(7)));

    private static string[] Split(string value) => value.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string, object?)[] parameters)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await QueryAsync(connection, null, sql, read, cancellationToken, parameters).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<T>> QueryAsync<T>(DbConnection connection, DbTransaction? transaction, string sql, Func<DbDataReader, T> read,
        CancellationToken cancellationToken, params (string, object?)[] parameters) =>
        await Sql.QueryAsync(connection, transaction, read, sql, cancellationToken, parameters).ConfigureAwait(false);

    // A write transaction noted its change before committing; a read of this node that ran in between may have cached the
    // old value under the new version. Moving this node's version again after the commit drops that entry at once.
    private async Task CommitAsync(DbTransaction transaction, CancellationToken cancellationToken)
    {
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        database.NoteLocalChange();
    }

    // Every write notes the change, so the read caches of every node drop what it touched (see CachedAsync).
    private async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string, object?)[] parameters)
    {
        var changed = await Sql.ExecuteAsync(connection, transaction, sql, cancellationToken, parameters).ConfigureAwait(false);
        await database.NoteChangeAsync(connection, transaction, Area, cancellationToken).ConfigureAwait(false);
        return changed;
    }
}
