namespace Iris.Search.Index;

/// <summary>One neighbour of a query: the key (an input id) and its cosine similarity in [-1, 1].</summary>
public readonly record struct Neighbor(string Key, float Cosine);

/// <summary>
/// The vectors of one (app, embedding model version), searchable by cosine similarity. Vectors are L2-normalised on
/// the way in, so cosine is a dot product and Euclidean order is the same order (|a−b|² = 2 − 2·cos). Safe for
/// concurrent readers and writers. The seam another engine (an HNSW graph, a native library) is measured behind.
/// </summary>
public interface IVectorIndex
{
    /// <summary>Length of every vector; 0 until the first insert fixes it.</summary>
    int Dimensions { get; }

    int Count { get; }

    /// <summary>Adds or replaces <paramref name="key"/>'s vector; a vector of another length than the index's throws.</summary>
    void Upsert(string key, ReadOnlySpan<float> vector);

    bool Remove(string key);

    bool Contains(string key);

    void Clear();

    /// <summary>
    /// The <paramref name="k"/> most similar keys that pass <paramref name="filter"/> (null: all), most similar first.
    /// The filter is applied while searching, so a selective filter still yields its k best.
    /// </summary>
    IReadOnlyList<Neighbor> Search(ReadOnlySpan<float> query, int k, Func<string, bool>? filter);

    /// <summary>
    /// The <paramref name="k"/> most similar keys among <paramref name="allowed"/> (the ids a query's filters let
    /// through), most similar first; keys the index does not hold are ignored. An index resolves the set into its own ids
    /// once and keeps the resolution in it while the index does not change (see <see cref="AllowedSet"/>), which is much
    /// cheaper than a callback per node visited and than a lookup per key on every query. The default filters by callback,
    /// for an engine that has no ids of its own to resolve into.
    /// </summary>
    IReadOnlyList<Neighbor> SearchAmong(ReadOnlySpan<float> query, int k, AllowedSet allowed) => Search(query, k, allowed.Contains);

    /// <summary>How many of <paramref name="allowed"/>'s keys the index holds (each counted once): the planner's estimate of a filtered total.</summary>
    int CountAmong(AllowedSet allowed) => allowed.Keys.Distinct(StringComparer.Ordinal).Count(Contains);

    /// <summary>Cosine similarity of the query with <paramref name="key"/>'s vector; false when the key is not indexed.</summary>
    bool TrySimilarity(ReadOnlySpan<float> query, string key, out float cosine);
}

/// <summary>The dimension rule every index applies on insert: the first vector fixes it, later ones must match.</summary>
internal static class IndexDimensions
{
    /// <summary>Refuses an empty vector (before any lock is taken).</summary>
    public static void RequireNonEmpty(ReadOnlySpan<float> vector)
    {
        if (vector.Length == 0)
        {
            throw new ArgumentException("A vector needs at least one dimension.", nameof(vector));
        }
    }

    /// <summary>Under the index's write lock: adopts the vector's length when the index is empty, else requires it.</summary>
    public static void Adopt(ref int dimensions, ReadOnlySpan<float> vector)
    {
        if (dimensions == 0)
        {
            dimensions = vector.Length;
        }
        else if (vector.Length != dimensions)
        {
            throw new ArgumentException($"This index holds {dimensions}-d vectors; got {vector.Length}.", nameof(vector));
        }
    }

    /// <summary>Under the index's read lock: a query must have the index's dimension (the kernels read d floats of it).</summary>
    public static void RequireQuery(int dimensions, ReadOnlySpan<float> query)
    {
        if (query.Length != dimensions)
        {
            throw new ArgumentException($"This index holds {dimensions}-d vectors; the query has {query.Length}.", nameof(query));
        }
    }
}
