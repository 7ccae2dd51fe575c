using System.Runtime.CompilerServices;
using System.Text.Json;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Indexing;
using Iris.Inference.Predict;
using Iris.Search.Index;
using Iris.Storage.Searches;
using Iris.Storage.Vectors;

namespace Iris.Search.Planning;

/// <summary>
/// The one planner of every search RPC (inputs, annotations, legacy and saved searches). Filters first: the store's
/// conditions in SQL, then metadata and geo clauses on the candidates' queryable columns. Then ranks: vector ranks
/// (raw vector, stored input, image embedded now) against the app's index of its base-workflow embedder, concept ranks
/// against the concepts the base workflow predicted at ingestion (only inputs that concept model ran on). Scores (CLARIFAI_FACTS.md 7.1): a vector rank scores
/// (1 + cosine) / 2, so a near-identical image is about 1 and an unrelated one about 0.5; a concept rank scores the
/// predicted value (1 − value for value 0); a negated rank scores 1 − s; several ranks average; filter-only queries
/// score 1.0, newest input first.
/// </summary>
public sealed class SearchPlanner(IBaseWorkflows workflows, VectorIndexes indexes, IInputIndexStore vectors, ISearchStore store, ImagePredictor predictor)
{
    private static readonly ConceptFilter Everything = new(int.MaxValue, 0, null, []);

    /// <summary>
    /// The first <paramref name="limit"/> hits of <paramref name="query"/>. <paramref name="exactTotal"/> scores every
    /// candidate exactly instead of asking the index for its (approximate) top hits: the total is the exact number of
    /// matches (only_count), and the hits follow one total order (score, then newest input first), so a run with a larger
    /// limit starts with the hits of a smaller one (exact pages). Otherwise a single plain vector rank is answered by the
    /// index, its hits in one total order too (score, then input id: exact pages with the exact engine), and reports the
    /// index size as its estimate when unfiltered.
    /// </summary>
    public async Task<SearchResult> RunAsync(AppRef app, SearchQuery query, int limit, bool exactTotal, CancellationToken cancellationToken)
    {
        var ranks = query.Ranks;
        if (ranks.Count == 0)
        {
            var matching = query.MinValue > 1 ? [] : await CandidatesAsync(app, query, cancellationToken).ConfigureAwait(false);
            return new SearchResult([.. matching.Take(limit).Select(c => new ScoredHit(c.InputId, 1f))], matching.Count);
        }

        var models = await workflows.ForAppAsync(app, cancellationToken).ConfigureAwait(false);
        if (ranks.OfType<Rank.Text>().Any())
        {
            // Every embedder Iris serves (IBaseWorkflows.Embedder is an image model) embeds images: no text vectors exist.
            throw new IrisException(StatusCode.SearchInvalidRequest,
                $"App '{app.AppId}' cannot be ranked by text: its base workflow '{models.WorkflowId}' has no text embedding model (only image embeddings are stored). Filter by concepts or metadata instead.");
        }

        var vectorQueries = new List<(float[] Query, bool Negate)>();
        IVectorIndex? index = null;
        var vectorRanks = ranks.Where(r => r is not Rank.Concept).ToList();
        if (vectorRanks.Count > 0)
        {
            var embedder = models.Embedder ?? throw new IrisException(StatusCode.SearchInvalidRequest,
                $"App '{app.AppId}' cannot be searched by image, input or vector: its base workflow '{models.WorkflowId}' has no embedding model, so its inputs have no embeddings to compare.");
            index = await indexes.GetAsync(app, embedder.Descriptor.VersionId, cancellationToken).ConfigureAwait(false);
            foreach (var rank in vectorRanks)
            {
                vectorQueries.Add((await EmbedAsync(app, rank, embedder, index.Dimensions, cancellationToken).ConfigureAwait(false), rank.Negate));
            }
        }

        var conceptScores = new List<(IReadOnlyDictionary<string, float> Values, bool Positive, bool Negate)>();
        foreach (var rank in ranks.OfType<Rank.Concept>())
        {
            var model = models.Concepts ?? throw new IrisException(StatusCode.SearchInvalidRequest,
                $"App '{app.AppId}' cannot be ranked by predicted concepts: its base workflow '{models.WorkflowId}' has no concept model.");
            var concept = model.Descriptor.Concepts.FirstOrDefault(c => rank.Id.Length > 0 ? string.Equals(c.Id, rank.Id, StringComparison.Ordinal) : string.Equals(c.Name, rank.Name, StringComparison.Ordinal))
                ?? throw new IrisException(StatusCode.SearchInvalidRequest,
                    $"Concept {(rank.Id.Length > 0 ? "id '" + rank.Id : "name '" + rank.Name)}' is not a concept of '{model.Descriptor.Id}', the concept model of the base workflow '{models.WorkflowId}' (ranks by concept use its predictions; filter by your own labels with a filter instead).");
            conceptScores.Add((await vectors.PredictedValuesAsync(app, model.Descriptor.VersionId, concept.Id, cancellationToken).ConfigureAwait(false), rank.Positive, rank.Negate));
        }

        // One plain vector rank: the index's own top-k, with the filter applied while it scans.
        if (vectorQueries.Count == 1 && conceptScores.Count == 0 && !vectorQueries[0].Negate && !exactTotal)
        {
            return await NearestAsync(app, index!, vectorQueries[0].Query, await AllowedAsync(app, query, cancellationToken).ConfigureAwait(false), query.MinValue, limit, cancellationToken).ConfigureAwait(false);
        }

        var candidates = await CandidatesAsync(app, query, cancellationToken).ConfigureAwait(false);
        var scored = new List<ScoredHit>(candidates.Count);
        foreach (var candidate in candidates)
        {
            var sum = 0f;
            var indexed = true;
            foreach (var (q, negate) in vectorQueries)
            {
                if (!index!.TrySimilarity(q, candidate.InputId, out var cosine))
                {
                    indexed = false;
                    break;
                }

                var s = Score(cosine);
                sum += negate ? 1 - s : s;
            }

            if (!indexed)
            {
                continue;
            }

            foreach (var (values, positive, negate) in conceptScores)
            {
                // An input the concept model never ran on (not processed yet, or indexed by a base workflow without
                // this model) has no score to give, not a score of 0: it is not a hit.
                if (!values.TryGetValue(candidate.InputId, out var v))
                {
                    indexed = false;
                    break;
                }

                var s = positive ? v : 1 - v;
                sum += negate ? 1 - s : s;
            }

            if (!indexed)
            {
                continue;
            }

            var score = sum / (vectorQueries.Count + conceptScores.Count);
            if (score >= query.MinValue)
            {
                scored.Add(new ScoredHit(candidate.InputId, score));
            }
        }

        // Stable: equal scores keep the candidates' newest-first order.
        var ordered = scored.OrderByDescending(h => h.Score).ToList();
        return new SearchResult([.. ordered.Take(limit)], ordered.Count);
    }

