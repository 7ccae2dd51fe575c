using Iris.Core.IO;
using Iris.Search.Index;
using Iris.Testing;

namespace Iris.Search.Tests;

/// <summary>
/// The overlay <see cref="VectorIndexes"/> puts over a graph while a snapshot of it is written: every member the planner
/// uses answers as an index with the changes applied would (new keys found, a re-embedded key once with its new vector, a
/// removed key gone, counts, filtered by an allowed set or a callback), the base's cached resolution of an allowed set is
/// kept, the changes reach the base in the order they came, and nothing waits for the graph's write lock while a
/// snapshot write holds its read lock.
/// </summary>
public sealed class OverlayIndexTests
{
    private const int Count = 2_000;
    private const int Dimensions = 32;

    private static readonly float[][] Vectors = SeededVectors.Embeddings(Count, Dimensions, seed: 41);
    private static readonly float[][] Fresh = SeededVectors.Embeddings(200, Dimensions, seed: 42);
    private static readonly float[][] Queries = SeededVectors.Embeddings(20, Dimensions, seed: 43);

    private static string Key(int i) => "k" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    private static (ExactIndex Base, ExactIndex Truth) Filled()
    {
        var (index, truth) = (new ExactIndex(), new ExactIndex());
        for (var i = 0; i < Count; i++)
        {
            index.Upsert(Key(i), Vectors[i]);
            truth.Upsert(Key(i), Vectors[i]);
        }

        return (index, truth);
    }

    // The same changes to both: 50 new keys, the 40 nearest keys of the first query re-embedded far from it (their stale
    // vectors crowd the base's top hits), 60 keys removed, one key upserted then removed and one removed then upserted.
    private static void Change(IVectorIndex overlay, ExactIndex truth)
    {
        void Upsert(string key, float[] vector)
        {
            overlay.Upsert(key, vector);
            truth.Upsert(key, vector);
        }

        void Remove(string key)
        {
            Assert.Equal(truth.Remove(key), overlay.Remove(key));
        }

        for (var i = 0; i < 50; i++)
        {
            Upsert("new" + i, Fresh[i]);
        }

        var far = Queries[0].Select(x => -x).ToArray();
        foreach (var (n, i) in truth.Search(Queries[0], 40, null).Select((n, i) => (n, i)))
        {
            Upsert(n.Key, [.. far.Select((x, d) => x + (0.01f * Fresh[100 + i][d]))]);
        }

        for (var i = 1000; i < 1060; i++)
        {
            Remove(Key(i));
        }

        Upsert(Key(1500), Fresh[60]);
        Remove(Key(1500));
        Remove(Key(1501));
        Upsert(Key(1501), Fresh[61]);
        Remove("never-there");
    }

    private static void AssertSame(IReadOnlyList<Neighbor> expected, IReadOnlyList<Neighbor> actual)
    {
        Assert.Equal(expected.Select(n => n.Key), actual.Select(n => n.Key));
        Assert.Equal(expected.Select(n => n.Cosine), actual.Select(n => n.Cosine), (a, b) => Math.Abs(a - b) < 1e-5f);
        Assert.Equal(actual.Count, actual.Select(n => n.Key).Distinct(StringComparer.Ordinal).Count());
    }

    // Every third key of the base, and every fourth new, re-embedded or removed one.
    private static AllowedSet Allowed() => new([
        .. Enumerable.Range(0, Count).Where(i => i % 3 == 0).Select(Key),
        .. Enumerable.Range(0, 50).Where(i => i % 4 == 0).Select(i => "new" + i),
        "missing",
    ]);

