using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;
using Iris.Testing;

namespace Iris.Storage.Tests;

/// <summary>
/// Annotations written before the queryable columns existed are not lost to search: the migration flags them, the
/// backfill reads them in batches and fills their columns, a rewrite between the read and the fill wins, nothing is
/// flagged after a fill, and the backfill's cluster job is queued once however many nodes ask.
/// </summary>
public abstract class QueryableBackfillStoreTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private readonly string _blobDir = Path.Combine(Path.GetTempPath(), "iris-backfill-" + Guid.NewGuid().ToString("N"));

    private static byte[] Data(int i) => [1, 2, (byte)i];

    private SqlInputStore Inputs(Database db) => new(db, new Iris.Storage.Blobs.FileBlobStore(_blobDir), Time);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_blobDir))
        {
            Directory.Delete(_blobDir, recursive: true);
        }
    }

    private async Task<Database> OlderStoreWithRowsAsync(int rows)
    {
        var location = await Backend.NewStoreAsync("backfill");
        var db = Open(location);
        await OlderRelease.MigrateBeforeQueryableColumnsAsync(db, Ct);
        for (var i = 0; i < rows; i++)
        {
            await OlderRelease.WriteInputAsync(db, "u", "a", "in" + i, "image", [1], Data(i), 1, Ct);
        }

        await db.MigrateAsync(StorageAreas.Migrations, Ct);
        return db;
    }

    [Fact]
    public async Task Rows_of_an_older_release_are_flagged_read_in_batches_and_filled_once()
    {
        var db = await OlderStoreWithRowsAsync(5);
        var backfill = new SqlQueryableBackfillStore(db);
        Assert.True(await backfill.AnyPendingAsync(Ct));

        var first = await backfill.PendingAsync(3, Ct);
        Assert.Equal([Data(0), Data(1), Data(2)], first.Select(p => p.Data));
        Assert.Equal(3, await backfill.FillAsync([.. first.Select((p, i) => (p.Seq, new QueryableFields("{\"n\":" + i + "}", 2.5 + i, 48.5)))], Ct));

        var rest = await backfill.PendingAsync(3, Ct);
        Assert.Equal([Data(3), Data(4)], rest.Select(p => p.Data));
        Assert.Equal(2, await backfill.FillAsync([.. rest.Select(p => (p.Seq, QueryableFields.None))], Ct));

        Assert.False(await backfill.AnyPendingAsync(Ct));
        Assert.Empty(await backfill.PendingAsync(10, Ct));
        // A second fill of the same rows (a job whose node died after committing) changes nothing.
        Assert.Equal(0, await backfill.FillAsync([.. first.Select(p => (p.Seq, QueryableFields.None))], Ct));

        await using var s = await db.ReadAsync(Ct);
        var filled = await s.QueryAsync(r => (Sql.NullableString(r, 0), r.IsDBNull(1) ? (double?)null : r.GetDouble(1), r.IsDBNull(2) ? (double?)null : r.GetDouble(2)),
            "SELECT metadata_json, geo_lon, geo_lat FROM annotations ORDER BY seq;");
        Assert.Equal([("{\"n\":0}", 2.5, 48.5), ("{\"n\":1}", 3.5, 48.5), ("{\"n\":2}", 4.5, 48.5), (null, null, null), (null, null, null)], filled);
    }

    [Fact]
    public async Task An_annotation_rewritten_after_the_read_keeps_the_writers_columns()
    {
        var db = await OlderStoreWithRowsAsync(1);
        var backfill = new SqlQueryableBackfillStore(db);
        var pending = await backfill.PendingAsync(10, Ct);
        await Inputs(db).UpdateAnnotationAsync(new("u", "a"), new NewAnnotation("ann-in0", "in0", Data(9), true, "u", [], new QueryableFields("{\"new\":true}", 1, 2)), Ct);

        Assert.Equal(0, await backfill.FillAsync([(pending.Single().Seq, new QueryableFields("{\"old\":true}", 3, 4))], Ct));
        Assert.False(await backfill.AnyPendingAsync(Ct));
        await using var s = await db.ReadAsync(Ct);
        Assert.Equal(["{\"new\":true}"], await s.QueryAsync(r => r.GetString(0), "SELECT metadata_json FROM annotations;"));
    }

    [Fact]
    public async Task Rows_written_by_this_release_are_not_flagged()
    {
        var backfill = new SqlQueryableBackfillStore(Db);
        var app = NewApp();
        await Inputs(Db).AddAnnotationsAsync(app, [new NewAnnotation("x", "in", Data(1), false, app.UserId, [], new QueryableFields("{}", null, null))], Ct);
        await using var s = await Db.ReadAsync(Ct);
        Assert.Equal(0, await s.ScalarAsync("SELECT COUNT(*) FROM annotations WHERE user_id = @u AND queryable_pending <> 0;", ("@u", app.UserId)));
    }

    [Fact]
    public async Task A_cluster_job_is_queued_once_however_many_nodes_ask()
    {
        var kind = "cluster-probe-" + Guid.NewGuid().ToString("N")[..8];
        var nodes = Enumerable.Range(0, 4).Select(_ => new JobQueue(Open(), Time)).ToList();
        var queued = await Task.WhenAll(nodes.Select(n => Task.Run(() => n.EnqueueClusterJobAsync(kind, JobKinds.ClusterTarget, Ct), Ct)));
        Assert.Single(queued, q => q);
        Assert.Equal(1, await nodes[0].CountAsync(kind, Ct));
        Assert.True(await nodes[1].EnqueueClusterJobAsync(kind, "other-target", Ct));

        var job = await nodes[2].ClaimAsync(kind, "n/w", TimeSpan.FromMinutes(1), Ct);
        Assert.NotNull(job);
        Assert.Equal(("", ""), (job.App.UserId, job.App.AppId));
        Assert.False(await nodes[3].EnqueueClusterJobAsync(kind, job.Target, Ct));
        await nodes[2].CompleteAsync(job.Id, "n/w", Ct);
        Assert.True(await nodes[3].EnqueueClusterJobAsync(kind, job.Target, Ct));
    }
}

public sealed class SqliteQueryableBackfillStoreTests(StoreFixture<SqliteBackend> fixture)
    : QueryableBackfillStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresQueryableBackfillStoreTests(StoreFixture<PostgresBackend> fixture)
    : QueryableBackfillStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
