using System.Diagnostics;
using Iris.Search.Index;
using Iris.Testing;
using Xunit.Abstractions;

namespace Iris.Search.Tests;

/// <summary>
/// Recall gate of the HNSW index against brute force (fixed seeds): 100,000 clustered vectors, 200 queries, recall@10 at
/// the default settings at least 0.99 without a filter and with filters letting 10 % and 1 % of the vectors through
/// (the filter applies during the walk; 1 % is answered exactly). Also: deletes never come back, and a re-inserted key
/// is found at its new place. Runtime on 2 cores: about a minute, most of it building the graph.
/// </summary>
public sealed class HnswRecallTests(ITestOutputHelper output)
{
    private const int Count = 100_000;
    private const int Dimensions = 48;
    private const int Queries = 200;
    private const int K = 10;

    private static readonly Lazy<(HnswIndex Hnsw, ExactIndex Exact, float[][] Queries, TimeSpan Build)> Built = new(Build);

    private static (HnswIndex, ExactIndex, float[][], TimeSpan) Build()
    {
        var vectors = SeededVectors.Clustered(Count, Dimensions, clusters: 200, seed: 20261206);
        var hnsw = new HnswIndex();
        var exact = new ExactIndex();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < vectors.Length; i++)
        {
            hnsw.Upsert(Key(i), vectors[i]);
        }

        var build = clock.Elapsed;
        for (var i = 0; i < vectors.Length; i++)
        {
            exact.Upsert(Key(i), vectors[i]);
        }

        var queries = SeededVectors.Clustered(Queries, Dimensions, clusters: 200, seed: 20261206).Select((q, i) =>
        {
            // Queries near (not at) stored points: the same cluster centres, fresh noise.
            var noise = SeededVectors.Gaussian(new Random(i), Dimensions, 0.1f);
            return q.Zip(noise, (a, b) => a + b).ToArray();
        }).ToArray();
        return (hnsw, exact, queries, build);
    }

    // A fixed scramble of the key's number (string hashes are randomised per process), so the filtered sets are the same every run.
    private static uint Mix(string key) => unchecked((uint)int.Parse(key.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture) * 2654435761u) >> 7;

    private static string Key(int i) => "in" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private double Recall(Func<string, bool>? filter, string label)
    {
        var (hnsw, exact, queries, build) = Built.Value;
        double hits = 0;
        var clock = Stopwatch.StartNew();
        foreach (var q in queries)
        {
            var truth = exact.Search(q, K, filter).Select(n => n.Key).ToHashSet();
            var found = hnsw.Search(q, K, filter);
            Assert.All(found, n => Assert.True(filter is null || filter(n.Key)));
            hits += found.Count(n => truth.Contains(n.Key)) / (double)Math.Max(1, truth.Count);
        }

        var recall = hits / queries.Length;
        output.WriteLine($"{label}: recall@{K} {recall:F4} (build of {Count} × {Dimensions}-d took {build.TotalSeconds:F1} s; {queries.Length} queries with ground truth in {clock.Elapsed.TotalSeconds:F1} s)");
        return recall;
    }

    [Fact]
    public void Recall_at_10_without_a_filter_is_at_least_099() => Assert.InRange(Recall(null, "no filter"), 0.99, 1.0);

    [Fact]
    public void Recall_at_10_with_a_10_percent_filter_is_at_least_099() => Assert.InRange(Recall(k => Mix(k) % 10 == 3, "10 % filter"), 0.99, 1.0);

    [Fact]
    public void Recall_at_10_with_a_1_percent_filter_is_at_least_099() => Assert.InRange(Recall(k => Mix(k) % 100 == 42, "1 % filter"), 0.99, 1.0);

    [Fact]
    public void Deleted_keys_never_come_back_and_a_reinserted_key_is_found_at_its_new_place()
    {
        var index = new HnswIndex(new HnswOptions(M: 8, EfConstruction: 64, EfSearch: 64));
        var vectors = SeededVectors.Clustered(5000, 16, 20, seed: 5);
        for (var i = 0; i < vectors.Length; i++)
        {
            index.Upsert(Key(i), vectors[i]);
        }

        for (var i = 0; i < vectors.Length; i += 2)
        {
            Assert.True(index.Remove(Key(i)));
        }

        Assert.Equal(2500, index.Count);
        foreach (var q in vectors.Take(50))
        {
            Assert.All(index.Search(q, 10, null), n => Assert.Equal(1, int.Parse(n.Key[2..], System.Globalization.CultureInfo.InvariantCulture) % 2));
        }

        index.Upsert(Key(0), vectors[1]);
        var found = index.Search(vectors[1], 2, null).Select(n => n.Key).ToHashSet();
        Assert.Equal(new HashSet<string> { Key(0), Key(1) }, found);
        Assert.False(index.Contains(Key(2)));
    }
}

/// <summary>An HNSW snapshot restores the same graph: identical answers, deletes kept, and inserts after the restore work.</summary>
public sealed class HnswSnapshotTests
{
    [Fact]
    public void A_restored_snapshot_answers_exactly_as_the_original()
    {
        var options = new HnswOptions(M: 8, EfConstruction: 64, EfSearch: 32);
        var original = new HnswIndex(options);
        var vectors = SeededVectors.Clustered(3000, 24, 30, seed: 11);
        for (var i = 0; i < vectors.Length; i++)
        {
            original.Upsert("k" + i, vectors[i]);
        }

        original.Remove("k5");
        var restored = HnswIndex.Restore(original.Snapshot(), options);

        Assert.NotNull(restored);
        Assert.Equal(original.Count, restored.Count);
        foreach (var q in vectors.Take(100))
        {
            Assert.Equal(original.Search(q, 10, null), restored.Search(q, 10, null));
        }

        Assert.False(restored.Contains("k5"));
        restored.Upsert("new", vectors[7]);
        Assert.Contains(restored.Search(vectors[7], 2, null), n => n.Key == "new");
        Assert.Null(HnswIndex.Restore(original.Snapshot(), options with { M = 16 }));
    }
}
