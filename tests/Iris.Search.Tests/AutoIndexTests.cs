using System.Collections.Concurrent;
using Iris.Search.Index;
using Iris.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Iris.Search.Tests;

/// <summary>
/// The auto engine: exact answers up to its threshold (the same keys and cosines as the float scan), a graph built in
/// the background above it and swapped in without losing the writes made during the build, recall after the switch, and
/// a build that throws leaving the exact engine serving (logged, kept, retried).
/// </summary>
public sealed class AutoIndexTests(ITestOutputHelper output)
{
    private const int K = 10;

    private static string Key(int i) => "v" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    private static HnswIndex Graph() => new(new HnswOptions(M: 16, EfConstruction: 100, EfSearch: 64));

    [Fact]
    public async Task Answers_equal_the_exact_scan_up_to_the_threshold_and_the_graph_serves_after_the_switch()
    {
        const int threshold = 3_000, dimensions = 96;
        var vectors = SeededVectors.Embeddings(threshold + 1, dimensions, seed: 31);
        var queries = SeededVectors.Embeddings(50, dimensions, seed: 32);
        var logs = new ListLogger();
        var index = new AutoIndex(threshold, Graph, logs);
        var exact = new ExactIndex();
        for (var i = 0; i < threshold; i++)
        {
            index.Upsert(Key(i), vectors[i]);
            exact.Upsert(Key(i), vectors[i]);
        }

        // At the threshold: no build, and every answer is the float scan's (same keys, same cosines, same order).
        Assert.False(index.Building);
        Assert.Null(index.Graph);
        var allowed = Enumerable.Range(0, threshold).Where(i => i % 4 == 1).Select(Key).ToHashSet(StringComparer.Ordinal);
        foreach (var q in queries)
        {
            AssertSame(Truth(exact, q, K, null), index.Search(q, K, null));
            AssertSame(Truth(exact, q, K, allowed.Contains), index.SearchAmong(q, K, new AllowedSet(allowed)));
        }

        Assert.Equal(0, index.Switches);

        // One more vector: the build starts, in the background.
        index.Upsert(Key(threshold), vectors[threshold]);
        exact.Upsert(Key(threshold), vectors[threshold]);
        await index.BuildDone;
        Assert.Equal(1, index.Switches);
        var graph = Assert.IsType<HnswIndex>(index.Graph);
        Assert.Equal(threshold + 1, graph.Count);
        Assert.Equal(threshold + 1, index.Count);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.StartsWith($"A vector index passed {threshold} vectors and now answers from an HNSW graph of {threshold + 1} vectors", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);

        var recall = Recall(index, exact, queries);
        output.WriteLine($"recall@{K} after the switch: {recall:F4}");
        Assert.InRange(recall, 0.99, 1.0);

        // The graph holds the exact engine's unit vectors: an input's own vector scores 1 with it.
        Assert.True(index.TrySimilarity(vectors[17], Key(17), out var self));
        Assert.InRange(self, 0.9999f, 1.0001f);

        // Below the threshold again: it stays a graph (documented); a Clear (a reload) starts over exactly.
        for (var i = 0; i < threshold / 2; i++)
        {
            Assert.True(index.Remove(Key(i)));
        }

        Assert.Same(graph, index.Graph);
        index.Clear();
        Assert.Null(index.Graph);
        Assert.Equal(0, index.Count);
        index.Upsert("again", vectors[5]);
        Assert.Equal("again", index.Search(vectors[5], 1, null)[0].Key);
    }

