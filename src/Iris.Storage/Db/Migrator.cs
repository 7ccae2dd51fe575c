using System.Data.Common;

namespace Iris.Storage.Db;

/// <summary>One schema step. <see cref="Version"/>s of a set start at 1 and only grow; a shipped step is never edited.</summary>
public sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// The migrations of one area (identity, inputs, inference, …), one script list per dialect, as the Orleans ADO.NET
/// providers keep one script set per vendor. Areas version independently, so each owns its tables and steps; applied
/// steps are recorded in <c>schema_migrations(area, version)</c>. The two lists need not have the same length: a
/// PostgreSQL database starts from the current schema, where SQLite files in the field carry every historic step.
/// </summary>
public interface IMigrationSet
{
    string Area { get; }

    IReadOnlyList<Migration> For(SqlDialect dialect);
}

/// <summary>
/// Applies pending migrations at start-up, area by area in the order given (an area may use an earlier area's tables),
/// each step in its own write transaction that re-reads the applied version
/// first, so two processes migrating at once apply each step exactly once. (A hand-written migrator rather than DbUp
/// or Evolve: those track scripts by name in one global journal, where Iris needs per-area versions, the same code
/// for two dialects, and to run inside its own connection handling; the whole job is this file.)
/// </summary>
public static class Migrator
{
    public static async Task ApplyAsync(Database database, DbConnection connection, IEnumerable<IMigrationSet> sets, CancellationToken cancellationToken)
    {
        await Sql.ExecuteAsync(connection, null, """
            CREATE TABLE IF NOT EXISTS schema_migrations (
              area TEXT NOT NULL,
              version INTEGER NOT NULL,
              name TEXT NOT NULL,
              applied_at TEXT NOT NULL,
              PRIMARY KEY (area, version)
            );
            """, cancellationToken).ConfigureAwait(false);
        foreach (var set in sets)
        {
            var expected = 1;
            foreach (var migration in set.For(database.Dialect).OrderBy(m => m.Version))
            {
                if (migration.Version != expected++)
                {
                    throw new InvalidOperationException($"Migrations of area '{set.Area}' ({database.Dialect}) must be numbered 1, 2, 3, … without gaps.");
                }

                await using var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
                var applied = await Sql.ScalarAsync(connection, transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE area = @area;",
                    cancellationToken, ("@area", set.Area)).ConfigureAwait(false);
                if (migration.Version <= applied)
                {
                    continue;
                }

                await Sql.ExecuteAsync(connection, transaction, migration.Sql, cancellationToken).ConfigureAwait(false);
                await Sql.ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (area, version, name, applied_at) VALUES (@area, @version, @name, @at);",
                    cancellationToken, ("@area", set.Area), ("@version", migration.Version), ("@name", migration.Name),
                    ("@at", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture))).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
