using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Iris.Storage;

/// <summary>One schema step. <see cref="Version"/>s of a set start at 1 and only grow; a shipped step is never edited.</summary>
public sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// The migrations of one area (identity, inputs, inference, …). Areas version independently, so each owns its
/// tables and steps; the applied steps are recorded in <c>schema_migrations(area, version)</c>.
/// </summary>
public interface IMigrationSet
{
    string Area { get; }

    IReadOnlyList<Migration> Migrations { get; }
}

/// <summary>Applies pending migrations at start-up, each step in its own transaction.</summary>
public static class Migrator
{
    public static void Apply(SqliteDatabase database, IEnumerable<IMigrationSet> sets)
    {
        using var connection = database.Open();
        SqliteDatabase.Execute(connection, """
            CREATE TABLE IF NOT EXISTS schema_migrations (
              area TEXT NOT NULL,
              version INTEGER NOT NULL,
              name TEXT NOT NULL,
              applied_at TEXT NOT NULL,
              PRIMARY KEY (area, version)
            );
            """);
        foreach (var set in sets.OrderBy(s => s.Area, StringComparer.Ordinal))
        {
            var applied = AppliedVersion(connection, set.Area);
            var expected = 1;
            foreach (var migration in set.Migrations.OrderBy(m => m.Version))
            {
                if (migration.Version != expected++)
                {
                    throw new InvalidOperationException($"Migrations of area '{set.Area}' must be numbered 1, 2, 3, … without gaps.");
                }

                if (migration.Version <= applied)
                {
                    continue;
                }

                using var transaction = connection.BeginTransaction();
                SqliteDatabase.Execute(connection, migration.Sql, transaction);
                using (var record = connection.CreateCommand())
                {
                    record.Transaction = transaction;
                    record.CommandText = "INSERT INTO schema_migrations (area, version, name, applied_at) VALUES ($area, $version, $name, $at);";
                    record.Parameters.AddWithValue("$area", set.Area);
                    record.Parameters.AddWithValue("$version", migration.Version);
                    record.Parameters.AddWithValue("$name", migration.Name);
                    record.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                    record.ExecuteNonQuery();
                }

                transaction.Commit();
            }
        }
    }

    private static int AppliedVersion(SqliteConnection connection, string area)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE area = $area;";
        command.Parameters.AddWithValue("$area", area);
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
