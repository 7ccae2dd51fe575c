using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Storage.Db;
using Microsoft.Data.Sqlite;

namespace Iris.Storage.Tests;

/// <summary>
/// SQLite takes one writer at a time. This process's write sessions queue for it in order, so a burst of writers whose
/// total time exceeds SQLite's busy timeout all commit (under SQLite's polling busy handler alone the later ones failed
/// with "database is locked", an internal error); a writer that still finds the lock taken — held by another process,
/// or the queue too long — answers the retryable TRY_AGAIN status with a precise description. The busy timeout is
/// shortened to 300 ms here (the writers' queue is six times it, as in production).
/// </summary>
public sealed class SqliteWriterQueueTests : IAsyncLifetime
{
    private const int BusyMs = 300;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "iris-writers-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private SqliteDatabase _db = null!;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        _db = new SqliteDatabase(_dir, busyTimeoutMs: BusyMs);
        await using var s = await _db.ReadAsync(Ct);
        await s.ExecuteAsync("CREATE TABLE turns (k INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL);");
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        _timeout.Dispose();
    }

    [Fact]
    public async Task A_burst_of_writers_longer_than_the_busy_timeout_all_commit_one_after_another()
    {
        const int Writers = 8;
        const int HoldMs = 120; // 8 × 120 ms: the last writer waits about three busy timeouts
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(k => Task.Run(async () =>
        {
            await using var s = await _db.WriteAsync(Ct);
            var started = clock.ElapsedTicks;
            await Task.Delay(HoldMs, Ct);
            await s.ExecuteAsync("INSERT INTO turns (k, started, ended) VALUES (@k, @s, @e);", ("@k", k), ("@s", started), ("@e", clock.ElapsedTicks));
            await s.CommitAsync();
        })));

        await using var read = await _db.ReadAsync(Ct);
        var turns = await read.QueryAsync(r => (K: r.GetInt64(0), Started: r.GetInt64(1), Ended: r.GetInt64(2)), "SELECT k, started, ended FROM turns ORDER BY started;");
        Assert.Equal(Enumerable.Range(0, Writers).Select(k => (long)k).Order(), turns.Select(t => t.K).Order());
        for (var i = 1; i < turns.Count; i++)
        {
            Assert.True(turns[i].Started >= turns[i - 1].Ended, "write sessions overlapped");
        }

        Assert.True(turns[^1].Ended - turns[0].Started > 2 * BusyMs * System.Diagnostics.Stopwatch.Frequency / 1000, "the burst must outlast the busy timeout to test the queue");
    }

    [Fact]
    public async Task A_writer_blocked_by_another_process_answers_try_again_and_writes_nothing()
    {
        // Another process (iris users, a second server on the same file) holding the write lock.
        await using var other = new SqliteConnection(_db.ConnectionString);
        await other.OpenAsync(Ct);
        await using var hold = other.CreateCommand();
        hold.CommandText = "BEGIN IMMEDIATE; INSERT INTO turns (k, started, ended) VALUES (-1, 0, 0);";
        await hold.ExecuteNonQueryAsync(Ct);

        var session = await Assert.ThrowsAsync<IrisException>(async () => await _db.WriteAsync(Ct));
        Assert.Equal(StatusCode.TryAgain, session.Code);
        Assert.Equal(Database.Busy().Details, session.Details);

        await using (var s = await _db.ReadAsync(Ct))
        {
            var statement = await Assert.ThrowsAsync<IrisException>(() => s.ExecuteAsync("INSERT INTO turns (k, started, ended) VALUES (7, 0, 0);"));
            Assert.Equal(StatusCode.TryAgain, statement.Code);
        }

        hold.CommandText = "ROLLBACK;";
        await hold.ExecuteNonQueryAsync(Ct);

        // The failed writer released its turn: the next one writes at once.
        await using (var s = await _db.WriteAsync(Ct))
        {
            await s.ExecuteAsync("INSERT INTO turns (k, started, ended) VALUES (1, 0, 0);");
            await s.CommitAsync();
        }

        await using var read = await _db.ReadAsync(Ct);
        Assert.Equal([1L], await read.QueryAsync(r => r.GetInt64(0), "SELECT k FROM turns;"));
    }

    [Fact]
    public async Task A_writer_queued_longer_than_the_queue_allows_answers_try_again()
    {
        await using var first = await _db.WriteAsync(Ct);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var late = await Assert.ThrowsAsync<IrisException>(async () => await _db.WriteAsync(Ct));
        Assert.Equal(StatusCode.TryAgain, late.Code);
        Assert.Equal(Database.Busy().Details, late.Details);
        Assert.InRange(waited.ElapsedMilliseconds, 6 * BusyMs - 50, 60_000);
    }
}
