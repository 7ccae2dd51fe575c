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
/// (<see cref="EnqueueAsync"/> on the caller's session); a worker claims a ready job of one kind with a lease, renews it
/// while working and deletes it when done. A dead worker stops renewing, its lease expires and any node claims the job
/// again, so every handler step must be idempotent. Claims are fair between apps: the next job goes to the app holding
/// the fewest leases of the kind, oldest job first within it, so one app's backlog or slow jobs cannot take every worker.
/// Claimers of one kind take turns, so each sees the leases taken before it (which the fair order and the per-app limit
/// need): SQLite serialises them through its write lock, PostgreSQL through a transaction advisory lock on the kind, held
/// for the millisecond or two of the claim; rows another writer holds are skipped (<c>FOR UPDATE SKIP LOCKED</c>).
/// </summary>
public sealed class JobQueue(Database database, TimeProvider time)
{
    /// <summary>The fair choice (<see cref="ClaimAsync(string, string, TimeSpan, int, CancellationToken)"/>) with no per-app limit.</summary>
    public Task<Job?> ClaimAsync(string kind, string owner, TimeSpan lease, CancellationToken cancellationToken) =>
        ClaimAsync(kind, owner, lease, int.MaxValue, cancellationToken);

    /// <summary>
    /// A ready job of <paramref name="kind"/>, leased to <paramref name="owner"/> until now + <paramref name="lease"/>; null
    /// when none. The job comes from the app with the fewest unexpired leases of the kind (ties: the app whose oldest ready
    /// job is oldest), and is that app's oldest ready job. <paramref name="owner"/> reads <c>group/worker</c>; apps whose
    /// leases held by owners of the same group (one node's workers of one kind) number <paramref name="maxPerApp"/> or more
    /// are passed over, so other apps always find a free worker.
    /// </summary>
    public async Task<Job?> ClaimAsync(string kind, string owner, TimeSpan lease, int maxPerApp, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var group = owner[..(owner.LastIndexOf('/') + 1)];
        // Without taking turns, PostgreSQL claimers starting together all see an app with no leases and all take its jobs.
        await s.LockKeyAsync("work_queue/" + kind).ConfigureAwait(false);
        var sql = s.Dialect == SqlDialect.Postgres ? PostgresClaim : SqliteClaim;
        var job = await s.FirstAsync(ReadJob, maxPerApp == int.MaxValue ? sql.Unlimited : sql.Limited,
            ("@owner", owner), ("@until", now + Clock.Micros(lease)), ("@now", now), ("@kind", kind),
            ("@group", group.Length == 0 ? owner : group), ("@groupLength", group.Length == 0 ? owner.Length : group.Length), ("@max", maxPerApp)).ConfigureAwait(false);
        await s.CommitAsync().ConfigureAwait(false);
        return job;
    }

    private static readonly (string Unlimited, string Limited) SqliteClaim = (Claim("", limited: false), Claim("", limited: true));
    private static readonly (string Unlimited, string Limited) PostgresClaim = (Claim(" FOR UPDATE SKIP LOCKED", false), Claim(" FOR UPDATE SKIP LOCKED", true));

    // The apps with jobs of the kind are walked with a loose index scan (one seek of work_queue_app per app, never a scan
    // of the jobs), and each app costs three more seeks: its oldest ready job (work_queue_app in id order, stepping over
    // its leased and backing-off jobs) and its leases (work_queue_app_leases). A claim costs ~1–2 ms with 100,000 jobs
    // queued in one app and 50 other apps, on either database, and grows with the number of apps that have jobs queued,
    // not with the number of jobs. On PostgreSQL the candidate rows are locked with SKIP LOCKED, so a row held by another
    // writer (a completion, a retry) is passed over rather than waited for; the lease check in the outer WHERE is a guard.
    private const string PerAppLimit = """

          WHERE (SELECT COUNT(*) FROM work_queue m WHERE m.kind = @kind AND m.user_id = a.user_id AND m.app_id = a.app_id AND m.lease_until >= @now
                   AND substr(m.lease_owner, 1, @groupLength) = @group) < @max
        """;

    private static string Claim(string skipLocked, bool limited) => $"""
        WITH RECURSIVE apps(user_id, app_id) AS (
          SELECT user_id, app_id FROM (SELECT user_id, app_id FROM work_queue WHERE kind = @kind ORDER BY user_id, app_id LIMIT 1) AS first_app
          UNION ALL
          SELECT n.user_id, n.app_id FROM apps a JOIN work_queue n ON n.id = COALESCE(
            (SELECT w.id FROM work_queue w WHERE w.kind = @kind AND w.user_id = a.user_id AND w.app_id > a.app_id ORDER BY w.app_id LIMIT 1),
            (SELECT w.id FROM work_queue w WHERE w.kind = @kind AND w.user_id > a.user_id ORDER BY w.user_id, w.app_id LIMIT 1))
        ),
        candidates(id, leased) AS (
          SELECT
            (SELECT r.id FROM work_queue r WHERE r.kind = @kind AND r.user_id = a.user_id AND r.app_id = a.app_id AND r.run_after <= @now AND r.lease_until < @now ORDER BY r.id LIMIT 1{skipLocked}),
            (SELECT COUNT(*) FROM work_queue l WHERE l.kind = @kind AND l.user_id = a.user_id AND l.app_id = a.app_id AND l.lease_until >= @now)
          FROM apps a{(limited ? PerAppLimit : "")}
        )
        UPDATE work_queue SET lease_owner = @owner, lease_until = @until, attempts = attempts + 1
        WHERE id = (SELECT id FROM candidates WHERE id IS NOT NULL ORDER BY leased, id LIMIT 1) AND lease_until < @now
        RETURNING id, kind, user_id, app_id, target, attempts, payload, progress;
        """;

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

    /// <summary>
    /// Queues a job that concerns the whole cluster rather than one app (its user and app ids are empty), unless one of the
    /// same kind and target is queued or running already: a unique index decides, so every node may call this at start-up
    /// and the job exists once. False when it was queued already.
    /// </summary>
    public async Task<bool> EnqueueClusterJobAsync(string kind, string target, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        return await s.ExecuteAsync("INSERT INTO work_queue (kind, user_id, app_id, target, run_after, created_at) VALUES (@kind, '', '', @target, @now, @now) ON CONFLICT DO NOTHING;",
            ("@kind", kind), ("@target", target), ("@now", now)).ConfigureAwait(false) == 1;
    }

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

    /// <summary>
    /// Fills the queryable columns (metadata JSON, geo point) of annotations written before they existed, from their
    /// serialized data. A cluster job (<see cref="JobQueue.EnqueueClusterJobAsync"/>), target <see cref="ClusterTarget"/>.
    /// </summary>
    public const string QueryableBackfill = "queryable_backfill";

    /// <summary>The target of cluster jobs, which concern no single app.</summary>
    public const string ClusterTarget = "cluster";
}
