using Microsoft.Data.Sqlite;

namespace Iris.Storage;

/// <summary>
/// The embedded metadata store: one SQLite file (<c>&lt;data-dir&gt;/iris.db</c>) in WAL mode, so readers never wait for
/// the writer and a crash loses no committed transaction. SQLite allows one writer at a time; writers wait up to
/// <see cref="BusyTimeoutMs"/> for the lock. Repositories open a connection per unit of work (pooled by the provider).
/// </summary>
public sealed class SqliteDatabase
{
    /// <summary>How long a writer waits for the database lock before failing, in milliseconds.</summary>
    public const int BusyTimeoutMs = 10_000;

    private readonly object _versionLock = new();
    private SqliteCommand? _versionCommand;

    public SqliteDatabase(string dataDir, IEnumerable<IMigrationSet> migrations)
    {
        Directory.CreateDirectory(dataDir);
        Path = System.IO.Path.Combine(dataDir, "iris.db");
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = BusyTimeoutMs / 1000,
        }.ToString();
        using (var connection = new SqliteConnection(ConnectionString))
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
        }

        Migrator.Apply(this, migrations);
    }

    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>Opens a pooled connection with foreign keys on and the busy timeout set.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, $"PRAGMA foreign_keys=ON; PRAGMA busy_timeout={BusyTimeoutMs}; PRAGMA synchronous=NORMAL;");
        return connection;
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        Execute(connection, $"PRAGMA foreign_keys=ON; PRAGMA busy_timeout={BusyTimeoutMs}; PRAGMA synchronous=NORMAL;");
        return connection;
    }

    /// <summary>
    /// SQLite's <c>PRAGMA data_version</c> on one dedicated connection: it changes whenever any other connection — of
    /// this process or another, such as <c>iris users</c> — commits. Read caches keyed by it are never stale and cost
    /// a few microseconds per check instead of opening a connection and querying.
    /// </summary>
    public long DataVersion()
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

    internal static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }
}
