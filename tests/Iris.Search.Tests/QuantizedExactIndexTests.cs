using Iris.Search.Index;
using Iris.Testing;

namespace Iris.Search.Tests;

/// <summary>
/// The exact index on int8 codes with float re-scoring answers exactly what a float scan answers: the same keys with the
/// same cosines, in one total order (cosine, then key), whatever k, filter, replacements and removals; duplicates (equal
/// cosines) come in key order, so a larger k starts with a smaller k's answer.
/// </summary>
public sealed class QuantizedExactIndexTests
{
    private static string Key(int i) => "v" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(5_000, 256)]
    [InlineData(4_000, 1280)]
    [InlineData(9_000, 96)]
    public void Answers_equal_a_float_scan_sorted_by_cosine_then_key(int count, int dimensions)
    {
        var vectors = SeededVectors.Embeddings(count, dimensions, seed: 11);
        var quantized = new QuantizedExactIndex();
        var exact = new ExactIndex();
        for (var i = 0; i < count; i++)
        {
            // Every 50th vector is stored three times (under three keys): ties that must come in key order.
            var v = i % 50 == 1 ? vectors[i - 1] : i % 50 == 2 ? vectors[i - 2] : vectors[i];
            quantized.Upsert(Key(i), v);
            exact.Upsert(Key(i), v);
        }

        for (var i = 0; i < count; i += 7)
        {
            Assert.True(quantized.Remove(Key(i)));
            exact.Remove(Key(i));
        }

        var queries = SeededVectors.Embeddings(30, dimensions, seed: 12).Concat([vectors[50], vectors[100], vectors[300]]).ToList();
        var allowed = Enumerable.Range(0, count).Where(i => i % 3 != 0).Select(Key).ToHashSet(StringComparer.Ordinal);
        var allowedSet = new AllowedSet(allowed);
        foreach (var q in queries)
        {
            foreach (var k in new[] { 1, 3, 10, 37, 100 })
            {
                AssertSame(Truth(exact, q, k, null), quantized.Search(q, k, null));
                AssertSame(Truth(exact, q, k, allowed.Contains), quantized.SearchAmong(q, k, allowedSet));
            }

            var deep = quantized.Search(q, 100, null);
            Assert.Equal(quantized.Search(q, 10, null).Select(n => n.Key), deep.Take(10).Select(n => n.Key));
        }

        Assert.Equal(exact.Count, quantized.Count);
    }

    [Fact]
    public void Small_allowed_sets_replacements_and_removals_follow_the_floats()
    {
        var vectors = SeededVectors.Embeddings(3_000, 128, seed: 5);
        var index = new QuantizedExactIndex();
        var exact = new ExactIndex();
        for (var i = 0; i < vectors.Length; i++)
        {
            index.Upsert(Key(i), vectors[i]);
            exact.Upsert(Key(i), vectors[i]);
        }

        // Replacing a vector re-encodes it: the query equal to the new vector finds it first with cosine 1.
        index.Upsert(Key(10), vectors[20]);
        exact.Upsert(Key(10), vectors[20]);
        var found = index.Search(vectors[20], 2, null);
        Assert.Equal([Key(10), Key(20)], found.Select(n => n.Key));
        Assert.Equal(1f, found[0].Cosine, 4);

        var few = new HashSet<string>(StringComparer.Ordinal) { Key(1), Key(2), Key(3), "absent" };
        AssertSame(Truth(exact, vectors[2], 10, few.Contains), index.SearchAmong(vectors[2], 10, new AllowedSet(few)));
        Assert.True(index.Remove(Key(20)));
        Assert.False(index.Contains(Key(20)));
        Assert.DoesNotContain(Key(20), index.Search(vectors[20], 50, null).Select(n => n.Key));
        Assert.Throws<ArgumentException>(() => index.Search(new float[7], 3, null));
        Assert.Throws<ArgumentException>(() => index.Upsert("bad", new float[7]));
    }

    // The float scan's answer in the total order: every key with its cosine, sorted (cosine desc, key asc), first k.
    private static List<Neighbor> Truth(ExactIndex exact, float[] q, int k, Func<string, bool>? filter) =>
        [.. exact.Search(q, int.MaxValue / 2, filter).OrderByDescending(n => n.Cosine).ThenBy(n => n.Key, StringComparer.Ordinal).Take(k)];

    private static void AssertSame(IReadOnlyList<Neighbor> expected, IReadOnlyList<Neighbor> actual)
    {
        Assert.Equal(expected.Select(n => n.Key), actual.Select(n => n.Key));
        Assert.Equal(expected.Select(n => n.Cosine), actual.Select(n => n.Cosine));
    }
}
