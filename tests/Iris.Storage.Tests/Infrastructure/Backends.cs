using System.Collections.Concurrent;
using Iris.Storage.Db;
using Iris.Testing;

namespace Iris.Storage.Tests.Infrastructure;

/// <summary>
/// How a suite gets its metadata store: the one thing a backend's test class chooses (Orleans' ADO.NET tests override
/// only how the store is made). A "store" is a location several <see cref="Database"/>s can open at once, as several
/// Iris nodes (or processes) open one database.
/// </summary>
public interface IStoreBackend : IAsyncDisposable
{
    /// <summary>A new, empty store (a SQLite data directory, a PostgreSQL database), distinct on every call.</summary>
    Task<string> NewStoreAsync(string hint);

    /// <summary>Opens <paramref name="store"/>; each call is another independent opener (pool, connections, caches).</summary>
    Database Open(string store, TimeProvider time);
}

/// <summary>The embedded default: one SQLite file in a fresh temporary data directory.</summary>
public sealed class SqliteBackend : IStoreBackend
{
    private readonly ConcurrentBag<string> _dirs = [];

    public Task<string> NewStoreAsync(string hint)
    {
        var dir = Path.Combine(Path.GetTempPath(), "iris-sqlite-" + hint + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        _dirs.Add(dir);
        return Task.FromResult(dir);
    }

    public Database Open(string store, TimeProvider time) => new SqliteDatabase(store);

    public ValueTask DisposeAsync()
    {
        // Pooled SQLite connections keep the files open until the pools are cleared.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var dir in _dirs)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>A fresh database on the test run's throwaway PostgreSQL cluster (<see cref="PostgresCluster"/>).</summary>
public sealed class PostgresBackend : IStoreBackend
{
    public async Task<string> NewStoreAsync(string hint)
    {
        var cluster = await PostgresCluster.SharedAsync();
        return await cluster.CreateDatabaseAsync(hint);
    }

    public Database Open(string store, TimeProvider time) => new PostgresDatabase(store, time);

    // The cluster, with every database of the run, is removed when the test process exits.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// One store per test class (xunit class fixture), shared by the class's tests; tests keep apart by their own app ids
/// and job kinds, so the classes of a run go in parallel on one cluster.
/// </summary>
public sealed class StoreFixture<TBackend> : IAsyncLifetime
    where TBackend : IStoreBackend, new()
{
    public IStoreBackend Backend { get; } = new TBackend();

    public string Store { get; private set; } = "";

    public async Task InitializeAsync() => Store = await Backend.NewStoreAsync(typeof(TBackend).Name.Replace("Backend", "", StringComparison.Ordinal));

    public async Task DisposeAsync() => await Backend.DisposeAsync();
}
