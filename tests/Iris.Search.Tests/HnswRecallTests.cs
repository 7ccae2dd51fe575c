using System.Diagnostics;
using Iris.Search.Index;
using Iris.Testing;
using Xunit.Abstractions;

namespace Iris.Search.Tests;

/// <summary>
/// Recall gate of the HNSW index against brute force, with fixed seeds: 100,000 embedding-like vectors
/// (<see cref="SeededVectors.Embeddings"/>: a low-dimensional latent mixture mapped up, rectified) of
/// <see cref="Dimensions"/> dimensions, 200 fresh queries from the same distribution (not copies of indexed vectors).
/// recall@10 at the default settings must be at least 0.99 without a filter and with the planner's allowed sets letting
/// 10 % and 1 % of the vectors through (10 % by the two-hop walk over a bitset, 1 % scored exactly), and with a key callback at
/// 10 %. A deliberately weak graph (M 4, ef_construction 12, ef 10) on the same data must fall below 0.99, so the gate
/// can fail. The dimension is below the 1,280 of the base-workflow embedder to keep the build within the test's budget
/// on 2 shared cores (about 1 min CPU for the default graph at 128-d); docs/benchmarks.md has the 1,280-d numbers.
/// </summary>
public sealed class HnswRecallTests(ITestOutputHelper output)
{
    private const int Count = 100_000;
    private const int Dimensions = 128;
    private const int Queries = 200;
    private const int K = 10;

    private static readonly Lazy<Data> Built = new(Build);

    // M 4, ef_construction 12, ef 10: sparse upper layers, so the descent often enters layer 0 far from the query.
    private static readonly Lazy<HnswIndex> Weak = new(() =>
    {
        var data = Built.Value;
        var weak = new HnswIndex(new HnswOptions(M: 4, EfConstruction: 12, EfSearch: 10));
        for (var i = 0; i < data.Vectors.Length; i++)
        {
            weak.Upsert(Key(i), data.Vectors[i]);
        }

        return weak;
    });

    private sealed record Data(float[][] Vectors, float[][] Queries, HnswIndex Hnsw, ExactIndex Exact, TimeSpan Build);

    private static Data Build()
    {
        var vectors = SeededVectors.Embeddings(Count, Dimensions, seed: 20261206);
        var queries = SeededVectors.Embeddings(Queries, Dimensions, seed: 7);
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

        return new Data(vectors, queries, hnsw, exact, build);
    }

    // A fixed scramble of the key's number (string hashes are randomised per process), so the filtered sets are the same every run.
    private static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

    private static string Key(int i) => "in" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static HashSet<string> Allowed(uint modulo) => [.. Enumerable.Range(0, Count).Where(i => Mix(i) % modulo == 3).Select(Key)];

    private double Recall(IVectorIndex index, HashSet<string>? allowed, bool callback, string label)
    {
        var data = Built.Value;
        var set = allowed is null ? null : new AllowedSet(allowed);
        double hits = 0;
        var clock = Stopwatch.StartNew();
        foreach (var q in data.Queries)
        {
            var truth = (allowed is null ? data.Exact.Search(q, K, null) : data.Exact.Search(q, K, allowed.Contains)).Select(n => n.Key).ToHashSet();
            Assert.Equal(K, truth.Count);
            var found = allowed is null ? index.Search(q, K, null) : callback ? index.Search(q, K, allowed.Contains) : index.SearchAmong(q, K, set!);
            Assert.Equal(K, found.Count);
            Assert.All(found, n => Assert.True(allowed is null || allowed.Contains(n.Key)));
            Assert.True(found.Zip(found.Skip(1)).All(p => p.First.Cosine >= p.Second.Cosine), "most similar first");
            hits += found.Count(n => truth.Contains(n.Key)) / (double)K;
        }

        var recall = hits / data.Queries.Length;
        output.WriteLine($"{label}: recall@{K} {recall:F4} (build of {Count} × {Dimensions}-d took {data.Build.TotalSeconds:F1} s; {data.Queries.Length} queries with ground truth in {clock.Elapsed.TotalSeconds:F1} s)");
        return recall;
    }

