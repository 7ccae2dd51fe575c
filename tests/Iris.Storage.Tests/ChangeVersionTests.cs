using System.Diagnostics;
using Iris.Storage.Db;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// Read caches trust an entry while <see cref="Database.ChangeVersion"/> stays the same, so a change committed through
/// one opener (another node, or <c>iris users</c>) must move the version another opener reports, within a second.
/// </summary>
public abstract class ChangeVersionTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(3);

    // The PostgreSQL opener learns of other nodes by polling; let it settle so only the change under test can move it.
    private async Task<long> SettledVersionAsync(Database db, string area)
    {
        var watch = Stopwatch.StartNew();
        var last = db.ChangeVersion(area);
        while (watch.Elapsed < Bound)
        {
            await Task.Delay(PostgresDatabase.ChangePollInterval * 3, Ct);
            var now = db.ChangeVersion(area);
            if (now == last)
            {
                return now;
            }

            last = now;
        }

        throw new TimeoutException("the change version did not settle");
    }

    private static async Task<bool> MovesAsync(Database db, string area, long from)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Bound)
        {
            if (db.ChangeVersion(area) != from)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    [Fact]
    public async Task A_change_committed_by_another_opener_moves_the_version_within_a_second()
    {
        var area = "area" + Guid.NewGuid().ToString("N")[..8];
        var reader = Open();
        var before = await SettledVersionAsync(reader, area);

        var writer = Open();
        await using (var s = await writer.WriteAsync(Ct))
        {
            await s.ExecuteAsync("INSERT INTO inputs_add_jobs (user_id, app_id, id, created_at, modified_at) VALUES ('u', @a, 'j', 0, 0);", ("@a", area));
            await s.NoteChangeAsync(area);
            await s.CommitAsync();
        }

        Assert.True(await MovesAsync(reader, area, before), "the reader's change version did not move within " + Bound);
    }

    [Fact]
    public async Task A_change_rolled_back_leaves_other_openers_caches_valid()
    {
        var area = "area" + Guid.NewGuid().ToString("N")[..8];
        var reader = Open();
        var before = await SettledVersionAsync(reader, area);

        var writer = Open();
        await using (var s = await writer.WriteAsync(Ct))
        {
            await s.ExecuteAsync("INSERT INTO inputs_add_jobs (user_id, app_id, id, created_at, modified_at) VALUES ('u', @a, 'j', 0, 0);", ("@a", area));
            await s.NoteChangeAsync(area);
        }

        await Task.Delay(PostgresDatabase.ChangePollInterval * 3, Ct);
        Assert.Equal(before, reader.ChangeVersion(area));
    }
}

public sealed class SqliteChangeVersionTests(StoreFixture<SqliteBackend> fixture)
    : ChangeVersionTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresChangeVersionTests(StoreFixture<PostgresBackend> fixture)
    : ChangeVersionTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
