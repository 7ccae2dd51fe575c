using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// The migrator brings a fresh store to the current schema, does nothing the second time, applies only steps added
/// since, and applies each step exactly once when several nodes start together on one store.
/// </summary>
public abstract class MigratorTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    // A probe area whose every step leaves a row behind, so applying a step twice shows.
    private sealed class ProbeMigrations(int steps) : IMigrationSet
    {
        public string Area => "probe";

        public IReadOnlyList<Migration> For(SqlDialect dialect) =>
        [
            new(1, "probe table", "CREATE TABLE probe_hits (step INTEGER NOT NULL); INSERT INTO probe_hits (step) VALUES (1);"),
            .. Enumerable.Range(2, steps - 1).Select(v => new Migration(v, "probe step " + v, $"INSERT INTO probe_hits (step) VALUES ({v});")),
        ];
    }

    private sealed class GappedMigrations : IMigrationSet
    {
        public string Area => "gapped";

        public IReadOnlyList<Migration> For(SqlDialect dialect) => [new(1, "one", "SELECT 1;"), new(3, "three", "SELECT 1;")];
    }

    private async Task<Database> FreshAsync() => Open(await Backend.NewStoreAsync("migrator"));

    private async Task<(string Location, Database Db)> FreshLocationAsync()
    {
        var location = await Backend.NewStoreAsync("migrator");
        return (location, Open(location));
    }

    private async Task<long> ScalarAsync(Database db, string sql, params (string, object?)[] parameters)
    {
        await using var s = await db.ReadAsync(Ct);
        return await s.ScalarAsync(sql, parameters);
    }

    [Fact]
    public async Task A_fresh_store_gets_every_step_of_every_area()
    {
        var db = await FreshAsync();
        await db.MigrateAsync([.. StorageAreas.Migrations, new ProbeMigrations(3)], Ct);

        foreach (var area in StorageAreas.Migrations)
        {
            var steps = area.For(db.Dialect).Count;
            Assert.Equal(steps, await ScalarAsync(db, "SELECT COUNT(*) FROM schema_migrations WHERE area = @a;", ("@a", area.Area)));
            Assert.Equal(steps, await ScalarAsync(db, "SELECT MAX(version) FROM schema_migrations WHERE area = @a;", ("@a", area.Area)));
        }

        Assert.Equal(3, await ScalarAsync(db, "SELECT COUNT(*) FROM probe_hits;"));
        foreach (var table in new[] { "inputs", "annotations", "annotation_concepts", "concepts", "datasets", "dataset_inputs", "dataset_versions", "dataset_version_items", "inputs_add_jobs", "work_queue" })
        {
            Assert.Equal(0, await ScalarAsync(db, $"SELECT COUNT(*) FROM {table};"));
        }
    }

    [Fact]
    public async Task Running_again_applies_nothing_and_a_later_step_alone()
    {
        var (location, db) = await FreshLocationAsync();
        await db.MigrateAsync([.. StorageAreas.Migrations, new ProbeMigrations(2)], Ct);
        await db.MigrateAsync([.. StorageAreas.Migrations, new ProbeMigrations(2)], Ct);
        Assert.Equal(2, await ScalarAsync(db, "SELECT COUNT(*) FROM probe_hits;"));

        // A new release ships step 3; a second opener (another process) migrates.
        var again = Open(location);
        await again.MigrateAsync([.. StorageAreas.Migrations, new ProbeMigrations(3)], Ct);
        Assert.Equal(3, await ScalarAsync(db, "SELECT COUNT(*) FROM probe_hits;"));
        Assert.Equal(1, await ScalarAsync(db, "SELECT COUNT(*) FROM probe_hits WHERE step = 3;"));
        Assert.Equal(3, await ScalarAsync(db, "SELECT MAX(version) FROM schema_migrations WHERE area = @a;", ("@a", "probe")));
    }

    [Fact]
    public async Task Several_migrators_racing_on_one_store_apply_each_step_once()
    {
        var location = await Backend.NewStoreAsync("migrace");
        var nodes = Enumerable.Range(0, 4).Select(_ => Open(location)).ToList();
        await Task.WhenAll(nodes.Select(n => Task.Run(() => n.MigrateAsync([.. StorageAreas.Migrations, new ProbeMigrations(5)], Ct), Ct)));

        var db = nodes[0];
        Assert.Equal(5, await ScalarAsync(db, "SELECT COUNT(*) FROM probe_hits;"));
        Assert.Equal(5, await ScalarAsync(db, "SELECT COUNT(DISTINCT step) FROM probe_hits;"));
        Assert.Equal(new InputsMigrations().For(db.Dialect).Count, await ScalarAsync(db, "SELECT COUNT(*) FROM schema_migrations WHERE area = @a;", ("@a", "inputs")));
    }

    // An area as an older release shipped it: without its last step (PostgreSQL's inputs area has one step so far, kept).
    private sealed class OlderRelease(IMigrationSet current) : IMigrationSet
    {
        public string Area => current.Area;

        public IReadOnlyList<Migration> For(SqlDialect dialect) => [.. current.For(dialect).Take(Math.Max(1, current.For(dialect).Count - 1))];
    }

    [Fact]
    public async Task A_store_of_an_older_release_upgrades_keeping_its_rows()
    {
        var (location, db) = await FreshLocationAsync();
        await db.MigrateAsync([.. StorageAreas.Migrations.Select(m => m is InputsMigrations ? new OlderRelease(m) : m), new ProbeMigrations(1)], Ct);
        await using (var s = await db.WriteAsync(Ct))
        {
            await s.ExecuteAsync("""
                INSERT INTO inputs (user_id, app_id, id, kind, media, status_code, created_at, modified_at) VALUES ('u', 'a', 'old', 'image', @m, 30000, 1, 1);
                INSERT INTO probe_hits (step) VALUES (100);
                """, ("@m", new byte[] { 1 }));
            await s.CommitAsync();
        }

        await Open(location).MigrateAsync([.. StorageAreas.Migrations, new ProbeMigrations(2)], Ct);
        Assert.Equal(1, await ScalarAsync(db, "SELECT COUNT(*) FROM inputs WHERE id = 'old';"));
        Assert.Equal(3, await ScalarAsync(db, "SELECT COUNT(*) FROM probe_hits;"));
        Assert.Equal(new InputsMigrations().For(db.Dialect).Count, await ScalarAsync(db, "SELECT MAX(version) FROM schema_migrations WHERE area = @a;", ("@a", "inputs")));
    }

    [Fact]
    public async Task Steps_numbered_with_a_gap_are_refused()
    {
        var db = await FreshAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => db.MigrateAsync([new GappedMigrations()], Ct));
        Assert.Contains("gapped", e.Message, StringComparison.Ordinal);
    }
}

public sealed class SqliteMigratorTests(StoreFixture<SqliteBackend> fixture)
    : MigratorTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresMigratorTests(StoreFixture<PostgresBackend> fixture)
    : MigratorTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
