using Iris.Core.Configuration;
using Iris.Search.Index;

namespace Iris.Server.Searches;

/// <summary>Settings of search. Each maps to an environment variable; tests replace the whole object in DI.</summary>
public sealed class SearchOptions
{
    /// <summary>
    /// The engine behind each (app, embedding model) index. Env <c>IRIS_SEARCH_INDEX</c>: <c>exact</c> (default; exact answers from a
    /// scan of int8 codes with the few possible hits re-scored by their float vectors, <see cref="QuantizedExactIndex"/>;
    /// nothing to build) or <c>hnsw</c> (the graph; faster queries on
    /// large apps; snapshotted to the blob store so a restarted node restores it instead of rebuilding).
    /// </summary>
    public string Index { get; set; } = "exact";

    /// <summary>HNSW links per node. Env <c>IRIS_SEARCH_HNSW_M</c>. Default 16.</summary>
    public int HnswM { get; set; } = 16;

    /// <summary>HNSW build candidates. Env <c>IRIS_SEARCH_HNSW_EF_CONSTRUCTION</c>. Default 200.</summary>
    public int HnswEfConstruction { get; set; } = 200;

    /// <summary>HNSW search candidates (at least the hits asked for). Env <c>IRIS_SEARCH_HNSW_EF_SEARCH</c>. Default 128.</summary>
    public int HnswEfSearch { get; set; } = 128;

    /// <summary>
    /// How long vector change log entries are kept at least, so a node that is a little behind catches up from the log
    /// instead of reloading; older entries go once no snapshot needs them. Env <c>IRIS_SEARCH_CHANGELOG_RETENTION_SECONDS</c>.
    /// Default 3,600 s (1 h); 0 prunes as soon as the snapshots allow.
    /// </summary>
    public TimeSpan ChangeLogRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the cluster prunes the change log. Env <c>IRIS_SEARCH_CHANGELOG_PRUNE_SECONDS</c>. Default 600 s (10 min).</summary>
    public TimeSpan ChangeLogPruneInterval { get; set; } = TimeSpan.FromMinutes(10);

    public static SearchOptions FromEnvironment()
    {
        var o = new SearchOptions();
        o.Index = EnvSettings.String("IRIS_SEARCH_INDEX")?.ToLowerInvariant() ?? o.Index;
        o.HnswM = EnvSettings.Int("IRIS_SEARCH_HNSW_M") ?? o.HnswM;
        o.HnswEfConstruction = EnvSettings.Int("IRIS_SEARCH_HNSW_EF_CONSTRUCTION") ?? o.HnswEfConstruction;
        o.HnswEfSearch = EnvSettings.Int("IRIS_SEARCH_HNSW_EF_SEARCH") ?? o.HnswEfSearch;
        o.ChangeLogRetention = EnvSettings.Int("IRIS_SEARCH_CHANGELOG_RETENTION_SECONDS") is { } retention ? TimeSpan.FromSeconds(retention) : o.ChangeLogRetention;
        o.ChangeLogPruneInterval = EnvSettings.Int("IRIS_SEARCH_CHANGELOG_PRUNE_SECONDS") is { } interval ? TimeSpan.FromSeconds(interval) : o.ChangeLogPruneInterval;
        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (Index is not ("exact" or "hnsw") || HnswM is < 2 or > 128 || HnswEfConstruction is < 8 or > 4096 || HnswEfSearch is < 1 or > 4096)
        {
            throw new InvalidOperationException("Invalid IRIS_SEARCH_* setting: index 'exact' or 'hnsw', HNSW M 2–128, ef_construction 8–4096, ef_search 1–4096.");
        }

        if (ChangeLogRetention < TimeSpan.Zero || ChangeLogPruneInterval < TimeSpan.FromSeconds(1))
        {
            throw new InvalidOperationException("Invalid IRIS_SEARCH_CHANGELOG_* setting: retention 0 s or more, prune interval 1 s or more.");
        }
    }

    /// <summary>A new, empty index of the configured engine.</summary>
    public IVectorIndex NewIndex() => Index == "hnsw" ? new HnswIndex(Hnsw) : new QuantizedExactIndex();

    /// <summary>The index a snapshot holds (HNSW only; the exact index reloads from the store, which costs as much).</summary>
    public IVectorIndex? RestoreIndex(Stream snapshot) => Index == "hnsw" ? HnswIndex.ReadSnapshot(snapshot, Hnsw) : null;

    private HnswOptions Hnsw => new(HnswM, HnswEfConstruction, HnswEfSearch);
}
