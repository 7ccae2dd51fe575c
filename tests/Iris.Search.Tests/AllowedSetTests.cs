using Iris.Search.Index;
using Iris.Testing;

namespace Iris.Search.Tests;

/// <summary>
/// An <see cref="AllowedSet"/> is resolved into an index's ids once and reused while that index does not change: the
/// answers with a reused set equal those of a fresh set per query (what the planner paid before, one lookup per key per
/// query) and the float scan's filtered answer; every insert, replacement, delete, clear and compaction makes the next
/// search resolve again, so no stale id ever leaks into an answer; keys the index does not hold are ignored and
/// duplicates count once.
/// </summary>
public sealed class AllowedSetTests
{
    private const int Count = 3_000;
    private const int Dimensions = 32;

    private static string Key(int i) => "k" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture);

    private static readonly float[][] Vectors = SeededVectors.Embeddings(Count, Dimensions, seed: 31);
    private static readonly float[][] Queries = SeededVectors.Embeddings(20, Dimensions, seed: 32);

    // Every engine the planner can be given; the HNSW ones once with the walk forced (bitset walk) and once scoring the set.
    public static TheoryData<string> Engines => ["exact", "quantized", "hnsw-walk", "hnsw-scan"];

    private static IVectorIndex Create(string engine) => engine switch
    {
        "exact" => new ExactIndex(),
        "quantized" => new QuantizedExactIndex(),
        "hnsw-walk" => new HnswIndex(new HnswOptions(M: 8, EfConstruction: 64, EfSearch: 64) { CompactAbove = 1, ExactBelowSelectivity = 0 }) { ScanWhenCheaper = false },
        "hnsw-scan" => new HnswIndex(new HnswOptions(M: 8, EfConstruction: 64) { CompactAbove = 1, ExactBelowSelectivity = 1 }),
        _ => throw new ArgumentOutOfRangeException(nameof(engine)),
    };

    private static (IVectorIndex Index, ExactIndex Truth) Filled(string engine)
    {
        var index = Create(engine);
        var truth = new ExactIndex();
        for (var i = 0; i < Count; i++)
        {
            index.Upsert(Key(i), Vectors[i]);
            truth.Upsert(Key(i), Vectors[i]);
        }

        return (index, truth);
    }

    // A fixed scramble (string hashes are randomised per process), so the set is the same every run: about 10 %.
    private static List<string> TenPercent() => [.. Enumerable.Range(0, Count).Where(i => (unchecked((uint)i * 2654435761u) >> 7) % 10 == 3).Select(Key)];

    [Theory]
    [MemberData(nameof(Engines))]
    public void A_reused_set_answers_what_a_fresh_set_per_query_answers_and_is_resolved_once(string engine)
    {
        var (index, truth) = Filled(engine);
        var keys = TenPercent();
        var reused = new AllowedSet(keys);
        var lookup = keys.ToHashSet(StringComparer.Ordinal);
        foreach (var q in Queries)
        {
            foreach (var k in new[] { 1, 10, 40 })
            {
                var fresh = new AllowedSet(keys);
                var expected = index.SearchAmong(q, k, fresh);
                var actual = index.SearchAmong(q, k, reused);
                Assert.Equal(expected.Select(n => n.Key), actual.Select(n => n.Key));
                Assert.Equal(expected.Select(n => n.Cosine), actual.Select(n => n.Cosine));
                Assert.Equal(1, fresh.Resolutions);
                Assert.All(actual, n => Assert.Contains(n.Key, lookup));
                if (engine is not "hnsw-walk")
                {
                    // The exact engines (and HNSW scoring the set) answer the float scan's filtered top k: same keys, same order.
                    var scan = truth.Search(q, k, lookup.Contains);
                    Assert.Equal(scan.Select(n => n.Key), actual.Select(n => n.Key));
                    Assert.Equal(scan.Select(n => n.Cosine), actual.Select(n => n.Cosine), (a, b) => Math.Abs(a - b) < 1e-5f);
                }
            }
        }

        Assert.Equal(lookup.Count, index.CountAmong(reused));
        Assert.Equal(1, reused.Resolutions);
    }

    [Fact]
    public void The_bitset_walk_keeps_the_recall_of_the_scan()
    {
        var (index, truth) = Filled("hnsw-walk");
        var keys = TenPercent();
        var allowed = new AllowedSet(keys);
        var lookup = keys.ToHashSet(StringComparer.Ordinal);
        double hits = 0;
        foreach (var q in Queries)
        {
            var expected = truth.Search(q, 10, lookup.Contains).Select(n => n.Key).ToHashSet();
            hits += index.SearchAmong(q, 10, allowed).Count(n => expected.Contains(n.Key));
        }

        Assert.InRange(hits / (Queries.Length * 10), 0.95, 1.0);
        Assert.Equal(1, allowed.Resolutions);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Keys_not_held_are_ignored_and_duplicates_count_once(string engine)
    {
        var (index, _) = Filled(engine);
        var allowed = new AllowedSet([Key(5), "absent", Key(7), Key(5), "", Key(9), Key(7)]);
        Assert.Equal(3, index.CountAmong(allowed));
        var found = index.SearchAmong(Vectors[7], 10, allowed);
        Assert.Equal(3, found.Count);
        Assert.Equal(Key(7), found[0].Key);
        Assert.Equal([Key(5), Key(7), Key(9)], found.Select(n => n.Key).Order(StringComparer.Ordinal));
        Assert.Empty(index.SearchAmong(Vectors[7], 10, new AllowedSet(["absent", "missing"])));
        Assert.Equal(0, index.CountAmong(new AllowedSet([])));
        Assert.True(allowed.Contains(Key(9)));
        Assert.False(allowed.Contains("missing"));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Inserts_replacements_removals_and_clears_invalidate_the_resolution(string engine)
    {
        var (index, _) = Filled(engine);
        var newcomer = "new-key";
        var allowed = new AllowedSet([Key(1), Key(2), Key(3), Key(4), newcomer]);
        Assert.Equal(4, index.CountAmong(allowed));
        Assert.Equal(Key(2), index.SearchAmong(Vectors[2], 1, allowed)[0].Key);
        Assert.Equal(1, allowed.Resolutions);

        // Insert: the newcomer, a copy of vector 3, is now held and found.
        index.Upsert(newcomer, Vectors[3]);
        Assert.Equal(5, index.CountAmong(allowed));
        Assert.Equal(2, allowed.Resolutions);
        Assert.Contains(newcomer, index.SearchAmong(Vectors[3], 2, allowed).Select(n => n.Key));

        // Replacement: key 1 now holds vector 2's direction, and is found first for it beside key 2.
        index.Upsert(Key(1), Vectors[2]);
        var both = index.SearchAmong(Vectors[2], 2, allowed);
        Assert.Equal([Key(1), Key(2)], both.Select(n => n.Key).Order(StringComparer.Ordinal));
        Assert.Equal(3, allowed.Resolutions);

        // Removal: key 2 is gone from the answers and the count at once.
        Assert.True(index.Remove(Key(2)));
        Assert.Equal(4, index.CountAmong(allowed));
        Assert.DoesNotContain(Key(2), index.SearchAmong(Vectors[2], 10, allowed).Select(n => n.Key));
        Assert.Equal(4, allowed.Resolutions);

        // Clear: nothing is held; keys inserted again are found under their new ids.
        index.Clear();
        Assert.Equal(0, index.CountAmong(allowed));
        Assert.Empty(index.SearchAmong(Vectors[3], 10, allowed));
        index.Upsert(Key(4), Vectors[4]);
        index.Upsert("other", Vectors[3]);
        var after = index.SearchAmong(Vectors[3], 10, allowed);
        Assert.Equal([Key(4)], after.Select(n => n.Key));
        Assert.Equal(1, index.CountAmong(allowed));

        // Searches with no write in between reuse the last resolution.
        var resolutions = allowed.Resolutions;
        index.SearchAmong(Vectors[4], 3, allowed);
        index.CountAmong(allowed);
        Assert.Equal(resolutions, allowed.Resolutions);
    }

    [Theory]
    [InlineData("hnsw-walk")]
    [InlineData("hnsw-scan")]
    public void A_compaction_renumbering_the_nodes_invalidates_the_resolution(string engine)
    {
        var (index, truth) = Filled(engine);
        var hnsw = (HnswIndex)index;
        var keys = TenPercent();
        var allowed = new AllowedSet(keys);
        index.SearchAmong(Queries[0], 10, allowed);

        // Delete every other node (half the allowed ones among them), then compact: the live nodes get new ids.
        for (var i = 0; i < Count; i += 2)
        {
            Assert.True(index.Remove(Key(i)));
            truth.Remove(Key(i));
        }

        index.SearchAmong(Queries[0], 10, allowed);
        var before = allowed.Resolutions;
        hnsw.Compact();
        Assert.Equal(Count / 2, hnsw.NodeCount);

        var live = keys.Where(truth.Contains).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(live.Count, index.CountAmong(allowed));
        Assert.Equal(before + 1, allowed.Resolutions);
        foreach (var q in Queries)
        {
            var found = index.SearchAmong(q, 10, allowed);
            Assert.Equal(10, found.Count);
            Assert.All(found, n => Assert.Contains(n.Key, live));
            if (engine == "hnsw-scan")
            {
                Assert.Equal(truth.Search(q, 10, live.Contains).Select(n => n.Key), found.Select(n => n.Key));
            }
        }
    }

    [Fact]
    public void One_set_searched_on_two_indexes_in_turn_answers_each_with_its_own_ids()
    {
        // The same keys, inserted in opposite orders, so the two indexes give every key another id.
        var forward = new QuantizedExactIndex();
        var backward = new HnswIndex(new HnswOptions(M: 8, EfConstruction: 64) { ExactBelowSelectivity = 1 });
        for (var i = 0; i < 500; i++)
        {
            forward.Upsert(Key(i), Vectors[i]);
            backward.Upsert(Key(499 - i), Vectors[499 - i]);
        }

        var allowed = new AllowedSet(Enumerable.Range(0, 500).Where(i => i % 5 == 0).Select(Key));
        for (var round = 0; round < 3; round++)
        {
            foreach (IVectorIndex index in new IVectorIndex[] { forward, backward })
            {
                var found = index.SearchAmong(Vectors[250], 5, allowed);
                Assert.Equal(Key(250), found[0].Key);
                Assert.All(found, n => Assert.True(allowed.Contains(n.Key)));
                Assert.Equal(100, index.CountAmong(allowed));
            }
        }
    }
}
