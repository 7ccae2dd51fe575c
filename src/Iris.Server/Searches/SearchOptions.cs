using Iris.Core.Configuration;
using Iris.Search.Index;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Iris.Server.Searches;

/// <summary>Settings of search. Each maps to an environment variable; tests replace the whole object in DI.</summary>
public sealed class SearchOptions
{
    /// <summary>
    /// The engine behind each (app, embedding model) index. Env <c>IRIS_SEARCH_INDEX</c>: <c>auto</c> (default; exact
    /// while the index holds at most <see cref="HnswThreshold"/> vectors, then an HNSW graph built in the background and
    /// swapped in, <see cref="AutoIndex"/>), <c>exact</c> (always exact answers from a scan of int8 codes with the few
    /// possible hits re-scored by their float vectors, <see cref="QuantizedExactIndex"/>; nothing to build) or <c>hnsw</c>
    /// (always the graph, from the first vector). Graphs are snapshotted to the blob store so a restarted node restores
    /// them instead of rebuilding.
    /// </summary>
    public string Index { get; set; } = "auto";

    /// <summary>
    /// With <c>auto</c>: vectors an index holds above which its HNSW graph is built. Env <c>IRIS_SEARCH_HNSW_THRESHOLD</c>.
    /// Default 10,000 (where the graph's query is measured ahead of the exact scan at 1,280-d, docs/benchmarks.md).
    /// </summary>
    public int HnswThreshold { get; set; } = AutoIndex.DefaultThreshold;

    /// <summary>HNSW links per node. Env <c>IRIS_SEARCH_HNSW_M</c>. Default 16.</summary>
    public int HnswM { get; set; } = 16;

    /// <summary>HNSW build candidates. Env <c>IRIS_SEARCH_HNSW_EF_CONSTRUCTION</c>. Default 200.</summary>
    public int HnswEfConstruction { get; set; } = 200;

    /// <summary>HNSW search candidates (at least the hits asked for). Env <c>IRIS_SEARCH_HNSW_EF_SEARCH</c>. Default 128.</summary>
    public int HnswEfSearch { get; set; } = 128;

    /// <summary>
    /// Whether the HNSW walk scores int8 codes of the vectors and re-scores its ef best with the floats (answers' order
    /// and cosines exact; d bytes more per vector, about 1.7–2× the queries per CPU-second at equal recall, see
    /// docs/benchmarks.md). Env <c>IRIS_SEARCH_HNSW_INT8</c> (true / false). Default true.
    /// </summary>
    public bool HnswInt8 { get; set; } = true;

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
        o.HnswThreshold = EnvSettings.Int("IRIS_SEARCH_HNSW_THRESHOLD") ?? o.HnswThreshold;
        o.HnswM = EnvSettings.Int("IRIS_SEARCH_HNSW_M") ?? o.HnswM;
        o.HnswEfConstruction = EnvSettings.Int("IRIS_SEARCH_HNSW_EF_CONSTRUCTION") ?? o.HnswEfConstruction;
        o.HnswEfSearch = EnvSettings.Int("IRIS_SEARCH_HNSW_EF_SEARCH") ?? o.HnswEfSearch;
        o.HnswInt8 = EnvSettings.Bool("IRIS_SEARCH_HNSW_INT8") ?? o.HnswInt8;
        o.ChangeLogRetention = EnvSettings.Int("IRIS_SEARCH_CHANGELOG_RETENTION_SECONDS") is { } retention ? TimeSpan.FromSeconds(retention) : o.ChangeLogRetention;
        o.ChangeLogPruneInterval = EnvSettings.Int("IRIS_SEARCH_CHANGELOG_PRUNE_SECONDS") is { } interval ? TimeSpan.FromSeconds(interval) : o.ChangeLogPruneInterval;
        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (Index is not ("auto" or "exact" or "hnsw") || HnswThreshold < 1 || HnswM is < 2 or > 128 || HnswEfConstruction is < 8 or > 4096 || HnswEfSearch is < 1 or > 4096)
        {
            throw new InvalidOperationException("Invalid IRIS_SEARCH_* setting: index 'auto', 'exact' or 'hnsw', HNSW threshold 1 or more, HNSW M 2–128, ef_construction 8–4096, ef_search 1–4096.");
        }

        if (ChangeLogRetention < TimeSpan.Zero || ChangeLogPruneInterval < TimeSpan.FromSeconds(1))
        {
            throw new InvalidOperationException("Invalid IRIS_SEARCH_CHANGELOG_* setting: retention 0 s or more, prune interval 1 s or more.");
        }
    }

    /// <summary>A new, empty index of the configured engine.</summary>
    public IVectorIndex NewIndex() => NewIndex(NullLogger.Instance);

    /// <summary>A new, empty index of the configured engine, logging its background failures (graph build, compaction) to <paramref name="logger"/>.</summary>
    public IVectorIndex NewIndex(ILogger logger) => Index switch
    {
        "hnsw" => new HnswIndex(Hnsw) { Logger = logger },
        "auto" => new AutoIndex(HnswThreshold, () => new HnswIndex(Hnsw), logger),
        _ => new QuantizedExactIndex(),
    };

    /// <summary>The index a snapshot holds (HNSW only; the exact index reloads from the store, which costs as much).</summary>
    public IVectorIndex? RestoreIndex(Stream snapshot) => RestoreIndex(snapshot, NullLogger.Instance);

    /// <summary>The index a snapshot holds, logging its background failures to <paramref name="logger"/>; with <c>auto</c>, the graph behind an <see cref="AutoIndex"/> past its switch.</summary>
    public IVectorIndex? RestoreIndex(Stream snapshot, ILogger logger) => Index switch
    {
        "hnsw" => HnswIndex.ReadSnapshot(snapshot, Hnsw) is { } graph ? WithLogger(graph, logger) : null,
        "auto" => HnswIndex.ReadSnapshot(snapshot, Hnsw) is { } graph ? new AutoIndex(HnswThreshold, () => new HnswIndex(Hnsw), graph, logger) : null,
        _ => null,
    };

    private static HnswIndex WithLogger(HnswIndex graph, ILogger logger)
    {
        graph.Logger = logger;
        return graph;
    }

    private HnswOptions Hnsw => new(HnswM, HnswEfConstruction, HnswEfSearch) { Int8 = HnswInt8 };
}
