namespace Iris.Testing;

/// <summary>Seeded synthetic embeddings (the search tests and the search benchmark draw the same ones): points around random cluster centres, like real embeddings of similar images.</summary>
public static class SeededVectors
{
    public static float[][] Clustered(int count, int dimensions, int clusters, int seed, float spread = 0.35f)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, clusters).Select(_ => Gaussian(random, dimensions, 1f)).ToArray();
        var result = new float[count][];
        for (var i = 0; i < count; i++)
        {
            var centre = centres[random.Next(clusters)];
            var v = Gaussian(random, dimensions, spread);
            for (var d = 0; d < dimensions; d++)
            {
                v[d] += centre[d];
            }

            result[i] = v;
        }

        return result;
    }

    public static float[] Gaussian(Random random, int dimensions, float sigma)
    {
        var v = new float[dimensions];
        for (var d = 0; d < dimensions; d++)
        {
            // Box–Muller
            var u1 = 1 - random.NextDouble();
            var u2 = random.NextDouble();
            v[d] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return v;
    }

    /// <summary>
    /// Embedding-like vectors, closer to what an image embedder emits than isotropic clusters: each is a point of a
    /// low-dimensional latent space (<paramref name="latent"/> dimensions, a mixture of <paramref name="clusters"/>
    /// Gaussians of unequal spread) mapped by one fixed random linear map to <paramref name="dimensions"/>, plus a
    /// little isotropic noise, then rectified (pooled CNN features are non-negative). So the data has a low intrinsic
    /// dimension, correlated coordinates and dense, overlapping clusters; nearest neighbours are not trivially the
    /// cluster mates. The map depends on <paramref name="mapSeed"/> only, so queries drawn with another
    /// <paramref name="seed"/> and the same map are fresh points of the same distribution, not copies of indexed ones.
    /// </summary>
    public static float[][] Embeddings(int count, int dimensions, int seed, int mapSeed = 1280, int latent = 48, int clusters = 64) =>
        [.. EmbeddingStream(count, dimensions, seed, mapSeed, latent, clusters)];

    /// <summary>The vectors of <see cref="Embeddings"/> one at a time, so a million of them need not be held at once.</summary>
    public static IEnumerable<float[]> EmbeddingStream(int count, int dimensions, int seed, int mapSeed = 1280, int latent = 48, int clusters = 64)
    {
        var mapRandom = new Random(mapSeed);
        // Column j of the map: what latent coordinate j adds to each output dimension.
        var map = new float[latent][];
        for (var j = 0; j < latent; j++)
        {
            map[j] = Gaussian(mapRandom, dimensions, 1f / MathF.Sqrt(latent));
        }

        var bias = Gaussian(mapRandom, dimensions, 0.3f);
        var centres = Enumerable.Range(0, clusters).Select(_ => Gaussian(mapRandom, latent, 1f)).ToArray();
        var spreads = Enumerable.Range(0, clusters).Select(_ => 0.3f + 0.5f * (float)mapRandom.NextDouble()).ToArray();
        var random = new Random(seed);
        var z = new float[latent];
        for (var i = 0; i < count; i++)
        {
            var c = random.Next(clusters);
            var noise = Gaussian(random, latent, spreads[c]);
            for (var j = 0; j < latent; j++)
            {
                z[j] = centres[c][j] + noise[j];
            }

            var v = Gaussian(random, dimensions, 0.05f);
            var lanes = System.Numerics.Vector<float>.Count;
            var vs = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(v.AsSpan());
            for (var j = 0; j < latent; j++)
            {
                var column = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(map[j].AsSpan());
                for (var b = 0; b < vs.Length; b++)
                {
                    vs[b] += column[b] * z[j];
                }

                for (var d = vs.Length * lanes; d < dimensions; d++)
                {
                    v[d] += map[j][d] * z[j];
                }
            }

            for (var d = 0; d < dimensions; d++)
            {
                v[d] = MathF.Max(0, v[d] + bias[d]);
            }

            yield return v;
        }
    }
}
