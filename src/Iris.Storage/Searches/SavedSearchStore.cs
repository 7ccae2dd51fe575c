using Iris.Core.Apps;
using Iris.Storage.Db;

namespace Iris.Storage.Searches;

/// <summary>Schema of the searches area: saved searches, their Search message serialized at the API edge.</summary>
public sealed class SearchesMigrations : IMigrationSet
{
    public string Area => "searches";

    private static readonly Migration[] All =
    [
        new(1, "saved searches", """
            CREATE TABLE saved_searches (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              id TEXT NOT NULL,
              body BYTEA NOT NULL,             -- the serialized clarifai.api.Search (query, name, settings)
              created_at BIGINT NOT NULL,
              modified_at BIGINT NOT NULL,
              PRIMARY KEY (user_id, app_id, id)
            );
            CREATE INDEX saved_searches_page ON saved_searches (user_id, app_id, created_at);
            """),
    ];

    // One text for both dialects: SQLite takes BYTEA and BIGINT as BLOB and INTEGER affinities.
    public IReadOnlyList<Migration> For(SqlDialect dialect) => All;
}

/// <summary>A saved search; <see cref="Body"/> is opaque here.</summary>
public sealed record SavedSearchRow(string Id, byte[] Body, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt);

/// <summary>Saved searches of an app (PostSearches with save, GetSearch, ListSearches, PatchSearches, DeleteSearch).</summary>
public interface ISavedSearchStore
{
    /// <summary>Adds the searches atomically; returns the ids already taken (nothing is written then).</summary>
    Task<IReadOnlyList<string>> AddAsync(AppRef app, IReadOnlyList<(string Id, byte[] Body)> searches, CancellationToken cancellationToken);

    Task<SavedSearchRow?> GetAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<SavedSearchRow>> ListAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken);

    /// <summary>Replaces the bodies atomically; returns the ids that do not exist (nothing is written then).</summary>
    Task<IReadOnlyList<string>> UpdateAsync(AppRef app, IReadOnlyList<(string Id, byte[] Body)> searches, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(AppRef app, string id, CancellationToken cancellationToken);

    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);
}

public sealed class SqlSavedSearchStore(Database database, TimeProvider time) : ISavedSearchStore
{
    private static SavedSearchRow Read(System.Data.Common.DbDataReader r) =>
        new(r.GetString(0), Sql.Bytes(r, 1), Clock.FromMicros(r.GetInt64(2)), Clock.FromMicros(r.GetInt64(3)));

    public async Task<IReadOnlyList<string>> AddAsync(AppRef app, IReadOnlyList<(string Id, byte[] Body)> searches, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var taken = new List<string>();
        foreach (var (id, body) in searches)
        {
            // The primary key decides between racing writers; DO NOTHING keeps the transaction usable on PostgreSQL.
            if (await s.ExecuteAsync("""
                INSERT INTO saved_searches (user_id, app_id, id, body, created_at, modified_at) VALUES (@u, @a, @id, @b, @now, @now)
                ON CONFLICT (user_id, app_id, id) DO NOTHING;
                """, ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@b", body), ("@now", now)).ConfigureAwait(false) == 0)
            {
                taken.Add(id);
            }
        }

        if (taken.Count == 0)
        {
            await s.CommitAsync().ConfigureAwait(false);
        }

        return taken;
    }

    public async Task<SavedSearchRow?> GetAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(Read, "SELECT id, body, created_at, modified_at FROM saved_searches WHERE user_id = @u AND app_id = @a AND id = @id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SavedSearchRow>> ListAsync(AppRef app, int page, int perPage, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(Read, """
            SELECT id, body, created_at, modified_at FROM saved_searches WHERE user_id = @u AND app_id = @a
            ORDER BY created_at DESC, id LIMIT @l OFFSET @o;
            """, ("@u", app.UserId), ("@a", app.AppId), ("@l", perPage), ("@o", (long)(page - 1) * perPage)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> UpdateAsync(AppRef app, IReadOnlyList<(string Id, byte[] Body)> searches, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var missing = new List<string>();
        foreach (var (id, body) in searches)
        {
            if (await s.ExecuteAsync("UPDATE saved_searches SET body = @b, modified_at = @now WHERE user_id = @u AND app_id = @a AND id = @id;",
                ("@u", app.UserId), ("@a", app.AppId), ("@id", id), ("@b", body), ("@now", now)).ConfigureAwait(false) == 0)
            {
                missing.Add(id);
            }
        }

        if (missing.Count == 0)
        {
            await s.CommitAsync().ConfigureAwait(false);
        }

        return missing;
    }

    public async Task<bool> DeleteAsync(AppRef app, string id, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var deleted = await s.ExecuteAsync("DELETE FROM saved_searches WHERE user_id = @u AND app_id = @a AND id = @id;", ("@u", app.UserId), ("@a", app.AppId), ("@id", id)).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
        return deleted > 0;
    }

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("DELETE FROM saved_searches WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE saved_searches SET user_id = @tu, app_id = @ta WHERE user_id = @u AND app_id = @a;",
            ("@tu", to.UserId), ("@ta", to.AppId), ("@u", from.UserId), ("@a", from.AppId)).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
    }
}
