using Iris.Storage.Db;

namespace Iris.Storage.Inputs;

/// <summary>An annotation whose queryable columns are still to be derived from its serialized <see cref="Data"/>.</summary>
public sealed record PendingAnnotation(long Seq, byte[] Data);

/// <summary>
/// The annotations written before the queryable columns (metadata JSON, geo point) existed, flagged by the inputs
/// migration that added <c>queryable_pending</c>: the backfill job reads them in batches and fills their columns with the
/// mapping every writer uses. Keyed by the row's sequence number, which renaming the app does not change.
/// </summary>
public interface IQueryableBackfillStore
{
    /// <summary>True while some annotation is still flagged.</summary>
    Task<bool> AnyPendingAsync(CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> flagged annotations, oldest first.</summary>
    Task<IReadOnlyList<PendingAnnotation>> PendingAsync(int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the derived columns of annotations still flagged and clears their flag, in one transaction; an annotation
    /// rewritten since it was read (its flag cleared by the writer, with its own columns) is left as the writer left it.
    /// Returns how many rows were filled.
    /// </summary>
    Task<int> FillAsync(IReadOnlyList<(long Seq, QueryableFields Fields)> rows, CancellationToken cancellationToken);
}

public sealed class SqlQueryableBackfillStore(Database database) : IQueryableBackfillStore
{
    public async Task<bool> AnyPendingAsync(CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.ScalarAsync("SELECT COUNT(*) FROM (SELECT 1 FROM annotations WHERE queryable_pending = 1 LIMIT 1) AS pending;").ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyList<PendingAnnotation>> PendingAsync(int limit, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => new PendingAnnotation(r.GetInt64(0), Sql.Bytes(r, 1)),
            "SELECT seq, data FROM annotations WHERE queryable_pending = 1 ORDER BY seq LIMIT @n;", ("@n", limit)).ConfigureAwait(false);
    }

    public async Task<int> FillAsync(IReadOnlyList<(long Seq, QueryableFields Fields)> rows, CancellationToken cancellationToken)
    {
        await using var s = await database.WriteAsync(cancellationToken).ConfigureAwait(false);
        var filled = 0;
        foreach (var (seq, fields) in rows)
        {
            filled += await s.ExecuteAsync("UPDATE annotations SET metadata_json = @md, geo_lon = @lon, geo_lat = @lat, queryable_pending = 0 WHERE seq = @seq AND queryable_pending = 1;",
                ("@md", fields.MetadataJson), ("@lon", fields.Longitude), ("@lat", fields.Latitude), ("@seq", seq)).ConfigureAwait(false);
        }

        await s.CommitAsync().ConfigureAwait(false);
        return filled;
    }
}