    /// <summary>Cosine in [-1, 1] as Clarifai's score: about 1 for the same image, about 0.5 for unrelated (orthogonal) ones.</summary>
    public static float Score(float cosine) => Math.Clamp((1 + cosine) / 2, 0f, 1f);

    /// <summary>
    /// One vector rank's first <paramref name="limit"/> hits from the index, in one total order: score descending, then
    /// input id (ordinal). Pages are slices of that order, so page N + 1 continues page N with no duplicate and no gap: the
    /// index is asked for one hit more than needed and again for more until the last hit it returned scores strictly
    /// below the last hit kept (nothing it left out can tie with or beat a kept hit), it ran out, or the rest fall under
    /// <paramref name="minValue"/>. Exact with the exact engine; with <c>hnsw</c> the order is the graph's answer.
    /// </summary>
    private async Task<SearchResult> NearestAsync(AppRef app, IVectorIndex index, float[] q, AllowedSet? allowed, float minValue, int limit, CancellationToken cancellationToken)
    {
        var k = Math.Max(limit, 1) + 1;
        while (true)
        {
            var found = allowed is null ? index.Search(q, k, null) : index.SearchAmong(q, k, allowed);
            var hits = found.Select(n => new ScoredHit(n.Key, Score(n.Cosine))).Where(h => h.Score >= minValue).ToList();
            if (allowed is null && hits.Count > 0)
            {
                // The index may still hold inputs being deleted (until their purge): they leave results at once.
                var visible = await store.VisibleAsync(app, [.. hits.Select(h => h.InputId)], cancellationToken).ConfigureAwait(false);
                hits.RemoveAll(h => !visible.Contains(h.InputId));
            }

            hits.Sort(InTotalOrder);
            var exhausted = found.Count < k || Score(found[^1].Cosine) < minValue;
            if (exhausted || (hits.Count >= limit && (limit == 0 || hits[limit - 1].Score > Score(found[^1].Cosine))))
            {
                // An estimate, as Clarifai's: the indexed inputs the filter lets through (the index size without one).
                var total = allowed is null ? Math.Max(index.Count, hits.Count) : hits.Count < limit ? hits.Count : index.CountAmong(allowed);
                return new SearchResult([.. hits.Take(limit)], total);
            }

            k = k > int.MaxValue / 4 ? int.MaxValue : k * 4;
        }
    }

