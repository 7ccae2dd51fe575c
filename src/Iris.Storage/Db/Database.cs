using System.Data.Common;
using Clarifai.Api.Status;
using Iris.Core.Errors;

namespace Iris.Storage.Db;

/// <summary>The SQL dialects Iris stores its metadata in.</summary>
public enum SqlDialect
{
    /// <summary>The embedded default: one SQLite file in WAL mode in the data directory.</summary>
    Sqlite,

    /// <summary>A PostgreSQL server (15 or newer), shared by several Iris nodes.</summary>
    Postgres,
}

/// <summary>
/// The metadata store every area's repository works on. Repositories write their SQL once with <c>@name</c> parameters,
/// <c>ON CONFLICT</c> and <c>RETURNING</c>, which both dialects understand; where they differ (queue claims, key locks) they
/// ask <see cref="Dialect"/>. Correctness never depends on SQLite serialising writers: uniqueness comes from
/// constraints, queue claims from <c>FOR UPDATE SKIP LOCKED</c>, read-check-delete of shared things from
/// <see cref="LockKeyAsync"/>.
/// </summary>
public abstract class Database : IAsyncDisposable
{
    public abstract SqlDialect Dialect { get; }

    /// <summary>Where the data lives, for logs: a file path or host/database (never a password).</summary>
    public abstract string Describe { get; }

    /// <summary>
    /// A pooled, open connection. When the database cannot be reached this throws <see cref="IrisException"/> with
    /// <see cref="StatusCode.TryAgain"/>-class status at once (no long hang), so callers answer a retryable status.
    /// </summary>
    public async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await OpenCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsUnavailable(e) && !cancellationToken.IsCancellationRequested)
        {
            throw Unavailable();
        }
    }

    protected abstract ValueTask<DbConnection> OpenCoreAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts a transaction that will write. SQLite takes the write lock at BEGIN (IMMEDIATE), so its writers never
    /// deadlock upgrading a read lock; PostgreSQL runs it at READ COMMITTED and relies on constraints and row locks.
    /// </summary>
    public virtual async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Serialises, until <paramref name="transaction"/> ends, every transaction that locks the same <paramref name="key"/>
    /// (PostgreSQL: a transaction-level advisory lock on its hash; SQLite: already serialised by the write lock). Used
    /// where a decision reads rows and then acts outside the database, e.g. deleting a blob file nobody references.
    /// </summary>
    public abstract Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken cancellationToken);

    /// <summary>
    /// A number that changes whenever another connection — of this process, another process or another node — may have
    /// committed a change to <paramref name="area"/>'s data. Read caches keep an entry while it stays the same.
    /// </summary>
    public abstract long ChangeVersion(string area);

    /// <summary>Records, inside <paramref name="transaction"/>, that <paramref name="area"/>'s data changed (see <see cref="ChangeVersion"/>).</summary>
    public abstract Task NoteChangeAsync(DbConnection connection, DbTransaction? transaction, string area, CancellationToken cancellationToken);

    /// <summary>Moves this process's change versions after a commit that <see cref="NoteChangeAsync"/> recorded inside its transaction.</summary>
    public virtual void NoteLocalChange()
    {
    }

    /// <summary>True when <paramref name="e"/> is a unique-constraint violation (a racing writer took the id first).</summary>
    public abstract bool IsUniqueViolation(Exception e);

    /// <summary>True when <paramref name="e"/> means the database cannot be reached now (down, restarting, network).</summary>
    public abstract bool IsUnavailable(Exception e);

    /// <summary>
    /// Waits for this process's turn to write, where the database takes one writer at a time (SQLite); held until the
    /// write session ends. Null where writers need no queue (PostgreSQL). Throws <see cref="Busy"/> past the wait allowed.
    /// </summary>
    public virtual ValueTask<IDisposable?> EnterWriterAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IDisposable?>(null);

    /// <summary>Applies the pending migrations of every area once (several nodes starting together do not race).</summary>
    public abstract Task MigrateAsync(IEnumerable<IMigrationSet> sets, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>The status every request gets while the database is unreachable: retry later, nothing was done.</summary>
    public static IrisException Unavailable() =>
        new(StatusCode.TryAgain, "The metadata database is unreachable (down or restarting); nothing was changed. Retry the request shortly.");

    /// <summary>The status a write gets when other writers kept the database locked past the wait allowed: retry later.</summary>
    public static IrisException Busy() =>
        new(StatusCode.TryAgain, "The metadata database stayed locked by other writers for longer than the wait allowed; this write was not made. Retry the request shortly.");

    /// <summary>Opens the database <paramref name="url"/> names, or the embedded SQLite file in <paramref name="dataDir"/> when it is empty.</summary>
    public static Database Create(string? url, string dataDir, TimeProvider time) =>
        string.IsNullOrWhiteSpace(url) ? new SqliteDatabase(dataDir) : new PostgresDatabase(PostgresDatabase.ToConnectionString(url), time);
}
