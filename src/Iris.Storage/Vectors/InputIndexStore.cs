using System.Runtime.InteropServices;
using Iris.Core.Apps;
using Iris.Storage.Blobs;
using Iris.Storage.Db;

namespace Iris.Storage.Vectors;

/// <summary>
/// Schema of the base-workflow index: each input's embedding (the source of truth for vector search) and the concepts
/// the general model predicted for it. The table names keep the area's historic "inference" prefix.
/// </summary>
public sealed class InputIndexMigrations : IMigrationSet
{
    // The area name is what SQLite files in the field recorded; it is not renamed.
    public string Area => "inference";

    private static readonly Migration[] Sqlite =
    [
        new(1, "input embeddings and predicted concepts", """
            CREATE TABLE inference_input_embeddings (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              model_id TEXT NOT NULL,
              model_version_id TEXT NOT NULL,
              num_dimensions INTEGER NOT NULL,
              vector BLOB NOT NULL,            -- float32 little-endian, num_dimensions values
              created_at TEXT NOT NULL,
              PRIMARY KEY (user_id, app_id, input_id, model_version_id)
            );
            CREATE TABLE inference_input_concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              model_version_id TEXT NOT NULL,
              concept_id TEXT NOT NULL,
              value REAL NOT NULL,
              PRIMARY KEY (user_id, app_id, input_id, model_version_id, concept_id)
            );
            CREATE INDEX inference_input_concepts_by_concept ON inference_input_concepts (user_id, app_id, concept_id, value);
            """),
        // created_at was ISO text; every area now keeps unix microseconds. Old rows get 0 (the value is informational).
        new(2, "embedding times in microseconds", """
            ALTER TABLE inference_input_embeddings ADD COLUMN created_us INTEGER NOT NULL DEFAULT 0;
            """),
        new(3, ChangesTitle, ChangesSql),
        new(4, SnapshotsTitle, SnapshotsSql),
        new(5, SeenTitle, SeenSql),
        new(6, PruneTitle, PruneSql),
    ];

    // Predicted concepts are kept only at or above a floor, so a missing row cannot tell "the model gave it less" from "the
    // model never saw it" (not processed yet, or indexed by a base workflow without that concept model). Each embedding
    // row records the concept model version that ran on the input ('' when none did): a concept rank scores exactly the
    // inputs that version saw. Rows written before this step take the version of their stored concepts (none: '').
    private const string SeenTitle = "embeddings: the concept model version that ran on each input";

    private const string SeenSql = """
        ALTER TABLE inference_input_embeddings ADD COLUMN concepts_version_id TEXT NOT NULL DEFAULT '';
        UPDATE inference_input_embeddings SET concepts_version_id = COALESCE((SELECT MIN(c.model_version_id) FROM inference_input_concepts c
          WHERE c.user_id = inference_input_embeddings.user_id AND c.app_id = inference_input_embeddings.app_id AND c.input_id = inference_input_embeddings.input_id), '');
        """;

    // The change log is pruned (PruneChangesAsync): each entry records when it was written, and each app's version row
    // the highest version pruned, below which a reader is told to reload instead of replaying a log with a hole. Older
    // entries get 0: they are as old as can be.
    private const string PruneTitle = "vector change log: entry times and each app's pruned point";

    private const string PruneSql = """
        ALTER TABLE inference_vector_changes ADD COLUMN created_us BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE inference_vector_versions ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;
        """;

    private const string SnapshotsTitle = "vector index snapshots: the blob of each (app, embedding model version) graph and the version it reflects";

    private const string SnapshotsSql = """
        CREATE TABLE inference_vector_snapshots (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          model_version_id TEXT NOT NULL,
          version BIGINT NOT NULL,
          blob_key TEXT NOT NULL,
          PRIMARY KEY (user_id, app_id, model_version_id)
        );
        """;

    // Every node's in-memory vector index follows the store through this log (VectorChanges). A writer takes the next
    // version of its app by upserting the app's row, which holds that row's lock until commit: versions of one app commit
    // in order, so a reader that has seen version N has seen every change up to N.
    private const string ChangesTitle = "vector change log: per-app versions for the search indexes of every node";