    [Fact]
    public void Recall_at_10_without_a_filter_is_at_least_099() =>
        Assert.InRange(Recall(Built.Value.Hnsw, null, false, "no filter"), 0.99, 1.0);

    [Fact]
    public void Recall_at_10_with_a_10_percent_allowed_set_is_at_least_099() =>
        Assert.InRange(Recall(Built.Value.Hnsw, Allowed(10), false, "10 % allowed set (two-hop bitset walk)"), 0.99, 1.0);

    [Fact]
    public void Recall_at_10_with_a_1_percent_allowed_set_is_at_least_099() =>
        Assert.InRange(Recall(Built.Value.Hnsw, Allowed(100), false, "1 % allowed set (exact over the set)"), 0.99, 1.0);

    [Fact]
    public void Recall_at_10_with_a_10_percent_key_callback_is_at_least_099() =>
        Assert.InRange(Recall(Built.Value.Hnsw, Allowed(10), true, "10 % key callback"), 0.99, 1.0);

    [Fact]
    public void A_deliberately_weak_graph_falls_below_the_gate() =>
        // Below the gate, yet a working graph (far above what random answers would score).
        Assert.InRange(Recall(Weak.Value, null, false, "weak graph (M 4, ef_construction 12, ef 10)"), 0.2, 0.985);

    [Fact]
    public void Walking_layer_1_best_first_enters_layer_0_nearer_than_the_greedy_descent()
    {
        // The default graph through a snapshot copy, so the other tests' shared graph keeps its settings. The entry's
        // similarity to each query with the greedy descent (UpperEf 1, the paper's and hnswlib's) against layer 1 walked
        // with 16 candidates: never lower, higher on average.
        using var snapshot = new MemoryStream();
        Built.Value.Hnsw.WriteSnapshot(snapshot);
        snapshot.Position = 0;
        var graph = HnswIndex.ReadSnapshot(snapshot)!;
        double greedySum = 0, beamSum = 0;
        var better = 0;
        foreach (var q in Built.Value.Queries)
        {
            graph.UpperEf = 1;
            var greedy = graph.LayerZeroEntry(q, 128).Similarity;
            graph.UpperEf = 16;
            var beam = graph.LayerZeroEntry(q, 128).Similarity;
            Assert.True(beam >= greedy, $"beam {beam} below greedy {greedy}");
            (greedySum, beamSum, better) = (greedySum + greedy, beamSum + beam, better + (beam > greedy ? 1 : 0));
        }

        output.WriteLine($"layer-0 entry, mean similarity to the query: greedy {greedySum / Queries:F4}, layer 1 best-first with 16 candidates {beamSum / Queries:F4}; closer for {better} of {Queries} queries");
        // Measured: greedy 0.8902, best-first 0.9010, closer for 74 of 200 (never farther).
        Assert.True(better >= Queries / 4, $"closer for only {better}");
        Assert.True((beamSum - greedySum) / Queries >= 0.005, $"mean gain {(beamSum - greedySum) / Queries:F4}");
    }

    [Fact]
    public void Without_fill_a_node_keeps_every_candidate_when_there_are_fewer_than_a_list_holds()
    {
        // hnswlib's rule: the diversity heuristic prunes only when there are at least as many candidates as the list
        // holds, so the first nodes of a layer (its small top) link to all they find. 12 random 8-d vectors, M 16: every
        // node finds the 11 others and links them all on layer 0 (the heuristic alone keeps fewer for these vectors).
        var random = new Random(5);
        var options = new HnswOptions(M: 16) { KeepPrunedConnections = PrunedFill.Never };
        var index = new HnswIndex(options);
        for (var i = 0; i < 12; i++)
        {
            index.Upsert(Key(i), SeededVectors.Gaussian(random, 8, 1f));
        }

        Assert.All(Enumerable.Range(0, 12), i => Assert.Equal(11, index.LinkCount(Key(i), 0)));
    }

