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
}
