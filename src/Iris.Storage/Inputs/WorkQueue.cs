using System.Globalization;
using Iris.Core.Apps;
using Microsoft.Data.Sqlite;

namespace Iris.Storage.Inputs;

/// <summary>
/// One unit of background work: ingest an input, purge a deleted one, freeze a dataset version. <see cref="Attempts"/>
/// counts the claims, this one included.
/// </summary>
public sealed record WorkItem(long Id, string Kind, AppRef App, string Target, int Attempts);

/// <summary>Kinds of work the inputs area queues.</summary>
public static class WorkKinds
{
    public const string Ingest = "ingest";
    public const string Purge = "purge";
    public const string DatasetVersion = "dataset_version";
}

/// <summary>
/// A durable queue in the metadata store. Work is written in the same transaction as the rows it concerns; a worker
/// claims an item with a lease, renews it while working and deletes it when done. A crashed process stops renewing, its
/// lease expires and another worker claims the item again, so every step must be idempotent. A PostgreSQL
/// implementation claims with <c>FOR UPDATE SKIP LOCKED</c>.
/// </summary>
public interface IWorkQueue
{
    /// <summary>The oldest ready item, leased to <paramref name="owner"/> until now + <paramref name="lease"/>; null when none is ready.</summary>
    Task<WorkItem?> ClaimAsync(string owner, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Extends a lease still held by <paramref name="owner"/>; false when it was lost (expired and claimed by someone else).</summary>
    Task<bool> RenewAsync(long id, string owner, TimeSpan lease, CancellationToken cancellationToken);

    Task CompleteAsync(long id, string owner, CancellationToken cancellationToken);

    /// <summary>Releases the item to run again after <paramref name="delay"/>.</summary>
    Task RetryAsync(long id, string owner, TimeSpan delay, string error, CancellationToken cancellationToken);

    /// <summary>Items not yet done (for tests and the benchmark).</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);
}

public sealed class SqliteWorkQueue(SqliteDatabase database, TimeProvider time) : IWorkQueue
{
    public Task<WorkItem?> ClaimAsync(string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        var now = Clock.NowMicros(time);
        using var command = Sql.Command(connection, transaction, """
            UPDATE work_queue SET lease_owner = $owner, lease_until = $until, attempts = attempts + 1
            WHERE id = (SELECT id FROM work_queue WHERE run_after <= $now AND lease_until < $now ORDER BY id LIMIT 1)
            RETURNING id, kind, user_id, app_id, target, attempts;
            """,
            ("$owner", owner), ("$until", now + Clock.Micros(lease)), ("$now", now));
        WorkItem? item = null;
        using (var reader = command.ExecuteReader())
        {
            if (reader.Read())
            {
                item = new WorkItem(reader.GetInt64(0), reader.GetString(1), new AppRef(reader.GetString(2), reader.GetString(3)), reader.GetString(4), reader.GetInt32(5));
            }
        }

        transaction.Commit();
        return Task.FromResult(item);
    }

    public Task<bool> RenewAsync(long id, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        using var connection = database.Open();
        var now = Clock.NowMicros(time);
        using var command = Sql.Command(connection, null, "UPDATE work_queue SET lease_until = $until WHERE id = $id AND lease_owner = $owner AND lease_until >= $now;",
            ("$until", now + Clock.Micros(lease)), ("$id", id), ("$owner", owner), ("$now", now));
        return Task.FromResult(command.ExecuteNonQuery() == 1);
    }

    public Task CompleteAsync(long id, string owner, CancellationToken cancellationToken)
    {
        using var connection = database.Open();
        using var command = Sql.Command(connection, null, "DELETE FROM work_queue WHERE id = $id AND lease_owner = $owner;", ("$id", id), ("$owner", owner));
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task RetryAsync(long id, string owner, TimeSpan delay, string error, CancellationToken cancellationToken)
    {
        using var connection = database.Open();
        using var command = Sql.Command(connection, null,
            "UPDATE work_queue SET lease_owner = NULL, lease_until = 0, run_after = $after, last_error = $error WHERE id = $id AND lease_owner = $owner;",
            ("$after", Clock.NowMicros(time) + Clock.Micros(delay)), ("$error", error), ("$id", id), ("$owner", owner));
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task<long> CountAsync(CancellationToken cancellationToken)
    {
        using var connection = database.Open();
        using var command = Sql.Command(connection, null, "SELECT COUNT(*) FROM work_queue;");
        return Task.FromResult(Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture));
    }

    /// <summary>Queues work inside the caller's transaction, so the work exists exactly when the rows it concerns do.</summary>
    internal static void Enqueue(SqliteConnection connection, SqliteTransaction transaction, string kind, AppRef app, string target, long nowMicros)
    {
        using var command = Sql.Command(connection, transaction,
            "INSERT INTO work_queue (kind, user_id, app_id, target, run_after, created_at) VALUES ($kind, $user, $app, $target, $now, $now);",
            ("$kind", kind), ("$user", app.UserId), ("$app", app.AppId), ("$target", target), ("$now", nowMicros));
        command.ExecuteNonQuery();
    }
}

/// <summary>Times in the store are unix microseconds, UTC.</summary>
internal static class Clock
{
    public static long NowMicros(TimeProvider time) => ToMicros(time.GetUtcNow());

    public static long ToMicros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    public static long Micros(TimeSpan span) => span.Ticks / 10;
}

internal static class Sql
{
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static long Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        var value = command.ExecuteScalar();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    public static List<T> Query<T>(SqliteConnection connection, SqliteTransaction? transaction, Func<SqliteDataReader, T> map, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static int? NullableInt(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);

    /// <summary>A SQL list of parameters <c>($p0, $p1, …)</c> for an IN clause, with their values.</summary>
    public static (string List, (string, object?)[] Parameters) InList(string prefix, IReadOnlyList<string> values)
    {
        var names = new string[values.Count];
        var parameters = new (string, object?)[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            names[i] = "$" + prefix + i.ToString(CultureInfo.InvariantCulture);
            parameters[i] = (names[i], values[i]);
        }

        return ("(" + string.Join(", ", names) + ")", parameters);
    }
}