    [Fact]
    public void Deleted_keys_never_come_back_and_a_reinserted_key_is_found_at_its_new_place()
    {
        var index = new HnswIndex(new HnswOptions(M: 8, EfConstruction: 64, EfSearch: 64) { CompactAbove = 1 });
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
        Assert.Equal(5000, index.NodeCount);
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

/// <summary>
/// Tombstone compaction: deleting 30 % of a graph compacts it once the deleted nodes pass 20 % of the nodes; the node
/// count falls, recall@10 of the remaining set against brute force stays at least 0.99, and a snapshot carries the
/// compacted graph.
/// </summary>
public sealed class HnswCompactionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Deleting_30_percent_compacts_the_graph_and_keeps_recall()
    {
        const int count = 30_000, dimensions = 64, k = 10;
        var vectors = SeededVectors.Embeddings(count, dimensions, seed: 31);
        var queries = SeededVectors.Embeddings(100, dimensions, seed: 32);
        var options = new HnswOptions(M: 16, EfConstruction: 100, EfSearch: 64);
        var index = new HnswIndex(options);
        var exact = new ExactIndex();
        for (var i = 0; i < count; i++)
        {
            index.Upsert("k" + i, vectors[i]);
            exact.Upsert("k" + i, vectors[i]);
        }

        // 30 % of the keys, spread over the graph by a fixed scramble.
        var deleted = Enumerable.Range(0, count).Where(i => (unchecked((uint)i * 2654435761u) >> 7) % 10 < 3).ToList();
        var clock = Stopwatch.StartNew();
        foreach (var i in deleted)
        {
            Assert.True(index.Remove("k" + i));
            Assert.True(exact.Remove("k" + i));
        }

        await index.CompactionDone; // compaction of a graph this size runs in the background
        output.WriteLine($"{deleted.Count} deletes (with compaction) in {clock.Elapsed.TotalSeconds:F1} s; nodes {index.NodeCount} for {index.Count} live keys");
        Assert.Equal(count - deleted.Count, index.Count);

        // Compaction ran when tombstones passed 20 % of the nodes: at most the last tenth of the deletes are still nodes.
        Assert.InRange(index.NodeCount, index.Count, (int)(count * 0.85));
        var recall = queries.Average(q =>
        {
            var truth = exact.Search(q, k, null).Select(n => n.Key).ToHashSet();
            var found = index.Search(q, k, null);
            Assert.All(found, n => Assert.True(exact.Contains(n.Key)));
            return found.Count(n => truth.Contains(n.Key)) / (double)k;
        });
        output.WriteLine($"recall@{k} of the remaining set: {recall:F4}");
        Assert.InRange(recall, 0.99, 1.0);

        index.Compact();
        Assert.Equal(index.Count, index.NodeCount);
        var restored = HnswSnapshotTests.RoundTrip(index, options)!;
        Assert.Equal(index.Count, restored.NodeCount);
        foreach (var q in queries.Take(20))
        {
            Assert.Equal(index.Search(q, k, null), restored.Search(q, k, null));
        }

        Assert.False(restored.Contains("k" + deleted[0]));
        restored.Upsert("new", vectors[deleted[0]]);
        Assert.Equal("new", restored.Search(vectors[deleted[0]], 1, null)[0].Key);
    }
}

/// <summary>
/// Compaction off the write lock: while a large graph compacts (30 % of its nodes deleted), a loop on another thread keeps
/// searching, inserting new keys and deleting live ones; the searches keep answering throughout, and after the swap every
/// key inserted during the compaction is found, every key deleted during it is gone, the count is exact, the deleted
/// nodes from before it are reclaimed and recall@10 against brute force stays at least 0.99.
/// </summary>
public sealed class HnswConcurrentCompactionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Searches_inserts_and_deletes_go_on_during_a_compaction_and_none_is_lost()
    {
        const int count = 40_000, extra = 3000, dimensions = 64, k = 10;
        var vectors = SeededVectors.Embeddings(count + extra, dimensions, seed: 41);
        var queries = SeededVectors.Embeddings(100, dimensions, seed: 42);

        // CompactAbove 1: nothing compacts on its own, the test starts the one compaction itself.
        var index = new HnswIndex(new HnswOptions(M: 16, EfConstruction: 100, EfSearch: 64) { CompactAbove = 1 });
        var exact = new ExactIndex();
        for (var i = 0; i < count; i++)
        {
            index.Upsert("k" + i, vectors[i]);
            exact.Upsert("k" + i, vectors[i]);
        }

