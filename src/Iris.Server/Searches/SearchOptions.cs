using Iris.Core.Configuration;
using Iris.Search.Index;

namespace Iris.Server.Searches;

/// <summary>Settings of search. Each maps to an environment variable; tests replace the whole object in DI.</summary>
public sealed class SearchOptions
{
    /// <summary>
    /// The engine behind each (app, embedding model) index. Env <c>IRIS_SEARCH_INDEX</c>: <c>exact</c> (default; SIMD scan,
    /// about 1 ms per 10,000 vectors of 1280-d per query, nothing to build) or <c>hnsw</c> (the graph; faster queries on
    /// large apps; snapshotted to the blob store so a restarted node restores it instead of rebuilding).
    /// </summary>
    public string Index { get; set; } = "exact";

    /// <summary>HNSW links per node. Env <c>IRIS_SEARCH_HNSW_M</c>. Default 16.</summary>
    public int HnswM { get; set; } = 16;

    /// <summary>HNSW build candidates. Env <c>IRIS_SEARCH_HNSW_EF_CONSTRUCTION</c>. Default 200.</summary>
    public int HnswEfConstruction { get; set; } = 200;

    /// <summary>HNSW search candidates (at least the hits asked for). Env <c>IRIS_SEARCH_HNSW_EF_SEARCH</c>. Default 128.</summary>
    public int HnswEfSearch { get; set; } = 128;

    public static SearchOptions FromEnvironment()
    {
        var o = new SearchOptions();
        o.Index = EnvSettings.String("IRIS_SEARCH_INDEX")?.ToLowerInvariant() ?? o.Index;
        o.HnswM = EnvSettings.Int("IRIS_SEARCH_HNSW_M") ?? o.HnswM;
        o.HnswEfConstruction = EnvSettings.Int("IRIS_SEARCH_HNSW_EF_CONSTRUCTION") ?? o.HnswEfConstruction;
        o.HnswEfSearch = EnvSettings.Int("IRIS_SEARCH_HNSW_EF_SEARCH") ?? o.HnswEfSearch;
        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (Index is not ("exact" or "hnsw") || HnswM is < 2 or > 128 || HnswEfConstruction is < 8 or > 4096 || HnswEfSearch is < 1 or > 4096)
        {
            throw new InvalidOperationException("Invalid IRIS_SEARCH_* setting: index 'exact' or 'hnsw', HNSW M 2–128, ef_construction 8–4096, ef_search 1–4096.");
        }
    }

    /// <summary>A new, empty index of the configured engine.</summary>
    public IVectorIndex NewIndex() => Index == "hnsw" ? new HnswIndex(Hnsw) : new ExactIndex();

    /// <summary>The index a snapshot holds (HNSW only; the exact index reloads from the store, which costs as much).</summary>
    public IVectorIndex? RestoreIndex(byte[] snapshot) => Index == "hnsw" ? HnswIndex.Restore(snapshot, Hnsw) : null;

    private HnswOptions Hnsw => new(HnswM, HnswEfConstruction, HnswEfSearch);
}