    [Fact]
    public async Task Inserts_deletes_replacements_and_searches_during_the_build_lose_nothing()
    {
        const int threshold = 12_000, extra = 4_000, dimensions = 64;
        var vectors = SeededVectors.Embeddings(threshold + 1 + extra, dimensions, seed: 51);
        var moved = SeededVectors.Embeddings(extra, dimensions, seed: 52);
        var queries = SeededVectors.Embeddings(100, dimensions, seed: 53);
        var index = new AutoIndex(threshold, Graph);
        var exact = new ExactIndex();
        for (var i = 0; i <= threshold; i++)
        {
            index.Upsert(Key(i), vectors[i]);
            exact.Upsert(Key(i), vectors[i]);
        }

        // The last insert started the build. Meanwhile, on two threads: one writes (new keys, deletes, replaced
        // vectors) into both the auto index and a reference exact index; the other searches without pause.
        Assert.True(index.Building);
        int writes = 0, searchesDuring = 0;
        var errors = new ConcurrentQueue<Exception>();
        using var done = new CancellationTokenSource();
        var searcher = Task.Run(() =>
        {
            var n = 0;
            while (!done.IsCancellationRequested)
            {
                try
                {
                    var building = index.Building;
                    var found = index.Search(queries[n++ % queries.Length], K, null);
                    if (found.Count != K)
                    {
                        throw new InvalidOperationException($"{found.Count} hits");
                    }

                    searchesDuring += building ? 1 : 0;
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                    return;
                }
            }
        });

        var deleted = new List<int>();
        var replaced = new List<int>();
        for (var n = 0; n < extra && index.Building; n++)
        {
            var key = threshold + 1 + n;
            index.Upsert(Key(key), vectors[key]);
            exact.Upsert(Key(key), vectors[key]);
            var victim = n * 7 % threshold;
            if (n % 3 == 0 && !deleted.Contains(victim))
            {
                Assert.True(index.Remove(Key(victim)));
                exact.Remove(Key(victim));
                deleted.Add(victim);
            }
            else if (n % 3 == 1 && !deleted.Contains(victim))
            {
                index.Upsert(Key(victim), moved[n]);
                exact.Upsert(Key(victim), moved[n]);
                replaced.Add(n);
            }

            writes++;
        }

        await index.BuildDone;
        await done.CancelAsync();
        await searcher;
        Assert.Empty(errors);
        output.WriteLine($"during the build: {writes} inserts ({deleted.Count} deletes, {replaced.Count} replacements), {searchesDuring} searches");
        Assert.InRange(writes, 50, extra);
        Assert.InRange(searchesDuring, 10, int.MaxValue);
        Assert.Equal(1, index.Switches);
        Assert.Equal(0, index.BuildFailures);
        Assert.NotNull(index.Graph);

        // Nothing lost: the same count, every key the reference holds is there with its latest vector, deleted ones gone.
        Assert.Equal(exact.Count, index.Count);
        for (var i = 0; i <= threshold + writes; i++)
        {
            Assert.Equal(exact.Contains(Key(i)), index.Contains(Key(i)));
        }

        foreach (var victim in deleted)
        {
            Assert.False(index.Contains(Key(victim)));
        }

        foreach (var n in replaced)
        {
            Assert.True(index.TrySimilarity(moved[n], Key(n * 7 % threshold), out var self));
            Assert.InRange(self, 0.9999f, 1.0001f);
        }

        var recall = Recall(index, exact, queries);
        output.WriteLine($"recall@{K} after the switch: {recall:F4}");
        Assert.InRange(recall, 0.99, 1.0);
    }

    [Fact]
    public async Task A_build_that_throws_is_logged_leaves_the_exact_engine_serving_and_is_retried()
    {
        const int threshold = 500, dimensions = 32;
        var vectors = SeededVectors.Embeddings(threshold + 20, dimensions, seed: 61);
        var logs = new ListLogger();

        // The first graph the factory makes already holds a 3-d vector, so the build's first insert of a 32-d one throws
        // (the index's own dimension check); the next graph is a good one.
        var graphs = 0;
        var index = new AutoIndex(threshold, () =>
        {
            if (Interlocked.Increment(ref graphs) > 1)
            {
                return Graph();
            }

            var poisoned = Graph();
            poisoned.Upsert("poison", [1f, 0f, 0f]);
            return poisoned;
        }, logs) { RetryAfter = TimeSpan.FromSeconds(3) };
        var exact = new ExactIndex();
        for (var i = 0; i <= threshold; i++)
        {
            index.Upsert(Key(i), vectors[i]);
            exact.Upsert(Key(i), vectors[i]);
        }

        await index.BuildDone;
        Assert.Equal((1, 0, 1), (graphs, index.Switches, index.BuildFailures));
        Assert.Null(index.Graph);
        var failure = Assert.IsType<ArgumentException>(index.LastBuildFailure);
        Assert.StartsWith("This index holds 3-d vectors; got 32.", failure.Message, StringComparison.Ordinal);
        var logged = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
        Assert.Same(failure, logged.Exception);
        Assert.Equal($"Building the HNSW graph of a vector index of {threshold + 1} vectors failed; its searches stay exact, and the build is retried in 3 s.", logged.Message);

        // The exact engine still serves every vector, exactly, including a write made after the failure; within the
        // retry delay no new build starts.
        index.Upsert(Key(threshold + 1), vectors[threshold + 1]);
        exact.Upsert(Key(threshold + 1), vectors[threshold + 1]);
        Assert.False(index.Building);
        Assert.Equal(1, graphs);
        foreach (var q in vectors.Take(20))
        {
            AssertSame(Truth(exact, q, K, null), index.Search(q, K, null));
        }

        // After the delay, the next write retries, and this build succeeds.
        await Task.Delay(TimeSpan.FromSeconds(3.2));
        index.Upsert(Key(threshold + 2), vectors[threshold + 2]);
        exact.Upsert(Key(threshold + 2), vectors[threshold + 2]);
        await index.BuildDone;
        Assert.Equal((2, 1, 1), (graphs, index.Switches, index.BuildFailures));
        Assert.NotNull(index.Graph);
        Assert.Equal(exact.Count, index.Count);
        Assert.Equal(Key(threshold + 2), index.Search(vectors[threshold + 2], 1, null)[0].Key);
    }