        var before = Enumerable.Range(0, count).Where(i => i % 10 < 3).ToList();
        foreach (var i in before)
        {
            Assert.True(index.Remove("k" + i));
            Assert.True(exact.Remove("k" + i));
        }

        Assert.Equal(count, index.NodeCount);
        var live = Enumerable.Range(0, count).Where(i => i % 10 >= 3).ToList();
        var inserted = new List<int>();
        var deletedDuring = new List<int>();
        var searches = 0;
        var clock = Stopwatch.StartNew();
        var compaction = Task.Run(index.Compact);
        while (!compaction.IsCompleted)
        {
            var found = index.Search(queries[searches % queries.Length], k, null);
            Assert.Equal(k, found.Count);
            searches++;
            if (inserted.Count < extra)
            {
                var n = inserted.Count;
                index.Upsert("new" + n, vectors[count + n]);
                exact.Upsert("new" + n, vectors[count + n]);
                inserted.Add(n);
                var victim = live[n * 7 % live.Count];
                if (!deletedDuring.Contains(victim))
                {
                    Assert.True(index.Remove("k" + victim));
                    Assert.True(exact.Remove("k" + victim));
                    deletedDuring.Add(victim);
                }
            }
        }

        await compaction;
        output.WriteLine($"compaction took {clock.Elapsed.TotalSeconds:F2} s; meanwhile {searches} searches, {inserted.Count} inserts, {deletedDuring.Count} deletes; nodes {index.NodeCount} for {index.Count} live keys");

        // The loop kept going while the compaction ran (nothing waited for it), and it did write during it.
        Assert.InRange(searches, 20, int.MaxValue);
        Assert.InRange(inserted.Count, 20, extra);

        // Nothing lost: the count is exact, every new key is there and found by its own vector, every deleted one gone.
        Assert.Equal(count - before.Count + inserted.Count - deletedDuring.Count, index.Count);
        foreach (var n in inserted)
        {
            Assert.True(index.TrySimilarity(vectors[count + n], "new" + n, out var self));
            Assert.InRange(self, 0.9999f, 1.0001f);
        }

        // Found by its own vector: all but a few (the same graph compacted under the lock and then given the same
        // inserts misses 3 of 3,000 here too: a property of the re-linking around deleted nodes, not of the replay).
        var missing = inserted.Count(n => !index.Search(vectors[count + n], k, null).Any(x => x.Key == "new" + n));
        output.WriteLine($"{missing} of {inserted.Count} new keys not among the top {k} of their own vector");
        Assert.InRange(missing, 0, inserted.Count / 200);

        foreach (var i in deletedDuring.Concat(before))
        {
            Assert.False(index.Contains("k" + i));
        }

        // The nodes deleted before the compaction are reclaimed (those deleted during it may still be tombstones).
        Assert.InRange(index.NodeCount, index.Count, index.Count + deletedDuring.Count);
        var recall = queries.Average(q =>
        {
            var truth = exact.Search(q, k, null).Select(n => n.Key).ToHashSet();
            var found = index.Search(q, k, null);
            Assert.All(found, n => Assert.True(exact.Contains(n.Key)));
            return found.Count(n => truth.Contains(n.Key)) / (double)k;
        });
        output.WriteLine($"recall@{k} after the compaction: {recall:F4}");
        Assert.InRange(recall, 0.99, 1.0);
    }
}

/// <summary>An HNSW snapshot restores the same graph: identical answers, deletes kept, and inserts after the restore work; with int8 codes too.</summary>
public sealed class HnswSnapshotTests
{
    // A graph of the options holding the vectors under the keys "k0", "k1", ….
    private static HnswIndex Filled(HnswOptions options, float[][] vectors)
    {
        var index = new HnswIndex(options);
        for (var i = 0; i < vectors.Length; i++)
        {
            index.Upsert("k" + i, vectors[i]);
        }

        return index;
    }

