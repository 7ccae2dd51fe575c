using System.Data.Common;
using System.Globalization;
using System.Runtime.InteropServices;
using Iris.Core.Errors;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Iris.Storage.Db;

/// <summary>
/// The one SQL command helper of Iris: parameterised commands on either dialect (<c>@name</c> parameters), async and
/// cancellable, with the reader mapping left to the caller. (Not Dapper: rows here map to positional records in a line
/// each, and reflection-built mappers would add a second way of reading columns beside the hand-tuned hot paths.)
/// Errors that mean "the database is unreachable" surface as the retryable status of <see cref="Database.Unavailable"/>.
/// </summary>
public static class Sql
{
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Failure(e) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>The first column of the first row as a number; 0 when there is no row or it is NULL.</summary>
    public static async Task<long> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        try
        {
            var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (Failure(e) is { } failure)
        {
            throw failure;
        }
    }

    public static async Task<List<T>> QueryAsync<T>(DbConnection connection, DbTransaction? transaction, Func<DbDataReader, T> map, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var rows = new List<T>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(map(reader));
            }

            return rows;
        }
        catch (Exception e) when (Failure(e) is { } failure)
        {
            throw failure;
        }
    }

    public static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static int? NullableInt(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Convert.ToInt32(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    /// <summary>An integer column of either dialect (SQLite INTEGER is 64-bit; PostgreSQL integer/bigint) as an int.</summary>
    public static int Int(DbDataReader reader, int ordinal) => Convert.ToInt32(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    public static byte[] Bytes(DbDataReader reader, int ordinal) => (byte[])reader.GetValue(ordinal);

    /// <summary>A stored vector column (float32 little-endian, as the inference area writes it) as floats.</summary>
    public static float[] Floats(DbDataReader reader, int ordinal) => MemoryMarshal.Cast<byte, float>(Bytes(reader, ordinal)).ToArray();

    /// <summary>A SQL list of parameters <c>(@p0, @p1, …)</c> for an IN clause, with their values.</summary>
    public static (string List, (string, object?)[] Parameters) InList(string prefix, IReadOnlyList<string> values)
    {
        var names = new string[values.Count];
        var parameters = new (string, object?)[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            names[i] = "@" + prefix + i.ToString(CultureInfo.InvariantCulture);
            parameters[i] = (names[i], values[i]);
        }

        return ("(" + string.Join(", ", names) + ")", parameters);
    }

    /// <summary>
    /// The retryable status a driver failure answers: the database unreachable (<see cref="Database.Unavailable"/>), or
    /// SQLite's write lock still held by others when its busy timeout ran out (SQLITE_BUSY, SQLITE_LOCKED:
    /// <see cref="Database.Busy"/>); null for every other failure.
    /// </summary>
    internal static IrisException? Failure(Exception e) =>
        Unreachable(e) ? Database.Unavailable() : e is SqliteException { SqliteErrorCode: 5 or 6 } ? Database.Busy() : null;

    /// <summary>PostgreSQL errors that mean the server is gone or going (connection lost, shutting down, not accepting).</summary>
    internal static bool Unreachable(Exception e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState.StartsWith("57P", StringComparison.Ordinal) || p.SqlState == "53300",
        NpgsqlException n => n.IsTransient || n.InnerException is System.Net.Sockets.SocketException or IOException or TimeoutException,
        _ => false,
    };
}

/// <summary>Times in the store are unix microseconds (UTC) in a 64-bit integer column, in every area and dialect.</summary>
public static class Clock
{
    public static long NowMicros(TimeProvider time) => ToMicros(time.GetUtcNow());

    public static long ToMicros(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    public static long Micros(TimeSpan span) => span.Ticks / 10;
}