    private const string ChangesSql = """
        CREATE TABLE inference_vector_versions (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          version BIGINT NOT NULL,
          PRIMARY KEY (user_id, app_id)
        );
        CREATE TABLE inference_vector_changes (
          user_id TEXT NOT NULL,
          app_id TEXT NOT NULL,
          version BIGINT NOT NULL,
          input_id TEXT NOT NULL,
          model_version_id TEXT NOT NULL,
          op INTEGER NOT NULL,             -- 0 upsert, 1 remove, 2 reset (reload the whole app)
          PRIMARY KEY (user_id, app_id, version, input_id, model_version_id)
        );
        """;

    private static readonly Migration[] Postgres =
    [
        new(1, "input embeddings and predicted concepts", """
            CREATE TABLE inference_input_embeddings (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              model_id TEXT NOT NULL,
              model_version_id TEXT NOT NULL,
              num_dimensions INTEGER NOT NULL,
              vector BYTEA NOT NULL,
              created_at TEXT NOT NULL DEFAULT '',
              created_us BIGINT NOT NULL DEFAULT 0,
              PRIMARY KEY (user_id, app_id, input_id, model_version_id)
            );
            CREATE TABLE inference_input_concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              model_version_id TEXT NOT NULL,
              concept_id TEXT NOT NULL,
              value DOUBLE PRECISION NOT NULL,
              PRIMARY KEY (user_id, app_id, input_id, model_version_id, concept_id)
            );
            CREATE INDEX inference_input_concepts_by_concept ON inference_input_concepts (user_id, app_id, concept_id, value);
            """),
        new(2, ChangesTitle, ChangesSql),
        new(3, SnapshotsTitle, SnapshotsSql),
        new(4, SeenTitle, SeenSql),
        new(5, PruneTitle, PruneSql),
    ];

    public IReadOnlyList<Migration> For(SqlDialect dialect) => dialect == SqlDialect.Postgres ? Postgres : Sqlite;
}

/// <summary>An input's stored base-workflow embedding.</summary>
public sealed record InputEmbedding(string InputId, string ModelVersionId, float[] Vector);

/// <summary>What changed in an app's vectors after a version: each touched input with its current vector (null: gone).</summary>
/// <param name="Version">The app's version these changes bring an index to.</param>
/// <param name="Reset">True when the app was renamed onto this id since: reload everything instead.</param>
/// <param name="Changes">Each touched input (a removal may name no model version), its model version and vector (null: gone).</param>
public sealed record VectorChanges(long Version, bool Reset, IReadOnlyList<(string InputId, string ModelVersionId, float[]? Vector)> Changes);

/// <summary>Where base-workflow outputs are kept, keyed by app: search and training read them.</summary>
public interface IInputIndexStore
{
    Task SaveAsync(AppRef app, string inputId, string modelId, string modelVersionId, float[] vector, IReadOnlyList<(string ConceptId, float Value)> concepts, string conceptsVersionId, CancellationToken cancellationToken);

    Task<InputEmbedding?> FindEmbeddingAsync(AppRef app, string inputId, CancellationToken cancellationToken);

    Task<IReadOnlyList<(string ConceptId, float Value)>> FindConceptsAsync(AppRef app, string inputId, CancellationToken cancellationToken);

