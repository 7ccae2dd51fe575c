using Iris.Search.Index;
using Iris.Testing;

namespace Iris.Search.Tests;

/// <summary>
/// The exact index: cosine order by SIMD dot products on normalised vectors, replace and remove by key, filters applied
/// while scanning (a selective filter still yields its k best), and vectors of another length refused.
/// </summary>
public sealed class ExactIndexTests
{
    [Fact]
    public void Neighbours_come_in_cosine_order_and_follow_replace_and_remove()
    {
        var index = new ExactIndex();
        index.Upsert("x", [1, 0, 0]);
        index.Upsert("xy", [1, 1, 0]);
        index.Upsert("y", [0, 5, 0]);
        index.Upsert("minus-x", [-2, 0, 0]);

        var found = index.Search([3, 0, 0], 4, null);
        Assert.Equal(["x", "xy", "y", "minus-x"], found.Select(n => n.Key));
        Assert.Equal(1f, found[0].Cosine, 5);
        Assert.Equal(MathF.Sqrt(0.5f), found[1].Cosine, 5);
        Assert.Equal(0f, found[2].Cosine, 5);
        Assert.Equal(-1f, found[3].Cosine, 5);

        index.Upsert("y", [1, 0, 0]);
        Assert.True(index.Remove("x"));
        Assert.False(index.Remove("x"));
        Assert.Equal(["y", "xy"], index.Search([1, 0, 0], 2, null).Select(n => n.Key));
        Assert.Equal(3, index.Count);
        Assert.True(index.TrySimilarity([0, 0, 2], "xy", out var cosine));
        Assert.Equal(0f, cosine, 5);
        Assert.False(index.TrySimilarity([0, 0, 2], "x", out _));
    }

    [Fact]
    public void A_filter_applies_during_the_scan_and_other_lengths_are_refused()
    {
        var index = new ExactIndex();
        var vectors = SeededVectors.Clustered(2000, 16, 10, seed: 3);
        for (var i = 0; i < vectors.Length; i++)
        {
            index.Upsert("k" + i, vectors[i]);
        }

        var only = new HashSet<string>(Enumerable.Range(0, 2000).Where(i => i % 100 == 7).Select(i => "k" + i));
        var found = index.Search(vectors[0], 10, only.Contains);
        Assert.Equal(10, found.Count);
        Assert.All(found, n => Assert.Contains(n.Key, only));
        var expected = only.Select(k => (Key: k, Sim: Cosine(vectors[int.Parse(k[1..], System.Globalization.CultureInfo.InvariantCulture)], vectors[0])))
            .OrderByDescending(p => p.Sim).Take(10).Select(p => p.Key);
        Assert.Equal(expected, found.Select(n => n.Key));

        Assert.Throws<ArgumentException>(() => index.Upsert("short", [1, 2]));
        Assert.Throws<ArgumentException>(() => index.Search([1, 2], 1, null));
    }

    internal static float Cosine(float[] a, float[] b) =>
        System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a, b);
}
