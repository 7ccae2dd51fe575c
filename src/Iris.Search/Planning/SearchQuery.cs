using System.Text.Json;
using Iris.Inference.Predict;
using Iris.Storage.Searches;

namespace Iris.Search.Planning;

/// <summary>A clause that scores inputs (CLARIFAI_FACTS.md 7.1 "Rank"); <see cref="Negate"/> turns a score s into 1 − s.</summary>
public abstract record Rank(bool Negate)
{
    /// <summary>A raw embedding, compared with the app's stored embeddings of its base-workflow embedder.</summary>
    public sealed record Vector(float[] Values, bool Negate) : Rank(Negate);

    /// <summary>Inputs similar to a stored input (its stored embedding).</summary>
    public sealed record SimilarTo(string InputId, bool Negate) : Rank(Negate);

    /// <summary>An image (bytes or URL) embedded now by the app's base-workflow embedder.</summary>
    public sealed record Image(ImageSource Source, bool Negate) : Rank(Negate);

    /// <summary>Text similarity: needs a text embedder in the base workflow.</summary>
    public sealed record Text(string Raw, bool Negate) : Rank(Negate);

    /// <summary>A concept the base workflow's concept model predicted: by id, or by name when the id is empty; not positive ranks by 1 − value.</summary>
    public sealed record Concept(string Id, string Name, bool Positive, bool Negate) : Rank(Negate);
}

/// <summary>A filter clause the planner answers from the candidates' queryable columns (metadata JSON, geo point).</summary>
public abstract record Clause(bool Negate)
{
    /// <summary>
    /// The input's metadata contains the wanted object; with several top-level keys, containing any one of them is
    /// enough (Clarifai's documented OR rule). Nested objects match by containment, arrays by element containment.
    /// </summary>
    public sealed record Metadata(JsonElement Wanted, bool Negate) : Clause(Negate);

    /// <summary>The input's geo point lies within <paramref name="RadiusKm"/> great-circle kilometres of the point.</summary>
    public sealed record GeoCircle(double Longitude, double Latitude, double RadiusKm, bool Negate) : Clause(Negate);

    /// <summary>The input's geo point lies in the box spanned by two corners (degrees).</summary>
    public sealed record GeoBox(double Longitude1, double Latitude1, double Longitude2, double Latitude2, bool Negate) : Clause(Negate);
}

/// <summary>One search: ranks and filters combined with AND, hits under <see cref="MinValue"/> dropped.</summary>
public sealed record SearchQuery(IReadOnlyList<Rank> Ranks, IReadOnlyList<InputCondition> Conditions, IReadOnlyList<Clause> Clauses, float MinValue)
{
    public bool HasFilters => Conditions.Count > 0 || Clauses.Count > 0;
}

/// <summary>An input matching the query with its score in [0, 1].</summary>
public readonly record struct ScoredHit(string InputId, float Score);

/// <summary>The first hits of a search (as many as asked for), best first, and how many inputs match in all.</summary>
public sealed record SearchResult(IReadOnlyList<ScoredHit> Hits, long Total);