    Task RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken);

    /// <summary>The app's current vector version (0 when nothing was ever indexed, or after a purge).</summary>
    Task<long> VersionAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>
    /// Changes after <paramref name="version"/>, with the vectors as they are now; a reset when the log no longer reaches
    /// back to <paramref name="version"/> (pruned), so the reader reloads instead of missing changes.
    /// </summary>
    Task<VectorChanges> ChangesSinceAsync(AppRef app, long version, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the change log entries no node needs any more, in every app: written more than <paramref name="retention"/>
    /// ago and at or below the app's oldest index snapshot (its current version when it has none). Returns how many went.
    /// </summary>
    Task<long> PruneChangesAsync(TimeSpan retention, CancellationToken cancellationToken);

    /// <summary>Every stored vector of one embedding model version in the app, and the version they reflect (at least).</summary>
    Task<(long Version, IReadOnlyList<InputEmbedding> Vectors)> LoadAllAsync(AppRef app, string modelVersionId, CancellationToken cancellationToken);

    /// <summary>The latest index snapshot of (app, model version): the version it reflects and its blob; null when none.</summary>
    Task<(long Version, string BlobKey)?> FindSnapshotAsync(AppRef app, string modelVersionId, CancellationToken cancellationToken);

    /// <summary>
    /// Records a newer snapshot; returns the blob key that is no longer referenced, for the caller to delete: the one it
    /// replaced, or the offered one when it is refused (an older snapshot than the recorded one, or the app's log is gone
    /// or behind it: the app was purged). Null when nothing is to be deleted.
    /// </summary>
    Task<string?> SaveSnapshotAsync(AppRef app, string modelVersionId, long version, string blobKey, CancellationToken cancellationToken);

    /// <summary>
    /// The value concept model version <paramref name="conceptsVersionId"/> predicted for <paramref name="conceptId"/> on
    /// each input it ran on (0 where it predicted less than the floor kept at ingestion); inputs it never ran on are absent.
    /// </summary>
    Task<IReadOnlyDictionary<string, float>> PredictedValuesAsync(AppRef app, string conceptsVersionId, string conceptId, CancellationToken cancellationToken);

    /// <summary>DeleteApp: everything indexed for the app goes, its snapshot blobs included.</summary>
    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>PatchAppsIds: the app's rows move to its new id; its log and snapshots (blobs included) go, the new id starts from a reset.</summary>
    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);
}

/// <summary>
/// The base-workflow index on the metadata store. <paramref name="blobs"/> is where index snapshots are kept (the blob
/// store): given, purging or renaming an app deletes its snapshot blobs.
/// </summary>
public sealed class SqlInputIndexStore(Database database, TimeProvider time, IBlobStore? blobs = null) : IInputIndexStore
{
    private static readonly string[] Tables = ["inference_input_embeddings", "inference_input_concepts"];

    // The snapshot rows go with the log: a snapshot's version only means something against its own app's log.
    private static readonly string[] LogTables = ["inference_vector_changes", "inference_vector_versions", "inference_vector_snapshots"];

    private const int ChangeUpsert = 0;
    private const int ChangeRemove = 1;
    private const int ChangeReset = 2;

