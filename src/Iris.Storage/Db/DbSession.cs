using System.Data.Common;

namespace Iris.Storage.Db;

/// <summary>
/// One unit of work on the metadata store: a pooled connection, optionally a write transaction, and the caller's
/// cancellation token, which every command forwards. Disposing without <see cref="CommitAsync"/> rolls back.
/// </summary>
public sealed class DbSession : IAsyncDisposable
{
    private readonly IDisposable? _writerTurn;

    private DbSession(Database database, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken, IDisposable? writerTurn = null)
    {
        _writerTurn = writerTurn;
        Database = database;
        Connection = connection;
        Transaction = transaction;
        CancellationToken = cancellationToken;
    }

    public Database Database { get; }

    public DbConnection Connection { get; }

    public DbTransaction? Transaction { get; }

    public CancellationToken CancellationToken { get; }

    public SqlDialect Dialect => Database.Dialect;

    /// <summary>A session for reads (and single-statement writes, which are atomic on their own).</summary>
    public static async ValueTask<DbSession> ReadAsync(Database database, CancellationToken cancellationToken) =>
        new(database, await database.OpenAsync(cancellationToken).ConfigureAwait(false), null, cancellationToken);

    /// <summary>
    /// A session inside a write transaction (<see cref="Database.BeginWriteAsync"/>), after this process's earlier writers
    /// where the database takes one at a time (<see cref="Database.EnterWriterAsync"/>).
    /// </summary>
    public static async ValueTask<DbSession> WriteAsync(Database database, CancellationToken cancellationToken)
    {
        var turn = await database.EnterWriterAsync(cancellationToken).ConfigureAwait(false);
        DbConnection? connection = null;
        try
        {
            connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            var transaction = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            return new DbSession(database, connection, transaction, cancellationToken, turn);
        }
        catch (Exception e)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            turn?.Dispose();
            if (Sql.Failure(e) is { } failure)
            {
                throw failure;
            }

            throw;
        }
    }

    public Task<int> ExecuteAsync(string sql, params (string Name, object? Value)[] parameters) =>
        Sql.ExecuteAsync(Connection, Transaction, sql, CancellationToken, parameters);

    public Task<long> ScalarAsync(string sql, params (string Name, object? Value)[] parameters) =>
        Sql.ScalarAsync(Connection, Transaction, sql, CancellationToken, parameters);

    public Task<List<T>> QueryAsync<T>(Func<DbDataReader, T> map, string sql, params (string Name, object? Value)[] parameters) =>
        Sql.QueryAsync(Connection, Transaction, map, sql, CancellationToken, parameters);

    public async Task<T?> FirstAsync<T>(Func<DbDataReader, T> map, string sql, params (string Name, object? Value)[] parameters)
    {
        var rows = await QueryAsync(map, sql, parameters).ConfigureAwait(false);
        return rows.Count == 0 ? default : rows[0];
    }

    /// <summary>See <see cref="Database.LockKeyAsync"/>; needs a write session.</summary>
    public Task LockKeyAsync(string key) =>
        Database.LockKeyAsync(Connection, Transaction ?? throw new InvalidOperationException("A key lock needs a write session."), key, CancellationToken);

    /// <summary>
    /// Locks each of <paramref name="keys"/> once, in ordinal order: transactions that lock overlapping sets this way wait
    /// for each other instead of deadlocking (PostgreSQL 40P01). Needs a write session.
    /// </summary>
    public async Task LockKeysAsync(IEnumerable<string> keys)
    {
        foreach (var key in keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            await LockKeyAsync(key).ConfigureAwait(false);
        }
    }

    /// <summary>See <see cref="Database.NoteChangeAsync"/>.</summary>
    public Task NoteChangeAsync(string area) => Database.NoteChangeAsync(Connection, Transaction, area, CancellationToken);

    public async Task CommitAsync()
    {
        if (Transaction is null)
        {
            throw new InvalidOperationException("A read session has nothing to commit.");
        }

        try
        {
            await Transaction.CommitAsync(CancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Sql.Failure(e) is { } failure)
        {
            throw failure;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Transaction is not null)
        {
            await Transaction.DisposeAsync().ConfigureAwait(false);
        }

        await Connection.DisposeAsync().ConfigureAwait(false);
        _writerTurn?.Dispose();
    }
}

public static class DatabaseSessions
{
    public static ValueTask<DbSession> ReadAsync(this Database database, CancellationToken cancellationToken) => DbSession.ReadAsync(database, cancellationToken);

    public static ValueTask<DbSession> WriteAsync(this Database database, CancellationToken cancellationToken) => DbSession.WriteAsync(database, cancellationToken);
}