    [Fact]
    public void A_restored_graph_serves_at_once()
    {
        var vectors = SeededVectors.Embeddings(200, 16, seed: 71);
        var graph = Graph();
        for (var i = 0; i < vectors.Length; i++)
        {
            graph.Upsert(Key(i), vectors[i]);
        }

        using var snapshot = new MemoryStream();
        graph.WriteSnapshot(snapshot);
        snapshot.Position = 0;
        var restored = HnswIndex.ReadSnapshot(snapshot, new HnswOptions(M: 16, EfConstruction: 100, EfSearch: 64))!;
        var index = new AutoIndex(10_000, Graph, restored);
        Assert.Same(restored, index.Graph);
        Assert.Equal(200, index.Count);
        Assert.Equal(Key(42), index.Search(vectors[42], 1, null)[0].Key);
        Assert.False(index.Building);
    }

    private static double Recall(IVectorIndex index, ExactIndex exact, float[][] queries) => queries.Average(q =>
    {
        var truth = exact.Search(q, K, null).Select(n => n.Key).ToHashSet();
        return index.Search(q, K, null).Count(n => truth.Contains(n.Key)) / (double)K;
    });

    private static List<Neighbor> Truth(ExactIndex exact, float[] q, int k, Func<string, bool>? filter) =>
        [.. exact.Search(q, int.MaxValue / 2, filter).OrderByDescending(n => n.Cosine).ThenBy(n => n.Key, StringComparer.Ordinal).Take(k)];

    private static void AssertSame(IReadOnlyList<Neighbor> expected, IReadOnlyList<Neighbor> actual)
    {
        Assert.Equal(expected.Select(n => n.Key), actual.Select(n => n.Key));
        Assert.Equal(expected.Select(n => n.Cosine), actual.Select(n => n.Cosine));
    }
}

/// <summary>A background compaction of the graph that throws is logged and kept, the graph goes on serving as it was, and a later one succeeds.</summary>
public sealed class HnswCompactionFailureTests
{
    [Fact]
    public async Task A_failed_background_compaction_is_logged_and_observed_and_a_later_one_reclaims_the_nodes()
    {
        const int count = 5_000, dimensions = 32;
        var vectors = SeededVectors.Embeddings(count, dimensions, seed: 81);
        var logs = new ListLogger();
        var index = new HnswIndex(new HnswOptions(M: 8, EfConstruction: 40, EfSearch: 64))
        {
            Logger = logs,
            CompactionFault = () => throw new InvalidOperationException("disk on fire"),
            CompactionRetryAfter = TimeSpan.FromSeconds(3),
        };
        for (var i = 0; i < count; i++)
        {
            index.Upsert("k" + i, vectors[i]);
        }

        // 1,001 deletes: over 20 % of the 5,000 nodes, so the last one starts a background compaction, which throws.
        for (var i = 0; i <= count / 5; i++)
        {
            Assert.True(index.Remove("k" + i));
        }

        await index.CompactionDone;
        Assert.Equal(1, index.CompactionFailures);
        Assert.Equal("disk on fire", Assert.IsType<InvalidOperationException>(index.LastCompactionFailure).Message);
        var logged = Assert.Single(logs.Entries);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Same(index.LastCompactionFailure, logged.Exception);
        Assert.Equal($"Compacting an HNSW graph of {count} nodes ({count / 5 + 1} deleted) failed; it goes on serving with its deleted nodes, and the compaction is retried in 3 s.", logged.Message);

        // The graph is as it was: all nodes still there, deleted keys never answered, live ones found.
        Assert.Equal(count, index.NodeCount);
        Assert.Equal(count - count / 5 - 1, index.Count);
        Assert.Equal("k4000", index.Search(vectors[4000], 1, null)[0].Key);
        Assert.DoesNotContain(index.Search(vectors[10], 50, null), n => n.Key == "k10");

        // Within the retry delay a delete does not start another; after it, the next one does, and it succeeds.
        index.CompactionFault = null;
        Assert.True(index.Remove("k2000"));
        Assert.Equal(count, index.NodeCount);
        await Task.Delay(TimeSpan.FromSeconds(3.2));
        Assert.True(index.Remove("k2001"));
        await index.CompactionDone;
        Assert.Equal(1, index.CompactionFailures);
        Assert.Equal(index.Count, index.NodeCount);
        Assert.Equal("k4000", index.Search(vectors[4000], 1, null)[0].Key);
    }
}

/// <summary>A logger that keeps what it is given (the log sink the assertions read).</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception), exception));
}