    /// <summary>Score descending, then input id: the order of a vector rank's hits, whatever page is asked for.</summary>
    private static int InTotalOrder(ScoredHit a, ScoredHit b)
    {
        var byScore = b.Score.CompareTo(a.Score);
        return byScore != 0 ? byScore : string.CompareOrdinal(a.InputId, b.InputId);
    }

    private async Task<float[]> EmbedAsync(AppRef app, Rank rank, IImageModel embedder, int dimensions, CancellationToken cancellationToken)
    {
        switch (rank)
        {
            case Rank.Vector v:
                if (dimensions > 0 && v.Values.Length != dimensions)
                {
                    throw new IrisException(StatusCode.SearchInvalidRequest,
                        $"The rank's embedding has {v.Values.Length} dimensions; this app's embeddings (model '{embedder.Descriptor.Id}') have {dimensions}.");
                }

                return v.Values;
            case Rank.SimilarTo s:
                var stored = await vectors.FindEmbeddingAsync(app, s.InputId, cancellationToken).ConfigureAwait(false);
                if (stored is null || !string.Equals(stored.ModelVersionId, embedder.Descriptor.VersionId, StringComparison.Ordinal))
                {
                    throw new IrisException(StatusCode.SearchByNotFullyIndexedInput,
                        $"Input '{s.InputId}' has no embedding in app '{app.AppId}' yet: it does not exist, is not an image, or has not finished processing (see its status).");
                }

                return stored.Vector;
            case Rank.Image image:
                var results = await predictor.PredictAsync(embedder, app, [image.Source], Everything, cancellationToken).ConfigureAwait(false);
                if (results[0].Error is { } error)
                {
                    throw error;
                }

                return results[0].Data!.Embeddings[0].Vector.ToArray();
            default:
                throw new ArgumentOutOfRangeException(nameof(rank));
        }
    }

    /// <summary>
    /// The filters of <paramref name="query"/> as an index's allowed set (null: no filter). The index resolves a set into
    /// its own ids once and keeps that while it does not change (the asks of one request, a larger k and the total, reuse
    /// it). Without metadata or geo clauses only the matching ids are read; the store answers the same list while it has not
    /// changed (SQLite, see <see cref="SqlSearchStore"/>), and the set made of a list is kept with it, so a repeated filter on
    /// an unchanged store and index costs neither the read nor the resolution.
    /// </summary>
    private async Task<AllowedSet?> AllowedAsync(AppRef app, SearchQuery query, CancellationToken cancellationToken)
    {
        if (!query.HasFilters)
        {
            return null;
        }

        if (query.Clauses.Count > 0)
        {
            return new AllowedSet((await CandidatesAsync(app, query, cancellationToken).ConfigureAwait(false)).Select(c => c.InputId));
        }

        var ids = await store.MatchingIdsAsync(app, query.Conditions, cancellationToken).ConfigureAwait(false);
        return _allowedSets.GetValue(ids, list => new AllowedSet(list));
    }

    // The allowed set of each id list the store answered, alive as long as the list (the store's cache holds it).
    private readonly ConditionalWeakTable<IReadOnlyList<string>, AllowedSet> _allowedSets = new();

    private async Task<List<Candidate>> CandidatesAsync(AppRef app, SearchQuery query, CancellationToken cancellationToken)
    {
        var rows = await store.CandidatesAsync(app, query.Conditions, cancellationToken).ConfigureAwait(false);
        if (query.Clauses.Count == 0)
        {
            return [.. rows];
        }

        var parsed = new Dictionary<string, JsonElement?>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            parsed[row.InputId] = row.MetadataJson is null ? null : JsonDocument.Parse(row.MetadataJson).RootElement;
        }

        return [.. rows.Where(c => query.Clauses.All(clause => Clauses.Matches(clause, c, id => parsed.GetValueOrDefault(id))))];
    }
}
