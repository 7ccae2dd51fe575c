using Iris.Core.Apps;
using Iris.Storage.Db;

namespace Iris.Storage.Tests.Infrastructure;

/// <summary>
/// The base of every store suite: a migrated <see cref="Database"/> on the class's store, opened per test with a manual
/// clock, plus more openers of the same store on request (a second node). Every await is bounded by <see cref="Ct"/>, so
/// a deadlock fails the test instead of hanging the run.
/// </summary>
public abstract class StoreTestBase(IStoreBackend backend, string store) : IAsyncLifetime
{
    private readonly List<Database> _opened = [];
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(90));

    protected IStoreBackend Backend => backend;

    protected string Store => store;

    protected ManualTime Time { get; } = new();

    /// <summary>The test's database, migrated.</summary>
    protected Database Db { get; private set; } = null!;

    protected CancellationToken Ct => _timeout.Token;

    /// <summary>Another opener of <paramref name="location"/> (default: the class's store), disposed after the test.</summary>
    protected Database Open(string? location = null)
    {
        var db = backend.Open(location ?? store, Time);
        lock (_opened)
        {
            _opened.Add(db);
        }

        return db;
    }

    /// <summary>An app no other test uses, so tests sharing the class's store never see each other's rows.</summary>
    protected static AppRef NewApp() => new("u" + Guid.NewGuid().ToString("N")[..8], "app" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>The areas whose schema the suite needs; the class's store is migrated to them before each test (idempotent).</summary>
    protected virtual IEnumerable<IMigrationSet> Migrations => StorageAreas.Migrations;

    public virtual async Task InitializeAsync()
    {
        Db = Open();
        await Db.MigrateAsync(Migrations, Ct);
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var db in _opened)
        {
            await db.DisposeAsync();
        }

        _timeout.Dispose();
    }
}
