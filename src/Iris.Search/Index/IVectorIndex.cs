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

    /// <summary>Cosine similarity of the query with <paramref name="key"/>'s vector; false when the key is not indexed.</summary>
    bool TrySimilarity(ReadOnlySpan<float> query, string key, out float cosine);
}