    // Takes the app's next version (the row lock orders the app's writers until commit) and logs the touched inputs.
    private async Task LogAsync(DbSession s, AppRef app, IReadOnlyList<(string InputId, string ModelVersionId)> touched, int op)
    {
        var now = Clock.NowMicros(time);
        var version = await s.ScalarAsync("""
            INSERT INTO inference_vector_versions (user_id, app_id, version) VALUES (@u, @a, 1)
            ON CONFLICT (user_id, app_id) DO UPDATE SET version = inference_vector_versions.version + 1
            RETURNING version;
            """, ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        foreach (var (inputId, modelVersionId) in touched)
        {
            await s.ExecuteAsync("""
                INSERT INTO inference_vector_changes (user_id, app_id, version, input_id, model_version_id, op, created_us) VALUES (@u, @a, @v, @i, @m, @op, @now)
                ON CONFLICT DO NOTHING;
                """, ("@u", app.UserId), ("@a", app.AppId), ("@v", version), ("@i", inputId), ("@m", modelVersionId), ("@op", op), ("@now", now)).ConfigureAwait(false);
        }
    }

    // SQLite: each app's version as last read, with the file's data version at that read (PRAGMA data_version moves on
    // every commit of any other connection or process). While the file has not changed, the app's version has not either.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<AppRef, (long DataVersion, long Version)> _versions = new();

    public async Task<long> VersionAsync(AppRef app, CancellationToken cancellationToken)
    {
        // Every search asks first (VectorIndexes' catch-up). On SQLite an unchanged file answers from memory (a few µs
        // instead of a session and a query); PostgreSQL has no such signal for other nodes' writes and is always asked.
        var dataVersion = database.Dialect == SqlDialect.Sqlite ? database.ChangeVersion("inference") : (long?)null;
        if (dataVersion is { } seen && _versions.TryGetValue(app, out var cached) && cached.DataVersion == seen)
        {
            return cached.Version;
        }

        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var version = await s.ScalarAsync("SELECT version FROM inference_vector_versions WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        if (dataVersion is { } read)
        {
            // Read before the query: a commit in between moves the data version, and the next call reads again.
            _versions[app] = (read, version);
        }

        return version;
    }

    public async Task<VectorChanges> ChangesSinceAsync(AppRef app, long version, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        // A removal logs no model version: it matches every vector of the input, and the join finds none left.
        var rows = await s.QueryAsync(r => (Version: r.GetInt64(0), InputId: r.GetString(1), ModelVersionId: r.GetString(2), Op: Sql.Int(r, 3),
                Vector: r.IsDBNull(4) ? null : Sql.Floats(r, 4)), """
            SELECT c.version, c.input_id, COALESCE(e.model_version_id, c.model_version_id), c.op, e.vector
            FROM inference_vector_changes c
            LEFT JOIN inference_input_embeddings e ON e.user_id = c.user_id AND e.app_id = c.app_id AND e.input_id = c.input_id
              AND (c.model_version_id = '' OR e.model_version_id = c.model_version_id)
            WHERE c.user_id = @u AND c.app_id = @a AND c.version > @v
            ORDER BY c.version;
            """, ("@u", app.UserId), ("@a", app.AppId), ("@v", version)).ConfigureAwait(false);
        var last = rows.Count == 0 ? version : rows[^1].Version;
        // Read after the changes: a prune that removed entries this read missed has committed its pruned point with them.
        var prunedThrough = await s.ScalarAsync("SELECT pruned_through FROM inference_vector_versions WHERE user_id = @u AND app_id = @a;",
            ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        return new VectorChanges(last, version < prunedThrough || rows.Any(r => r.Op == ChangeReset),
            [.. rows.Where(r => r.Op != ChangeReset).Select(r => (r.InputId, r.ModelVersionId, r.Vector))]);
    }

    public async Task<long> PruneChangesAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        List<(string UserId, string AppId)> apps;
        await using (var read = await database.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            apps = await read.QueryAsync(r => (r.GetString(0), r.GetString(1)), "SELECT user_id, app_id FROM inference_vector_versions ORDER BY user_id, app_id;").ConfigureAwait(false);
        }

        var cutoff = Clock.NowMicros(time) - Clock.Micros(retention);
        long pruned = 0;
        foreach (var (userId, appId) in apps)
        {
            await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
            // Every entry at or below the committed version is committed (a writer holds the version row's lock for the
            // next one until it commits), and a restoring node replays the log after its snapshot: prune up to the oldest
            // snapshot of an embedding model the app still has vectors of, or the current version when there is none
            // (its nodes load from the store).
            var cut = await s.ScalarAsync("""
                SELECT COALESCE(MAX(c.version), 0) FROM inference_vector_changes c, inference_vector_versions v
                WHERE v.user_id = @u AND v.app_id = @a AND c.user_id = @u AND c.app_id = @a AND c.created_us < @cutoff AND c.version > v.pruned_through
                  AND c.version <= COALESCE((SELECT MIN(sn.version) FROM inference_vector_snapshots sn WHERE sn.user_id = @u AND sn.app_id = @a
                    AND EXISTS (SELECT 1 FROM inference_input_embeddings e WHERE e.user_id = @u AND e.app_id = @a AND e.model_version_id = sn.model_version_id)), v.version);
                """, ("@u", userId), ("@a", appId), ("@cutoff", cutoff)).ConfigureAwait(false);
            if (cut > 0
                && await s.ExecuteAsync("UPDATE inference_vector_versions SET pruned_through = @cut WHERE user_id = @u AND app_id = @a AND pruned_through < @cut;",
                    ("@u", userId), ("@a", appId), ("@cut", cut)).ConfigureAwait(false) == 1)
            {
                pruned += await s.ExecuteAsync("DELETE FROM inference_vector_changes WHERE user_id = @u AND app_id = @a AND version <= @cut;",
                    ("@u", userId), ("@a", appId), ("@cut", cut)).ConfigureAwait(false);
            }

            await s.CommitAsync().ConfigureAwait(false);
        }

        return pruned;
    }

    public async Task<(long Version, IReadOnlyList<InputEmbedding> Vectors)> LoadAllAsync(AppRef app, string modelVersionId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        // The version first: changes committed while the vectors are read are applied again by the next catch-up (idempotent).
        var version = await s.ScalarAsync("SELECT version FROM inference_vector_versions WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        var vectors = await s.QueryAsync(r => new InputEmbedding(r.GetString(0), modelVersionId, Sql.Floats(r, 1)),
            "SELECT input_id, vector FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a AND model_version_id = @m;",
            ("@u", app.UserId), ("@a", app.AppId), ("@m", modelVersionId)).ConfigureAwait(false);
        return (version, vectors);
    }

    public async Task<(long Version, string BlobKey)?> FindSnapshotAsync(AppRef app, string modelVersionId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rows = await s.QueryAsync(r => (r.GetInt64(0), r.GetString(1)),
            "SELECT version, blob_key FROM inference_vector_snapshots WHERE user_id = @u AND app_id = @a AND model_version_id = @m;",
            ("@u", app.UserId), ("@a", app.AppId), ("@m", modelVersionId)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<string?> SaveSnapshotAsync(AppRef app, string modelVersionId, long version, string blobKey, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.LockKeyAsync("vector-snapshot:" + app.UserId + "/" + app.AppId + "/" + modelVersionId).ConfigureAwait(false);
        var previous = await s.FirstAsync(r => (Version: r.GetInt64(0), Key: r.GetString(1)),
            "SELECT version, blob_key FROM inference_vector_snapshots WHERE user_id = @u AND app_id = @a AND model_version_id = @m;",
            ("@u", app.UserId), ("@a", app.AppId), ("@m", modelVersionId)).ConfigureAwait(false);
        // A snapshot of a version the app's log has not reached (its log went with a purge, or a rename) is refused.
        var current = await s.ScalarAsync("SELECT version FROM inference_vector_versions WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        if (previous != default && previous.Version >= version || current < version || current == 0)
        {
            return previous != default && previous.Key == blobKey ? null : blobKey;
        }

        await s.ExecuteAsync("""
            INSERT INTO inference_vector_snapshots (user_id, app_id, model_version_id, version, blob_key) VALUES (@u, @a, @m, @v, @k)
            ON CONFLICT (user_id, app_id, model_version_id) DO UPDATE SET version = @v, blob_key = @k;
            """, ("@u", app.UserId), ("@a", app.AppId), ("@m", modelVersionId), ("@v", version), ("@k", blobKey)).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
        return previous == default || previous.Key == blobKey ? null : previous.Key;
    }

    public async Task<IReadOnlyDictionary<string, float>> PredictedValuesAsync(AppRef app, string conceptsVersionId, string conceptId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rows = await s.QueryAsync(r => (r.GetString(0), (float)r.GetDouble(1)), """
            SELECT e.input_id, MAX(COALESCE(c.value, 0))
            FROM inference_input_embeddings e
            LEFT JOIN inference_input_concepts c ON c.user_id = e.user_id AND c.app_id = e.app_id AND c.input_id = e.input_id
              AND c.model_version_id = e.concepts_version_id AND c.concept_id = @c
            WHERE e.user_id = @u AND e.app_id = @a AND e.concepts_version_id = @v AND @v <> ''
            GROUP BY e.input_id;
            """, ("@u", app.UserId), ("@a", app.AppId), ("@v", conceptsVersionId), ("@c", conceptId)).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Item1, r => r.Item2, StringComparer.Ordinal);
    }

    public async Task SaveAsync(AppRef app, string inputId, string modelId, string modelVersionId, float[] vector, IReadOnlyList<(string ConceptId, float Value)> concepts,
        string conceptsVersionId, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("""
            INSERT INTO inference_input_embeddings (user_id, app_id, input_id, model_id, model_version_id, num_dimensions, vector, created_at, created_us, concepts_version_id)
            VALUES (@u, @a, @i, @m, @v, @n, @vec, '', @at, @cv)
            ON CONFLICT (user_id, app_id, input_id, model_version_id) DO UPDATE SET model_id = @m, num_dimensions = @n, vector = @vec, created_us = @at;
            UPDATE inference_input_embeddings SET concepts_version_id = @cv WHERE user_id = @u AND app_id = @a AND input_id = @i;
            DELETE FROM inference_input_concepts WHERE user_id = @u AND app_id = @a AND input_id = @i;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId), ("@m", modelId), ("@v", modelVersionId), ("@n", vector.Length), ("@cv", conceptsVersionId),
            ("@vec", MemoryMarshal.AsBytes(vector.AsSpan()).ToArray()), ("@at", Clock.NowMicros(time))).ConfigureAwait(false);
        await LogAsync(s, app, [(inputId, modelVersionId)], ChangeUpsert).ConfigureAwait(false);
        foreach (var (conceptId, value) in concepts)
        {
            await s.ExecuteAsync("""
                INSERT INTO inference_input_concepts (user_id, app_id, input_id, model_version_id, concept_id, value) VALUES (@u, @a, @i, @v, @c, @val)
                ON CONFLICT (user_id, app_id, input_id, model_version_id, concept_id) DO UPDATE SET value = @val;
                """,
                ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId), ("@v", conceptsVersionId), ("@c", conceptId), ("@val", (double)value)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task<InputEmbedding?> FindEmbeddingAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.FirstAsync(r => new InputEmbedding(inputId, r.GetString(0), Sql.Floats(r, 1)),
            "SELECT model_version_id, vector FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a AND input_id = @i ORDER BY model_version_id LIMIT 1;",
            ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<(string ConceptId, float Value)>> FindConceptsAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => (r.GetString(0), (float)r.GetDouble(1)),
            "SELECT concept_id, value FROM inference_input_concepts WHERE user_id = @u AND app_id = @a AND input_id = @i ORDER BY value DESC, concept_id;",
            ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId)).ConfigureAwait(false);
    }

    public async Task RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await LogAsync(s, app, [.. inputIds.Distinct(StringComparer.Ordinal).Select(i => (i, ""))], ChangeRemove).ConfigureAwait(false);
        foreach (var inputId in inputIds)
        {
            await s.ExecuteAsync("""
                DELETE FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a AND input_id = @i;
                DELETE FROM inference_input_concepts WHERE user_id = @u AND app_id = @a AND input_id = @i;
                """, ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    // The blobs go before the rows: should the transaction fail, a row naming a missing blob only makes a node rebuild
    // instead of restoring, and the purge, run again, finds the row; the other order could leave a blob no row names.
    // Snapshot blobs are content-addressed: another app's identical snapshot would share the blob, and that app's nodes
    // would rebuild rather than restore.
    private async Task DeleteSnapshotBlobsAsync(DbSession s, AppRef app)
    {
        if (blobs is null)
        {
            return;
        }

        var keys = await s.QueryAsync(r => r.GetString(0), "SELECT blob_key FROM inference_vector_snapshots WHERE user_id = @u AND app_id = @a;",
            ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        foreach (var key in keys.Distinct(StringComparer.Ordinal))
        {
            await blobs.DeleteAsync(key, s.CancellationToken).ConfigureAwait(false);
        }
    }

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await DeleteSnapshotBlobsAsync(s, app).ConfigureAwait(false);
        // Version back to 0: every node's index of the app sees a version below its own and drops its vectors.
        foreach (var table in Tables.Concat(LogTables))
        {
            await s.ExecuteAsync($"DELETE FROM {table} WHERE user_id = @u AND app_id = @a;", ("@u", app.UserId), ("@a", app.AppId)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in Tables)
        {
            await s.ExecuteAsync($"UPDATE {table} SET user_id = @tu, app_id = @ta WHERE user_id = @u AND app_id = @a;",
                ("@tu", to.UserId), ("@ta", to.AppId), ("@u", from.UserId), ("@a", from.AppId)).ConfigureAwait(false);
        }

        // The old id's log goes (its indexes see version 0 and empty out); the new id starts from a reset, so an index any
        // node still holds under the new id (of an app deleted before) reloads rather than merging.
        await DeleteSnapshotBlobsAsync(s, from).ConfigureAwait(false);
        foreach (var table in LogTables)
        {
            await s.ExecuteAsync($"DELETE FROM {table} WHERE user_id = @u AND app_id = @a;", ("@u", from.UserId), ("@a", from.AppId)).ConfigureAwait(false);
        }

        await LogAsync(s, to, [("", "")], ChangeReset).ConfigureAwait(false);

        await s.CommitAsync().ConfigureAwait(false);
    }
}
