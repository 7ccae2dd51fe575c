using System.Collections.Concurrent;
using System.Data.Common;
using Npgsql;

namespace Iris.Storage.Db;

/// <summary>
/// The metadata store on a PostgreSQL server, shared by every Iris node that names it. Caches learn of other nodes'
/// changes from the <c>iris_changes</c> version rows, polled every <see cref="ChangePollInterval"/>; migrations run
/// under an advisory lock so nodes starting together migrate once.
/// </summary>
public sealed class PostgresDatabase : Database
{
    /// <summary>How often a node reads the change versions of other nodes: the most a cached read can lag a remote write.</summary>
    public static readonly TimeSpan ChangePollInterval = TimeSpan.FromMilliseconds(200);

    // Any fixed number: every Iris node takes this advisory lock while migrating.
    private const long MigrationLockId = 0x1215_2026;

    private readonly NpgsqlDataSource _source;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, long> _remote = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private long _local;
    private long _pollFailures;
    private int _pollerStarted;

    public PostgresDatabase(string connectionString, TimeProvider time)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        _source = builder.Build();
        _time = time;
        var csb = new NpgsqlConnectionStringBuilder(connectionString);
        Describe = $"PostgreSQL {csb.Host}:{csb.Port}/{csb.Database}";
    }

    public override SqlDialect Dialect => SqlDialect.Postgres;

    public override string Describe { get; }

    /// <summary>
    /// A <c>postgresql://user:password@host:port/database?param=value</c> URI as an Npgsql connection string; anything
    /// else is taken to be a connection string already. Connecting gives up after 5 s unless the URL says otherwise, so
    /// requests answer "try again" instead of hanging while the server is down.
    /// </summary>
    public static string ToConnectionString(string url)
    {
        NpgsqlConnectionStringBuilder builder;
        if (url.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            var uri = new Uri(url);
            builder = new NpgsqlConnectionStringBuilder
            {
                Host = uri.Host,
                Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
                Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : "postgres",
                Timeout = 5,
            };
            if (uri.UserInfo.Length > 0)
            {
                var parts = uri.UserInfo.Split(':', 2);
                builder.Username = Uri.UnescapeDataString(parts[0]);
                if (parts.Length == 2)
                {
                    builder.Password = Uri.UnescapeDataString(parts[1]);
                }
            }

            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                builder[Uri.UnescapeDataString(kv[0])] = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            }
        }
        else
        {
            builder = new NpgsqlConnectionStringBuilder(url);
            if (!url.Contains("timeout", StringComparison.OrdinalIgnoreCase))
            {
                builder.Timeout = 5;
            }
        }

        // Iris sends the same few hundred statements over and over: let Npgsql prepare those used twice, so PostgreSQL
        // stops parsing and planning them per call (GetInput 1.4 → 0.9 ms measured), unless the URL chose otherwise.
        if (!url.Contains("prepare", StringComparison.OrdinalIgnoreCase))
        {
            builder.MaxAutoPrepare = 256;
            builder.AutoPrepareMinUsages = 2;
        }

        return builder.ConnectionString;
    }

    protected override async ValueTask<DbConnection> OpenCoreAsync(CancellationToken cancellationToken) =>
        await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken) =>
        await Sql.ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended(@key, 0));", cancellationToken, ("@key", key)).ConfigureAwait(false);

    public override long ChangeVersion(string area)
    {
        if (Interlocked.Exchange(ref _pollerStarted, 1) == 0)
        {
            _ = Task.Run(PollChangesAsync);
        }

        return Volatile.Read(ref _local) + (_remote.TryGetValue(area, out var remote) ? remote : 0) + (Volatile.Read(ref _pollFailures) << 32);
    }

    public override async Task NoteChangeAsync(DbConnection connection, DbTransaction? transaction, string area, CancellationToken cancellationToken)
    {
        await Sql.ExecuteAsync(connection, transaction, """
            INSERT INTO iris_changes (area, version) VALUES (@area, 1)
            ON CONFLICT (area) DO UPDATE SET version = iris_changes.version + 1;
            """, cancellationToken, ("@area", area)).ConfigureAwait(false);
        Interlocked.Increment(ref _local);
    }

    public override void NoteLocalChange() => Interlocked.Increment(ref _local);

    // Every poll that fails moves the version, so caches stop trusting entries while the database cannot be read.
    private async Task PollChangesAsync()
    {
        using var timer = new PeriodicTimer(ChangePollInterval, _time);
        try
        {
            do
            {
                try
                {
                    await using var connection = await _source.OpenConnectionAsync(_stop.Token).ConfigureAwait(false);
                    foreach (var (area, version) in await Sql.QueryAsync(connection, null, r => (r.GetString(0), r.GetInt64(1)),
                        "SELECT area, version FROM iris_changes;", _stop.Token).ConfigureAwait(false))
                    {
                        _remote[area] = version;
                    }
                }
                catch (Exception) when (!_stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _pollFailures);
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override bool IsUnavailable(Exception e) => Sql.Unreachable(e);

    public override async Task MigrateAsync(IEnumerable<IMigrationSet> sets, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await Sql.ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@id);", cancellationToken, ("@id", MigrationLockId)).ConfigureAwait(false);
        try
        {
            await Sql.ExecuteAsync(connection, null, "CREATE TABLE IF NOT EXISTS iris_changes (area TEXT PRIMARY KEY, version BIGINT NOT NULL);", cancellationToken).ConfigureAwait(false);
            await Migrator.ApplyAsync(this, connection, sets, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await Sql.ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@id);", CancellationToken.None, ("@id", MigrationLockId)).ConfigureAwait(false);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _source.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