    /// <summary>The index written to a stream and read back from it (the stream read to its end, no further).</summary>
    internal static HnswIndex? RoundTrip(HnswIndex index, HnswOptions options)
    {
        using var stream = new MemoryStream();
        index.WriteSnapshot(stream);
        stream.Position = 0;
        var restored = HnswIndex.ReadSnapshot(stream, options);
        Assert.True(restored is null || stream.Position == stream.Length, $"read {stream.Position} of {stream.Length} bytes");
        return restored;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_restored_snapshot_answers_exactly_as_the_original(bool int8)
    {
        var options = new HnswOptions(M: 8, EfConstruction: 64, EfSearch: 32) { Int8 = int8 };
        var vectors = SeededVectors.Clustered(3000, 24, 30, seed: 11);
        var original = Filled(options, vectors);

        original.Remove("k5");
        var restored = RoundTrip(original, options);

        Assert.NotNull(restored);
        Assert.Equal(original.Count, restored.Count);
        foreach (var q in vectors.Take(100))
        {
            Assert.Equal(original.Search(q, 10, null), restored.Search(q, 10, null));
        }

        Assert.False(restored.Contains("k5"));
        restored.Upsert("new", vectors[7]);
        Assert.Contains(restored.Search(vectors[7], 2, null), n => n.Key == "new");
        Assert.Null(RoundTrip(original, options with { M = 16 }));
    }

    // The first search after a restart must not pay for a visited array of the graph's size (at 1M nodes 8 MB, the
    // first large allocation after gigabytes of restored arrays): the restored graph hands the one it made to the first
    // searching thread. A thread that has never searched allocates only the answer and its per-thread buffers of the
    // query's size there; on a graph that was not restored it allocates the array too.
    [Fact]
    public void The_first_search_after_a_restore_allocates_no_visited_array()
    {
        var options = new HnswOptions(M: 8, EfConstruction: 32, EfSearch: 32);
        var vectors = SeededVectors.Clustered(20_000, 16, 20, seed: 5);
        var original = Filled(options, vectors);

        var restored = RoundTrip(original, options)!;
        long FirstSearchAllocates(HnswIndex index)
        {
            long bytes = 0;
            var thread = new Thread(() =>
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                Assert.Equal(10, index.Search(vectors[3], 10, null).Count);
                bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            });
            thread.Start();
            thread.Join();
            return bytes;
        }

        var visitedBytes = 4L * 2 * vectors.Length;
        var restoredFirst = FirstSearchAllocates(restored);
        Assert.True(restoredFirst < visitedBytes / 4, $"the restored graph's first search allocated {restoredFirst} bytes");
        Assert.True(FirstSearchAllocates(original) >= visitedBytes, "a graph that was not restored makes its visited array on the first search of a thread");
    }

    // A restore warms its graph with a few searches from stored vectors on the visited array it then hands to the first
    // searching thread. That thread's first searches stamp 1, 2, … again, so the array must come back cleared: searched
    // from the same vectors in the same order, on the restored graph, they answer exactly what the original graph does.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_searches_a_restore_warms_with_leave_the_first_searches_exact(bool int8)
    {
        var options = new HnswOptions(M: 8, EfConstruction: 32, EfSearch: 32) { Int8 = int8 };
        var vectors = SeededVectors.Clustered(20_000, 16, 20, seed: 9);
        var original = Filled(options, vectors);

        var restored = RoundTrip(original, options)!;
        var stride = vectors.Length / HnswIndex.WarmSearches;
        var warmed = Enumerable.Range(0, HnswIndex.WarmSearches).Select(j => vectors[(stride / 2) + (j * stride)]).ToList();
        var answers = new List<string[]>();
        var thread = new Thread(() => answers.AddRange(warmed.Select(v => restored.Search(v, 10, null).Select(n => n.Key).ToArray())));
        thread.Start();
        thread.Join();
        for (var j = 0; j < warmed.Count; j++)
        {
            Assert.Equal(10, answers[j].Length);
            Assert.Equal(original.Search(warmed[j], 10, null).Select(n => n.Key), answers[j]);
        }
    }

