using System.Collections.Concurrent;
using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// The durable job queue: claims take a ready job of one kind under a lease, from the app holding the fewest leases (then
/// the oldest job), never from an app at the claimer's per-app limit; renewals and completions count only
/// while the lease is held, retries wait out their delay, an expired lease lets another worker take the job, and workers
/// racing on one queue never get the same job.
/// </summary>
public abstract class JobQueueTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private readonly string _kind = "k" + Guid.NewGuid().ToString("N")[..12];
    private readonly AppRef _app = NewApp();

    private JobQueue Queue => new(Db, Time);

    private async Task EnqueueAsync(Database db, string kind, int count, string? payload = null, string target = "t", AppRef? app = null)
    {
        await using var s = await db.WriteAsync(Ct);
        for (var i = 0; i < count; i++)
        {
            await JobQueue.EnqueueAsync(s, kind, app ?? _app, count == 1 ? target : target + i, Clock.NowMicros(Time), payload);
        }

        await s.CommitAsync();
    }

    [Fact]
    public async Task Claims_go_to_the_app_with_the_fewest_leases_then_the_oldest_job()
    {
        // A backlog in one app, queued first; two apps behind it.
        var (a, b, c) = (NewApp(), NewApp(), NewApp());
        await EnqueueAsync(Db, _kind, 5, target: "a", app: a);
        await EnqueueAsync(Db, _kind, 2, target: "b", app: b);
        await EnqueueAsync(Db, _kind, 1, target: "c", app: c);

        var order = new List<string>();
        while (await Queue.ClaimAsync(_kind, "node/w", Lease, Ct) is { } job)
        {
            order.Add(job.Target);
        }

        // Leases 0,0,0 → a0 (oldest); 1,0,0 → b0; 1,1,0 → c0; 1,1,1 → a1 (oldest); 2,1,1 → b1; c and b have no more.
        Assert.Equal(["a0", "b0", "c", "a1", "b1", "a2", "a3", "a4"], order);
    }

    [Fact]
    public async Task Finished_and_expired_leases_stop_counting_against_their_app()
    {
        // b's jobs are older than a's, so b wins every tie.
        var (a, b) = (NewApp(), NewApp());
        await EnqueueAsync(Db, _kind, 3, target: "b", app: b);
        await EnqueueAsync(Db, _kind, 3, target: "a", app: a);
        async Task<Job?> ClaimAsync(TimeSpan? lease = null) => await Queue.ClaimAsync(_kind, "w", lease ?? Lease, Ct);

        var claimed = new[] { await ClaimAsync(), await ClaimAsync(), await ClaimAsync(), await ClaimAsync() };
        Assert.Equal(["b0", "a0", "b1", "a1"], claimed.Select(j => j?.Target));

        // 2 leases each; a's finished job no longer counts, so a (1) goes before b's older b2 (2).
        await Queue.CompleteAsync(claimed[1]!.Id, "w", Ct);
        Assert.Equal("a2", (await ClaimAsync())?.Target);

        // c's expired lease no longer counts: c (0) ties with d (0) and its expired job, the oldest, is claimed again.
        var (c, d) = (NewApp(), NewApp());
        await EnqueueAsync(Db, _kind, 2, target: "c", app: c);
        await EnqueueAsync(Db, _kind, 1, target: "d", app: d);
        Assert.Equal("c0", (await ClaimAsync(TimeSpan.FromSeconds(5)))?.Target);
        Time.Advance(TimeSpan.FromSeconds(6));
        var again = await ClaimAsync();
        Assert.Equal(("c0", 2), (again?.Target, again?.Attempts));
        Assert.Equal("d", (await ClaimAsync())?.Target);
    }

    [Fact]
    public async Task An_app_at_the_per_app_limit_of_a_group_is_passed_over_but_not_for_other_groups()
    {
        var (a, b) = (NewApp(), NewApp());
        await EnqueueAsync(Db, _kind, 5, target: "a", app: a);
        await EnqueueAsync(Db, _kind, 1, target: "b", app: b);

        async Task<string?> ClaimAsync(string owner) => (await Queue.ClaimAsync(_kind, owner, Lease, maxPerApp: 2, Ct))?.Target;

        Assert.Equal("a0", await ClaimAsync("node1/w0"));
        Assert.Equal("b", await ClaimAsync("node1/w1"));
        Assert.Equal("a1", await ClaimAsync("node1/w2"));
        // node1 holds two of a's jobs: a is passed over there, and b has nothing ready.
        Assert.Null(await ClaimAsync("node1/w3"));
        // Another group counts its own leases (a holds 2 in all, but none of node2's).
        Assert.Equal("a2", await ClaimAsync("node2/w0"));
        Assert.Equal("a3", await ClaimAsync("node2/w1"));
        Assert.Null(await ClaimAsync("node2/w2"));
    }

    [Fact]
    public async Task Claims_take_the_oldest_ready_job_with_its_payload_and_then_none()
    {
        await EnqueueAsync(Db, _kind, 1, payload: "{\"n\":1}", target: "first");
        await EnqueueAsync(Db, _kind, 1, payload: null, target: "second");

        var first = await Queue.ClaimAsync(_kind, "w1", Lease, Ct);
        var second = await Queue.ClaimAsync(_kind, "w1", Lease, Ct);
        var none = await Queue.ClaimAsync(_kind, "w1", Lease, Ct);

        Assert.NotNull(first);
        Assert.Equal(("first", _kind, _app, 1, "{\"n\":1}", (string?)null), (first.Target, first.Kind, first.App, first.Attempts, first.Payload, first.Progress));
        Assert.NotNull(second);
        Assert.Equal(("second", (string?)null), (second.Target, second.Payload));
        Assert.True(second.Id > first.Id);
        Assert.Null(none);
        Assert.Equal(2, await Queue.CountAsync(_kind, Ct));
    }

    [Fact]
    public async Task Racing_claimers_of_two_nodes_never_exceed_the_per_app_limit()
    {
        var a = NewApp();
        await EnqueueAsync(Db, _kind, 20, target: "a", app: a);
        var nodes = new[] { Db, Open() };

        // Eight workers of one group, on two openers, all claiming at once: only three get a job.
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(
            () => new JobQueue(nodes[w % 2], Time).ClaimAsync(_kind, "node/w" + w, Lease, maxPerApp: 3, Ct), Ct)));

        Assert.Equal(3, claims.Count(c => c is not null));
    }

    [Fact]
    public async Task Claims_are_by_kind()
    {
        var other = _kind + "x";
        await EnqueueAsync(Db, other, 1, target: "other");
        await EnqueueAsync(Db, _kind, 1, target: "mine");

        var job = await Queue.ClaimAsync(_kind, "w", Lease, Ct);
        Assert.Equal("mine", job?.Target);
        Assert.Null(await Queue.ClaimAsync(_kind, "w", Lease, Ct));
        Assert.Equal("other", (await Queue.ClaimAsync(other, "w", Lease, Ct))?.Target);
        Assert.Equal(1, await Queue.CountAsync(_kind, Ct));
        Assert.Equal(1, await Queue.CountAsync(other, Ct));
    }

    [Fact]
    public async Task Count_of_all_kinds_includes_every_kind()
    {
        var before = await Queue.CountAsync(null, Ct);
        await EnqueueAsync(Db, _kind, 2);
        await EnqueueAsync(Db, _kind + "y", 3);
        Assert.Equal(before + 5, await Queue.CountAsync(null, Ct));
    }

    [Fact]
    public async Task Complete_removes_the_job_only_for_its_owner()
    {
        await EnqueueAsync(Db, _kind, 1);
        var job = await Queue.ClaimAsync(_kind, "owner", Lease, Ct);
        Assert.NotNull(job);

        await Queue.CompleteAsync(job.Id, "someone-else", Ct);
        Assert.Equal(1, await Queue.CountAsync(_kind, Ct));
        await Queue.CompleteAsync(job.Id, "owner", Ct);
        Assert.Equal(0, await Queue.CountAsync(_kind, Ct));
    }

    [Fact]
    public async Task A_held_job_is_not_claimed_again_until_its_lease_expires_and_then_the_old_owner_has_lost_it()
    {
        await EnqueueAsync(Db, _kind, 1);
        var job = await Queue.ClaimAsync(_kind, "dead-node", Lease, Ct);
        Assert.NotNull(job);

        Time.Advance(Lease - TimeSpan.FromSeconds(1));
        Assert.Null(await Queue.ClaimAsync(_kind, "live-node", Lease, Ct));

        Time.Advance(TimeSpan.FromSeconds(2));
        var again = await Queue.ClaimAsync(_kind, "live-node", Lease, Ct);
        Assert.NotNull(again);
        Assert.Equal((job.Id, 2), (again.Id, again.Attempts));

        Assert.False(await Queue.RenewAsync(job.Id, "dead-node", Lease, Ct));
        Assert.False(await Queue.ReportProgressAsync(job.Id, "dead-node", "stale", Ct));
        await Queue.CompleteAsync(job.Id, "dead-node", Ct);
        Assert.Equal(1, await Queue.CountAsync(_kind, Ct));
        await Queue.CompleteAsync(job.Id, "live-node", Ct);
        Assert.Equal(0, await Queue.CountAsync(_kind, Ct));
    }

    [Fact]
    public async Task Renewing_keeps_the_lease_past_its_first_expiry()
    {
        await EnqueueAsync(Db, _kind, 1);
        var job = await Queue.ClaimAsync(_kind, "w", Lease, Ct);
        Assert.NotNull(job);

        Time.Advance(Lease - TimeSpan.FromSeconds(5));
        Assert.True(await Queue.RenewAsync(job.Id, "w", Lease, Ct));
        Assert.False(await Queue.RenewAsync(job.Id, "not-the-owner", Lease, Ct));
        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await Queue.ClaimAsync(_kind, "other", Lease, Ct));
        Assert.True(await Queue.RenewAsync(job.Id, "w", Lease, Ct));
    }

    [Fact]
    public async Task A_retried_job_waits_out_its_delay_and_counts_the_new_attempt()
    {
        await EnqueueAsync(Db, _kind, 1);
        var job = await Queue.ClaimAsync(_kind, "w", Lease, Ct);
        Assert.NotNull(job);

        await Queue.RetryAsync(job.Id, "w", TimeSpan.FromMinutes(1), "decode failed", Ct);
        Assert.False(await Queue.RenewAsync(job.Id, "w", Lease, Ct));
        Assert.Null(await Queue.ClaimAsync(_kind, "w", Lease, Ct));

        Time.Advance(TimeSpan.FromSeconds(61));
        var again = await Queue.ClaimAsync(_kind, "w2", Lease, Ct);
        Assert.NotNull(again);
        Assert.Equal((job.Id, 2), (again.Id, again.Attempts));
    }

    [Fact]
    public async Task Retry_by_a_worker_that_lost_the_lease_changes_nothing()
    {
        await EnqueueAsync(Db, _kind, 1);
        var job = await Queue.ClaimAsync(_kind, "w", Lease, Ct);
        Assert.NotNull(job);

        await Queue.RetryAsync(job.Id, "not-the-owner", TimeSpan.Zero, "x", Ct);
        Assert.True(await Queue.RenewAsync(job.Id, "w", Lease, Ct));
    }

    [Fact]
    public async Task Progress_is_kept_with_the_job_for_the_next_claimer()
    {
        await EnqueueAsync(Db, _kind, 1);
        var job = await Queue.ClaimAsync(_kind, "w", Lease, Ct);
        Assert.NotNull(job);

        Assert.True(await Queue.ReportProgressAsync(job.Id, "w", "{\"done\":40}", Ct));
        Assert.False(await Queue.ReportProgressAsync(job.Id, "other", "{\"done\":99}", Ct));
        Time.Advance(Lease + TimeSpan.FromSeconds(1));
        var again = await Queue.ClaimAsync(_kind, "w2", Lease, Ct);
        Assert.Equal("{\"done\":40}", again?.Progress);
    }

    [Fact]
    public async Task Workers_racing_on_one_queue_claim_every_job_exactly_once()
    {
        const int Jobs = 200;
        await EnqueueAsync(Db, _kind, Jobs);
        // Two nodes, two workers each.
        var nodes = new[] { Db, Open() };
        var claims = new ConcurrentBag<(long Id, string Worker)>();

        async Task WorkAsync(Database node, string worker)
        {
            var queue = new JobQueue(node, Time);
            while (await queue.ClaimAsync(_kind, worker, TimeSpan.FromMinutes(10), Ct) is { } job)
            {
                claims.Add((job.Id, worker));
                await queue.CompleteAsync(job.Id, worker, Ct);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(() => WorkAsync(nodes[w % 2], "w" + w), Ct)));

        Assert.Equal(Jobs, claims.Count);
        Assert.Equal(Jobs, claims.Select(c => c.Id).Distinct().Count());
        Assert.Equal(0, await Queue.CountAsync(_kind, Ct));
    }
}

public sealed class SqliteJobQueueTests(StoreFixture<SqliteBackend> fixture)
    : JobQueueTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresJobQueueTests(StoreFixture<PostgresBackend> fixture)
    : JobQueueTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
