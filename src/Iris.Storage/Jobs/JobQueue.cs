using Iris.Core.Apps;
using Iris.Storage.Db;

namespace Iris.Storage.Jobs;

/// <summary>
/// One unit of background work of a registered kind (ingest an input, purge one, freeze a dataset version, train, …):
/// the app and target it concerns, an optional payload and the progress its handler last reported.
/// <see cref="Attempts"/> counts the claims, this one included.
/// </summary>
public sealed record Job(long Id, string Kind, AppRef App, string Target, int Attempts, string? Payload, string? Progress);

/// <summary>
/// The durable job queue in the metadata store. Jobs are written in the same transaction as the rows they concern
/// (<see cref="EnqueueAsync"/> on the caller's session); a worker claims the oldest ready job of one kind with a lease,
/// renews it while working and deletes it when done. A dead worker stops renewing, its lease expires and any node
/// claims the job again, so every handler step must be idempotent. Claims never block each other: SQLite serialises
/// them through its write lock, PostgreSQL skips rows another claimer holds (<c>FOR UPDATE SKIP LOCKED</c>).
/// </summary>
public sealed class JobQueue(Database database, TimeProvider time)
{
    /// <summary>The oldest ready job of <paramref name="kind"/>, leased to <paramref name="owner"/> until now + <paramref name="lease"/>; null when none.</summary>
    public async Task<Job?> ClaimAsync(string kind, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var skipLocked = s.Dialect == SqlDialect.Postgres ? " FOR UPDATE SKIP LOCKED" : "";
        var job = await s.FirstAsync(ReadJob, $"""
            UPDATE work_queue SET lease_owner = @owner, lease_until = @until, attempts = attempts + 1
            WHERE id = (SELECT id FROM work_queue WHERE kind = @kind AND run_after <= @now AND lease_until < @now ORDER BY id LIMIT 1{skipLocked})
            RETURNING id, kind, user_id, app_id, target, attempts, payload, progress;
            """,
            ("@owner", owner), ("@until", now + Clock.Micros(lease)), ("@now", now), ("@kind", kind)).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
        return job;
    }

    /// <summary>Extends a lease still held by <paramref name="owner"/>; false when it was lost (expired and claimed by someone else).</summary>
    public async Task<bool> RenewAsync(long id, string owner, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        return await s.ExecuteAsync("UPDATE work_queue SET lease_until = @until WHERE id = @id AND lease_owner = @owner AND lease_until >= @now;",
            ("@until", now + Clock.Micros(lease)), ("@id", id), ("@owner", owner), ("@now", now)).ConfigureAwait(false) == 1;
    }

    /// <summary>Records how far a running job has come (free text or JSON for its kind), while its owner holds it.</summary>
    public async Task<bool> ReportProgressAsync(long id, string owner, string progress, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.ExecuteAsync("UPDATE work_queue SET progress = @progress WHERE id = @id AND lease_owner = @owner;",
            ("@progress", progress), ("@id", id), ("@owner", owner)).ConfigureAwait(false) == 1;
    }

    public async Task CompleteAsync(long id, string owner, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("DELETE FROM work_queue WHERE id = @id AND lease_owner = @owner;", ("@id", id), ("@owner", owner)).ConfigureAwait(false);
    }

    /// <summary>Releases the job to run again after <paramref name="delay"/>.</summary>
    public async Task RetryAsync(long id, string owner, TimeSpan delay, string error, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE work_queue SET lease_owner = NULL, lease_until = 0, run_after = @after, last_error = @error WHERE id = @id AND lease_owner = @owner;",
            ("@after", Clock.NowMicros(time) + Clock.Micros(delay)), ("@error", error), ("@id", id), ("@owner", owner)).ConfigureAwait(false);
    }

    /// <summary>Jobs not yet done, of one kind or all (for tests, the benchmark and status pages).</summary>
    public async Task<long> CountAsync(string? kind, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.ScalarAsync("SELECT COUNT(*) FROM work_queue WHERE (CAST(@kind AS TEXT) IS NULL OR kind = @kind);", ("@kind", kind)).ConfigureAwait(false);
    }

    /// <summary>Queues a job inside the caller's transaction, so the job exists exactly when the rows it concerns do.</summary>
    public static Task EnqueueAsync(DbSession s, string kind, AppRef app, string target, long nowMicros, string? payload = null) =>
        s.ExecuteAsync("INSERT INTO work_queue (kind, user_id, app_id, target, payload, run_after, created_at) VALUES (@kind, @user, @app, @target, @payload, @now, @now);",
            ("@kind", kind), ("@user", app.UserId), ("@app", app.AppId), ("@target", target), ("@payload", payload), ("@now", nowMicros));

    private static Job ReadJob(System.Data.Common.DbDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), new AppRef(r.GetString(2), r.GetString(3)), r.GetString(4), Sql.Int(r, 5), Sql.NullableString(r, 6), Sql.NullableString(r, 7));
}

/// <summary>Kinds of jobs the storage areas queue inside their own transactions.</summary>
public static class JobKinds
{
    /// <summary>DeleteApp (or deleting its owner): remove everything stored for the app, then its row. Target: the app id.</summary>
    public const string PurgeApp = "purge_app";

    public const string Ingest = "ingest";
    public const string Purge = "purge";
    public const string DatasetVersion = "dataset_version";
}
