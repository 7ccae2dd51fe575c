using Iris.Storage;
using Iris.Storage.Db;
using Iris.Storage.Inputs;

namespace Iris.Testing;

/// <summary>
/// A metadata store as the release before the queryable annotation columns left it: the inputs area migrated up to the
/// step before "annotations: queryable metadata (JSON) and geo point columns", every other area current, and rows
/// written with raw SQL exactly as that release wrote them (metadata and geo only inside the serialized data).
/// </summary>
public static class OlderRelease
{
    /// <summary>Migrates <paramref name="database"/> to the schema of the release before the queryable columns.</summary>
    public static Task MigrateBeforeQueryableColumnsAsync(Database database, CancellationToken cancellationToken) =>
        database.MigrateAsync([.. StorageAreas.Migrations.Select(m => m is InputsMigrations ? new BeforeQueryable(m) : m)], cancellationToken);

    /// <summary>A user and an app of that user, as that release wrote them (the app on the default base workflow).</summary>
    public static async Task WriteAppAsync(Database database, string userId, string appId, long nowMicros, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken);
        await s.ExecuteAsync("""
            INSERT INTO identity_users (id, visibility, created_at) VALUES (@u, 10, @now) ON CONFLICT (id) DO NOTHING;
            INSERT INTO identity_apps (user_id, id, name, created_at, modified_at) VALUES (@u, @a, @a, @now, @now);
            """, ("@u", userId), ("@a", appId), ("@now", nowMicros));
        await s.CommitAsync();
    }

    /// <summary>
    /// An input and its input-level annotation as that release wrote them: the input already processed (status 30000),
    /// <paramref name="media"/> and <paramref name="annotationData"/> the serialized protobuf parts.
    /// </summary>
    public static async Task WriteInputAsync(Database database, string userId, string appId, string inputId, string kind, byte[] media, byte[] annotationData,
        long nowMicros, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken);
        await s.ExecuteAsync("""
            INSERT INTO inputs (user_id, app_id, id, kind, media, status_code, created_at, modified_at) VALUES (@u, @a, @id, @kind, @media, 30000, @now, @now);
            INSERT INTO annotations (user_id, app_id, id, input_id, data, input_level, author, status_code, created_at, modified_at)
            VALUES (@u, @a, @ann, @id, @data, 1, @u, 24150, @now, @now);
            """,
            ("@u", userId), ("@a", appId), ("@id", inputId), ("@kind", kind), ("@media", media), ("@ann", "ann-" + inputId), ("@data", annotationData), ("@now", nowMicros));
        await s.CommitAsync();
    }

    /// <summary>A label (concept <paramref name="conceptId"/> at <paramref name="value"/>) on the input-level annotation <see cref="WriteInputAsync"/> wrote, as that release wrote it (no input id on the concept row).</summary>
    public static async Task WriteLabelAsync(Database database, string userId, string appId, string inputId, string conceptId, double value, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken);
        await s.ExecuteAsync("""
            INSERT INTO concepts (user_id, app_id, id, name, created_at, modified_at) VALUES (@u, @a, @c, @c, 0, 0) ON CONFLICT DO NOTHING;
            INSERT INTO annotation_concepts (user_id, app_id, annotation_id, concept_id, value) VALUES (@u, @a, @ann, @c, @v);
            """, ("@u", userId), ("@a", appId), ("@ann", "ann-" + inputId), ("@c", conceptId), ("@v", value));
        await s.CommitAsync();
    }

    private sealed class BeforeQueryable(IMigrationSet current) : IMigrationSet
    {
        public string Area => current.Area;

        public IReadOnlyList<Migration> For(SqlDialect dialect) =>
            [.. current.For(dialect).TakeWhile(m => !m.Name.StartsWith("annotations: queryable metadata", StringComparison.Ordinal))];
    }
}
