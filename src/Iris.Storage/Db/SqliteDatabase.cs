using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Iris.Storage.Db;

/// <summary>
/// The embedded metadata store: one SQLite file (<c>&lt;data-dir&gt;/iris.db</c>) in WAL mode, so readers never wait for
/// the writer and a crash loses no committed transaction. SQLite allows one writer at a time. This process's write
/// sessions (<see cref="DbSession.WriteAsync"/>) queue for it in order on an async gate, up to <see cref="WriterQueueMs"/>;
/// SQLite's own busy handler, which polls and lets a late writer overtake one that has waited long, only arbitrates
/// against other processes (<c>iris users</c>) and single statements, up to the busy timeout. A writer that still finds
/// the lock taken answers <see cref="Database.Busy"/> (retryable), not an internal error. Repositories open a connection
/// per unit of work (pooled by the provider).
/// </summary>
public sealed class SqliteDatabase : Database
{
    /// <summary>How long a writer waits for the database lock before failing, in milliseconds.</summary>
    public const int BusyTimeoutMs = 10_000;

    /// <summary>How long a write session of this process waits for the ones queued before it, in milliseconds.</summary>
    public const int WriterQueueMs = 6 * BusyTimeoutMs;

    private readonly string _connectionPragmas;
    private readonly int _writerQueueMs;
    private readonly SemaphoreSlim _writers = new(1, 1);
    private readonly Lock _versionLock = new();
    private SqliteCommand? _versionCommand;

    /// <param name="dataDir">Where <c>iris.db</c> lives.</param>
    /// <param name="busyTimeoutMs">SQLite's busy timeout (tests shorten it, with the writers' queue at the same multiple).</param>
    public SqliteDatabase(string dataDir, int busyTimeoutMs = BusyTimeoutMs)
    {
        _connectionPragmas = $"PRAGMA foreign_keys=ON; PRAGMA busy_timeout={busyTimeoutMs}; PRAGMA synchronous=NORMAL;";
        _writerQueueMs = busyTimeoutMs * (WriterQueueMs / BusyTimeoutMs);
        Directory.CreateDirectory(dataDir);
        Path = System.IO.Path.Combine(dataDir, "iris.db");
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = Math.Max(1, busyTimeoutMs / 1000),
        }.ToString();
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var wal = connection.CreateCommand();
        wal.CommandText = "PRAGMA journal_mode=WAL;";
        wal.ExecuteNonQuery();
    }

    public override SqlDialect Dialect => SqlDialect.Sqlite;

    public string Path { get; }

    public string ConnectionString { get; }

    public override string Describe => "SQLite " + Path;

    protected override async ValueTask<DbConnection> OpenCoreAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var pragmas = connection.CreateCommand();
        pragmas.CommandText = _connectionPragmas;
        await pragmas.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    public override async ValueTask<IDisposable?> EnterWriterAsync(CancellationToken cancellationToken)
    {
        if (!await _writers.WaitAsync(_writerQueueMs, cancellationToken).ConfigureAwait(false))
        {
            throw Busy();
        }

        return new Releaser(_writers);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private SemaphoreSlim? _gate = gate;

        public void Dispose() => Interlocked.Exchange(ref _gate, null)?.Release();
    }

    // SQLite serialises writers (BEGIN IMMEDIATE), so a key lock is already held by the write transaction.
    public override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// SQLite's <c>PRAGMA data_version</c> on one dedicated connection: it changes whenever any other connection — of
    /// this process or another, such as <c>iris users</c> — commits. Read caches keyed by it are never stale and cost
    /// a few microseconds per check instead of opening a connection and querying. One number serves every area.
    /// </summary>
    public override long ChangeVersion(string area)
    {
        lock (_versionLock)
        {
            if (_versionCommand is null)
            {
                var connection = new SqliteConnection(ConnectionString);
                connection.Open();
                _versionCommand = connection.CreateCommand();
                _versionCommand.CommandText = "PRAGMA data_version;";
            }

            return (long)_versionCommand.ExecuteScalar()!;
        }
    }

    // data_version already moves on every commit of another connection.
    public override Task NoteChangeAsync(DbConnection connection, DbTransaction? transaction, string area, CancellationToken cancellationToken) => Task.CompletedTask;

    public override bool IsUniqueViolation(Exception e) =>
        e is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };

    // A local file is never "unreachable"; a full disk or a locked file is a real error, not a retry.
    public override bool IsUnavailable(Exception e) => false;

    public override async Task MigrateAsync(IEnumerable<IMigrationSet> sets, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // The write lock serialises two processes migrating the same file; each step re-checks what is applied.
        await Migrator.ApplyAsync(this, connection, sets, cancellationToken).ConfigureAwait(false);
    }

    public override ValueTask DisposeAsync()
    {
        lock (_versionLock)
        {
            _versionCommand?.Connection?.Dispose();
            _versionCommand?.Dispose();
            _versionCommand = null;
        }

        return ValueTask.CompletedTask;
    }
}