    private static void AssertAnswersAsTruth(IVectorIndex overlay, ExactIndex truth, AllowedSet allowed)
    {
        Assert.Equal(truth.Count, overlay.Count);
        Assert.Equal(truth.CountAmong(new AllowedSet(allowed.Keys)), overlay.CountAmong(allowed));
        foreach (var q in Queries)
        {
            foreach (var k in new[] { 1, 10, 60 })
            {
                AssertSame(truth.Search(q, k, null), overlay.Search(q, k, null));
                AssertSame(truth.Search(q, k, allowed.Contains), overlay.SearchAmong(q, k, allowed));
                AssertSame(truth.Search(q, k, key => key.EndsWith('7')), overlay.Search(q, k, key => key.EndsWith('7')));
            }
        }

        foreach (var key in new[] { Key(0), Key(1000), Key(1500), Key(1501), "new3", "never-there", truth.Search(Queries[0], 1, null)[0].Key })
        {
            Assert.Equal(truth.Contains(key), overlay.Contains(key));
            Assert.Equal(truth.TrySimilarity(Queries[1], key, out var expected), overlay.TrySimilarity(Queries[1], key, out var actual));
            Assert.Equal(expected, actual, 5);
        }
    }

    [Fact]
    public void The_overlay_answers_as_the_base_with_its_changes_applied_and_keeps_the_bases_allowed_set_resolution()
    {
        var (index, truth) = Filled();
        var nearest = index.Search(Queries[0], 40, null).Select(n => n.Key).ToList();
        var overlay = new OverlayIndex(index);
        Change(overlay, truth);
        Assert.Equal(Count, index.Count); // nothing reached the base

        var allowed = Allowed();
        AssertAnswersAsTruth(overlay, truth, allowed);

        // The base resolved the set into its slots once; the side looked keys up instead of replacing that resolution.
        Assert.Equal(1, allowed.Resolutions);

        // The re-embedded keys were the base's 40 best for the first query: their stale hits are dropped, the base asked
        // for more, and each appears once, far down, with its new vector.
        var top = overlay.Search(Queries[0], 10, null);
        Assert.Empty(top.Select(n => n.Key).Intersect(nearest));
        Assert.True(overlay.TrySimilarity(Queries[0], nearest[0], out var cosine));
        Assert.True(cosine < -0.9f, $"re-embedded cosine {cosine}");
        Assert.Equal(nearest[0], overlay.Search(Queries[0].Select(x => -x).ToArray(), 40, null).Single(n => n.Key == nearest[0]).Key);
    }

    [Fact]
    public void Moved_changes_reach_the_base_in_the_order_they_came_and_the_view_still_answers_the_same()
    {
        var (index, truth) = Filled();
        var overlay = new OverlayIndex(index);
        Change(overlay, truth);
        var allowed = Allowed();
        Assert.Equal(50 + 40 + 60 + 5, overlay.Unmoved);

        overlay.MoveIntoBase();

        Assert.Equal(0, overlay.Unmoved);
        AssertAnswersAsTruth(index, truth, new AllowedSet(allowed.Keys));
        Assert.False(index.Contains(Key(1500))); // upserted, then removed
        Assert.True(index.TrySimilarity(Fresh[61], Key(1501), out var cosine)); // removed, then upserted
        Assert.Equal(1f, cosine, 5);

        // A search still holding the view answers the same now that its changes are in the base as well: none twice.
        AssertAnswersAsTruth(overlay, truth, allowed);

        // Changes recorded after a move are moved by the next one.
        overlay.Upsert("late", Fresh[70]);
        truth.Upsert("late", Fresh[70]);
        Assert.False(index.Contains("late"));
        overlay.MoveIntoBase();
        Assert.True(index.Contains("late"));
        AssertAnswersAsTruth(index, truth, allowed);
    }

    [Fact]
    public void A_cleared_overlay_hides_the_base_until_the_clear_is_moved()
    {
        var (index, _) = Filled();
        var overlay = new OverlayIndex(index);
        overlay.Upsert("gone", Fresh[0]);
        overlay.Clear();
        overlay.Upsert("kept", Fresh[1]);

        Assert.Equal(1, overlay.Count);
        Assert.Equal(["kept"], overlay.Search(Queries[0], 10, null).Select(n => n.Key));
        Assert.False(overlay.Contains(Key(0)));
        Assert.Equal(0, overlay.CountAmong(new AllowedSet([Key(0), "gone"])));
        Assert.Equal(Count, index.Count);

        overlay.MoveIntoBase();
        Assert.Equal(1, index.Count);
        Assert.True(index.Contains("kept"));
        Assert.Throws<ArgumentException>(() => overlay.Upsert("short", [1, 2]));
    }

