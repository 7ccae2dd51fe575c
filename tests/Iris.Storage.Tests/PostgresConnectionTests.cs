using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Storage.Blobs;
using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;
using Iris.Testing;
using Npgsql;

namespace Iris.Storage.Tests;

/// <summary>
/// PostgreSQL only: a database that cannot be reached answers at once with the retryable TRY_AGAIN status from every
/// kind of store call (reads, write transactions, queue claims, migrations), never a raw driver error or a hang; and the
/// <c>postgresql://</c> URL form of <c>--database</c> reaches the right database.
/// </summary>
public sealed class PostgresConnectionTests(StoreFixture<PostgresBackend> fixture)
    : StoreTestBase(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>
{
    // Nothing listens there: a port the OS just handed out and took back (the shared cluster is never stopped).
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Database Unreachable() =>
        new PostgresDatabase(PostgresDatabase.ToConnectionString($"postgresql://postgres@127.0.0.1:{ClosedPort()}/iris"), Time);

    private static async Task AssertTryAgainAsync(Func<Task> call)
    {
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<IrisException>(call);
        Assert.Equal(StatusCode.TryAgain, e.Code);
        // "At once": well inside the 5 s connect timeout a URL gets, never a hang.
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task Every_kind_of_call_on_an_unreachable_database_answers_try_again()
    {
        await using var db = Unreachable();
        var blobDir = Path.Combine(Path.GetTempPath(), "iris-blobs-" + Guid.NewGuid().ToString("N")[..12]);
        var store = new SqlInputStore(db, new FileBlobStore(blobDir), Time);
        var app = new AppRef("u", "a");

        await AssertTryAgainAsync(() => store.GetInputAsync(app, "x", Ct));
        await AssertTryAgainAsync(() => store.AddInputsAsync(app, [new NewInput("x", "image", [], null, false, null, default, [], "ann", [], [], IdConflictPolicy.Skip)], null, Ct));
        await AssertTryAgainAsync(() => new JobQueue(db, Time).ClaimAsync(JobKinds.Ingest, "w", TimeSpan.FromSeconds(30), Ct));
        await AssertTryAgainAsync(() => db.MigrateAsync(StorageAreas.Migrations, Ct));
        Directory.Delete(blobDir, recursive: true);
    }

    [Fact]
    public async Task While_the_server_is_down_calls_answer_try_again_and_when_it_returns_they_work_with_nothing_lost()
    {
        // A cluster of this test's own: the shared one is never stopped.
        var cluster = await PostgresCluster.StartNewAsync();
        try
        {
            var db = Open(await cluster.CreateDatabaseAsync("downtime"));
            await db.MigrateAsync(StorageAreas.Migrations, Ct);
            var blobDir = Path.Combine(Path.GetTempPath(), "iris-blobs-" + Guid.NewGuid().ToString("N")[..12]);
            var store = new SqlInputStore(db, new FileBlobStore(blobDir), Time);
            var app = new AppRef("u", "a");
            NewInput Input(string id) => new(id, "image", [1, 2, 3], null, false, null, default, [], "ann-" + id, [], [], IdConflictPolicy.Skip);
            await store.AddInputsAsync(app, [Input("before")], null, Ct);

            cluster.StopServer();
            // The pool still holds connections to the stopped server: the first calls find them broken.
            await AssertTryAgainAsync(() => store.GetInputAsync(app, "before", Ct));
            await AssertTryAgainAsync(() => store.AddInputsAsync(app, [Input("during")], null, Ct));
            await AssertTryAgainAsync(() => new JobQueue(db, Time).ClaimAsync(JobKinds.Ingest, "w", TimeSpan.FromSeconds(30), Ct));
            cluster.StartServer();

            Assert.NotNull(await store.GetInputAsync(app, "before", Ct));
            Assert.Null(await store.GetInputAsync(app, "during", Ct));
            Assert.Equal(AddOutcome.Added, Assert.Single(await store.AddInputsAsync(app, [Input("after")], null, Ct)).Outcome);
            Assert.Equal(2, await new JobQueue(db, Time).CountAsync(JobKinds.Ingest, Ct));
            Directory.Delete(blobDir, recursive: true);
        }
        finally
        {
            cluster.Stop();
        }
    }

    [Fact]
    public async Task A_postgresql_url_reaches_the_named_database()
    {
        var csb = new NpgsqlConnectionStringBuilder(Store);
        var url = $"postgresql://{csb.Username}@{csb.Host}:{csb.Port}/{csb.Database}?Application%20Name=iris-test";

        var converted = new NpgsqlConnectionStringBuilder(PostgresDatabase.ToConnectionString(url));
        Assert.Equal((csb.Host, csb.Port, csb.Database, csb.Username, "iris-test", 5), (converted.Host, converted.Port, converted.Database, converted.Username, converted.ApplicationName, converted.Timeout));
        await using var db = new PostgresDatabase(PostgresDatabase.ToConnectionString(url), Time);
        await using var s = await db.ReadAsync(Ct);
        Assert.Equal(1, await s.ScalarAsync("SELECT COUNT(*) FROM schema_migrations WHERE area = 'inputs' AND version = 1;"));
    }
}