    // The snapshot is written in slices of 16 MB (one span of bytes holds at most 2 GB, and a million 1,280-d vectors
    // are 5.1 GB): vectors spanning several slices, keys of 1 to 200 characters (some outside ASCII, so their length
    // prefixes take one or two bytes) and an empty graph all come back whole.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Snapshots_larger_than_one_slice_and_any_keys_round_trip(bool int8)
    {
        var options = new HnswOptions(M: 4, EfConstruction: 16, EfSearch: 32) { Int8 = int8 };
        var empty = RoundTrip(new HnswIndex(options), options);
        Assert.Equal(0, empty!.Count);
        Assert.Empty(empty.Search(new float[8], 3, null));

        var index = new HnswIndex(options);
        var vectors = SeededVectors.Clustered(4200, 1100, 20, seed: 5); // 4,200 × 1,100 floats: 18.5 MB
        var keys = vectors.Select((_, i) => new string(i % 3 == 0 ? 'é' : 'k', 1 + (i % 200)) + i).ToArray();
        for (var i = 0; i < vectors.Length; i++)
        {
            index.Upsert(keys[i], vectors[i]);
        }

        index.Remove(keys[1]);
        using var stream = new MemoryStream();
        index.WriteSnapshot(stream);
        Assert.True(stream.Length > 4200L * 1100 * sizeof(float), $"{stream.Length} bytes");
        stream.Position = 0;
        var restored = HnswIndex.ReadSnapshot(stream, options)!;
        Assert.Equal(stream.Length, stream.Position);
        Assert.Equal(index.Count, restored.Count);
        Assert.False(restored.Contains(keys[1]));
        Assert.All(keys.Where((_, i) => i != 1), key => Assert.True(restored.Contains(key), key));
        foreach (var i in new[] { 0, 2, 1999, 4199 })
        {
            Assert.Equal(index.Search(vectors[i], 5, null), restored.Search(vectors[i], 5, null));
            Assert.True(index.TrySimilarity(vectors[i], keys[i], out var before));
            Assert.True(restored.TrySimilarity(vectors[i], keys[i], out var after));
            Assert.Equal(before, after);
        }
    }

    // The vectors are one float array: growth stops at what it holds instead of overflowing (doubling from 1,048,576
    // nodes of 1,280-d would ask for 2.7 billion floats), and a node past it is refused with the limit named.
    [Fact]
    public void The_graph_grows_to_the_largest_array_and_no_further()
    {
        Assert.Equal(2048, HnswIndex.NextCapacity(1025, 2048, 1280, 33));
        Assert.Equal(1_048_576, HnswIndex.NextCapacity(524_289, 1_048_576, 1280, 33));
        Assert.Equal(Array.MaxLength / 1280, HnswIndex.NextCapacity(1_048_577, 2_097_152, 1280, 33));
        Assert.Equal(1_677_721, HnswIndex.NextCapacity(1_677_721, 2_097_152, 1280, 33));
        Assert.Equal(Array.MaxLength / 33, HnswIndex.NextCapacity(65_000_000, 130_000_000, 8, 33)); // links are the larger array
        var refused = Assert.Throws<InvalidOperationException>(() => HnswIndex.NextCapacity(1_677_722, 2_097_152, 1280, 33));
        Assert.Equal("An HNSW index holds at most 1,677,721 vectors of 1280 dimensions (its vectors are one array).", refused.Message);
    }

    // A snapshot cut short (a damaged blob) never restores as a smaller graph: reading it throws.
    [Fact]
    public void A_truncated_snapshot_throws_instead_of_restoring_part_of_the_graph()
    {
        var options = new HnswOptions(M: 8, EfConstruction: 32);
        var vectors = SeededVectors.Clustered(500, 16, 5, seed: 3);
        var index = Filled(options, vectors);

        using var whole = new MemoryStream();
        index.WriteSnapshot(whole);
        foreach (var length in new[] { whole.Length - 1, whole.Length / 2, 40 })
        {
            using var cut = new MemoryStream(whole.ToArray(), 0, (int)length);
            Assert.Throws<EndOfStreamException>(() => HnswIndex.ReadSnapshot(cut, options));
        }
    }
}