    [Fact]
    public async Task Nothing_waits_for_a_snapshot_write_holding_the_graphs_read_lock_and_the_graph_takes_the_changes_after_it()
    {
        var options = new HnswOptions(M: 8, EfConstruction: 64);
        var graph = new HnswIndex(options);
        for (var i = 0; i < Count; i++)
        {
            graph.Upsert(Key(i), Vectors[i]);
        }

        using var writing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var snapshot = new MemoryStream();
        var write = Task.Factory.StartNew(() => graph.WriteSnapshot(new HeldStream(snapshot, writing, release)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            Assert.True(writing.Wait(TimeSpan.FromSeconds(30)), "the snapshot did not start writing");

            // All of this on this thread, while the write holds the read lock: an insert into the graph would block here.
            var overlay = new OverlayIndex(graph);
            overlay.Upsert("new", Fresh[0]);
            overlay.Upsert(Key(5), Fresh[1]);
            Assert.True(overlay.Remove(Key(6)));

            Assert.Equal([("new", 1f)], overlay.Search(Fresh[0], 1, null).Select(n => (n.Key, MathF.Round(n.Cosine, 4))));
            var reembedded = overlay.Search(Fresh[1], 10, null).Where(n => n.Key == Key(5)).ToList();
            Assert.Equal(1f, Assert.Single(reembedded).Cosine, 4);
            Assert.DoesNotContain(Key(5), overlay.Search(Vectors[5], 10, null).Select(n => n.Key)); // its stale vector
            Assert.DoesNotContain(Key(6), overlay.Search(Vectors[6], 10, null).Select(n => n.Key));
            Assert.Equal("new", overlay.SearchAmong(Fresh[0], 1, new AllowedSet(["new", Key(7)]))[0].Key);
            Assert.DoesNotContain("new", overlay.SearchAmong(Fresh[0], 5, new AllowedSet([Key(6), Key(7), Key(8)])).Select(n => n.Key));
            Assert.Equal(Count, overlay.Count);
            Assert.Equal(Count, graph.Count);
            Assert.False(write.IsCompleted);

            release.Set();
            await write.WaitAsync(TimeSpan.FromSeconds(30));
            overlay.MoveIntoBase();
            Assert.Equal(Count, graph.Count);
            Assert.Equal("new", graph.Search(Fresh[0], 1, null)[0].Key);
            Assert.True(graph.TrySimilarity(Fresh[1], Key(5), out var cosine));
            Assert.Equal(1f, cosine, 4);
            Assert.False(graph.Contains(Key(6)));
        }
        finally
        {
            release.Set();
        }

        // The snapshot holds the graph as the write found it: none of the changes.
        snapshot.Position = 0;
        var restored = HnswIndex.ReadSnapshot(snapshot, options)!;
        Assert.Equal(Count, restored.Count);
        Assert.False(restored.Contains("new"));
        Assert.True(restored.Contains(Key(6)));
        Assert.True(restored.TrySimilarity(Vectors[5], Key(5), out var stale));
        Assert.Equal(1f, stale, 4);
    }

    // Holds the first write until released (the snapshot's read lock stays held meanwhile).
    private sealed class HeldStream(Stream inner, ManualResetEventSlim writing, ManualResetEventSlim release) : ForwardingWriteStream(inner)
    {
        private int _seen;

        protected override void OnWrite(ReadOnlySpan<byte> buffer)
        {
            if (Interlocked.Exchange(ref _seen, 1) == 0)
            {
                writing.Set();
                release.Wait(TimeSpan.FromSeconds(60));
            }
        }
    }
}
