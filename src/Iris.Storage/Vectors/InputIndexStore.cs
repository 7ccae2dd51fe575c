using System.Runtime.InteropServices;
using Iris.Core.Apps;
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
    ];

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
    ];

    public IReadOnlyList<Migration> For(SqlDialect dialect) => dialect == SqlDialect.Postgres ? Postgres : Sqlite;
}

/// <summary>An input's stored base-workflow embedding.</summary>
public sealed record InputEmbedding(string InputId, string ModelVersionId, float[] Vector);

/// <summary>Where base-workflow outputs are kept, keyed by app: search and training read them.</summary>
public interface IInputIndexStore
{
    Task SaveAsync(AppRef app, string inputId, string modelId, string modelVersionId, float[] vector, IReadOnlyList<(string ConceptId, float Value)> concepts, string conceptsVersionId, CancellationToken cancellationToken);

    Task<InputEmbedding?> FindEmbeddingAsync(AppRef app, string inputId, CancellationToken cancellationToken);

    Task<IReadOnlyList<(string ConceptId, float Value)>> FindConceptsAsync(AppRef app, string inputId, CancellationToken cancellationToken);

    Task RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken);

    /// <summary>DeleteApp: everything indexed for the app goes.</summary>
    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>PatchAppsIds: the app's rows move to its new id.</summary>
    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);
}

public sealed class SqlInputIndexStore(Database database, TimeProvider time) : IInputIndexStore
{
    private static readonly string[] Tables = ["inference_input_embeddings", "inference_input_concepts"];

    public async Task SaveAsync(AppRef app, string inputId, string modelId, string modelVersionId, float[] vector, IReadOnlyList<(string ConceptId, float Value)> concepts,
        string conceptsVersionId, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("""
            INSERT INTO inference_input_embeddings (user_id, app_id, input_id, model_id, model_version_id, num_dimensions, vector, created_at, created_us)
            VALUES (@u, @a, @i, @m, @v, @n, @vec, '', @at)
            ON CONFLICT (user_id, app_id, input_id, model_version_id) DO UPDATE SET model_id = @m, num_dimensions = @n, vector = @vec, created_us = @at;
            DELETE FROM inference_input_concepts WHERE user_id = @u AND app_id = @a AND input_id = @i;
            """,
            ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId), ("@m", modelId), ("@v", modelVersionId), ("@n", vector.Length),
            ("@vec", MemoryMarshal.AsBytes(vector.AsSpan()).ToArray()), ("@at", Clock.NowMicros(time))).ConfigureAwait(false);
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
        return await s.FirstAsync(r => new InputEmbedding(inputId, r.GetString(0), MemoryMarshal.Cast<byte, float>(Sql.Bytes(r, 1)).ToArray()),
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
        foreach (var inputId in inputIds)
        {
            await s.ExecuteAsync("""
                DELETE FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a AND input_id = @i;
                DELETE FROM inference_input_concepts WHERE user_id = @u AND app_id = @a AND input_id = @i;
                """, ("@u", app.UserId), ("@a", app.AppId), ("@i", inputId)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
    }

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in Tables)
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

        await s.CommitAsync().ConfigureAwait(false);
    }
}
