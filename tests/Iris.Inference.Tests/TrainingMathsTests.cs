using Clarifai.Api.Status;
using Iris.Inference.Training;
using Iris.Inference.Zoo;
using Iris.Storage.Models;

namespace Iris.Inference.Tests;

/// <summary>
/// The maths of embedding-classifier training: the loss gradient against finite differences, L-BFGS reaching the
/// optimum on separable and noisy data (softmax and one-vs-rest), the head's encoding, and the trainer's failure statuses.
/// </summary>
public sealed class TrainingMathsTests
{
    /// <summary>Gaussian blobs around one random unit centre per class, in <paramref name="d"/> dimensions, fixed seed.</summary>
    private static (float[] X, int[] Labels) Blobs(int classes, int perClass, int d, float noise, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, d).Select(_ => (float)random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var x = new float[classes * perClass * d];
        var labels = new int[classes * perClass];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = i % classes;
            for (var j = 0; j < d; j++)
            {
                // Box–Muller normal noise.
                var n = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                x[i * d + j] = centres[labels[i]][j] + (float)(noise * n);
            }
        }

        return (x, labels);
    }

    private static TrainingSet OneHot(float[] x, int[] labels, int d, int classes)
    {
        var targets = new float[labels.Length * classes];
        for (var i = 0; i < labels.Length; i++)
        {
            targets[i * classes + labels[i]] = 1;
        }

        return new TrainingSet(x, labels.Length, d, targets, classes, Enumerable.Repeat(1f, labels.Length).ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_gradient_matches_finite_differences(bool softmax)
    {
        var (x, labels) = Blobs(3, 5, 4, 0.5f, seed: 7);
        var set = OneHot(x, labels, 4, 3);
        var problem = new LogisticTrainer.Problem(set.Features, set.Count, 4, set.Targets, 3, set.Weights, softmax, 0.1f);
        var random = new Random(3);
        var theta = Enumerable.Range(0, 3 * 5).Select(_ => random.NextDouble() - 0.5).ToArray();
        var gradient = new double[theta.Length];
        problem.Evaluate(theta, gradient);
        for (var i = 0; i < theta.Length; i++)
        {
            var h = 1e-3;
            var plus = (double[])theta.Clone();
            var minus = (double[])theta.Clone();
            plus[i] += h;
            minus[i] -= h;
            var numeric = (problem.Evaluate(plus, new double[theta.Length]) - problem.Evaluate(minus, new double[theta.Length])) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) < 1e-3, $"θ[{i}]: analytic {gradient[i]}, numeric {numeric}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LBFGS_reaches_a_stationary_point_and_separates_blobs(bool softmax)
    {
        const int d = 32;
        var (x, labels) = Blobs(4, 50, d, 0.6f, seed: 11);
        var set = OneHot(x, labels, d, 4);
        var (w, b, iterations) = LogisticTrainer.Train(set, softmax, new TrainerOptions { L2 = 1e-3f });
        Assert.InRange(iterations, 2, 200);

        // At least 95% of the points land in their own class (the blobs overlap a little at this noise).
        var head = new ClassifierHead(softmax ? HeadKind.Softmax : HeadKind.OneVsRest, d, ["a", "b", "c", "e"], 4, w, b);
        var values = new float[4];
        var correct = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            head.Score(x.AsSpan(i * d, d), values);
            correct += Array.IndexOf(values, values.Max()) == labels[i] ? 1 : 0;
        }

        Assert.True(correct >= labels.Length * 0.95, $"{correct} of {labels.Length}");
        if (softmax)
        {
            Assert.InRange(values.Sum(), 0.999f, 1.001f);
        }
    }

    [Fact]
    public void Training_is_deterministic()
    {
        var (x, labels) = Blobs(2, 40, 6, 1.5f, seed: 5);
        var set = OneHot(x, labels, 6, 2);
        var options = new TrainerOptions { L2 = 0.05f, Tolerance = 1e-8, MaxIterations = 500 };
        var (w1, b1, _) = LogisticTrainer.Train(set, softmax: false, options);
        var (w2, b2, _) = LogisticTrainer.Train(set, softmax: false, options);
        Assert.Equal(w1, w2);
        Assert.Equal(b1, b2);
    }

    [Fact]
    public void A_head_round_trips_through_its_encoding()
    {
        var head = new ClassifierHead(HeadKind.Softmax, 3, ["x", "y"], 3, [1, 2, 3, 4, 5, 6, 7, 8, 9], [0.1f, 0.2f, 0.3f]);
        var copy = ClassifierHead.Decode(head.Encode());
        Assert.Equal(HeadKind.Softmax, copy.Kind);
        Assert.Equal(["x", "y"], copy.ConceptIds);
        Assert.Equal(head.Weights, copy.Weights);
        Assert.Equal(head.Bias, copy.Bias);
        var values = new float[2];
        copy.Score([1, 0, 0], values);
        // Softmax over three classes (the third, background, not reported): logits 1.1, 4.2, 7.3.
        var e = new[] { Math.Exp(1.1), Math.Exp(4.2), Math.Exp(7.3) };
        Assert.Equal(e[0] / e.Sum(), values[0], 5);
        Assert.Equal(e[1] / e.Sum(), values[1], 5);
        Assert.Throws<InvalidDataException>(() => ClassifierHead.Decode([1, 2, 3, 4, 5, 6, 7, 8]));
    }

    [Fact]
    public void The_trainer_fails_with_the_precise_status()
    {
        var spec = new TrainingSpec([new ConceptDef("a", "a"), new ConceptDef("b", "b")], "general-image-embedding", false, Enrichment.Disabled);
        var embeddings = new Dictionary<string, float[]> { ["1"] = [1, 0], ["2"] = [0, 1], ["3"] = [1, 1] };
        Assert.Equal(StatusCode.ModelTrainingInvalidParams, EmbeddingClassifierTrainer.Train(spec with { Concepts = [] }, [], embeddings, []).Code);
        Assert.Equal(StatusCode.ModelTrainingNoData, EmbeddingClassifierTrainer.Train(spec, [new TrainingLabel("9", "a", 1)], embeddings, []).Code);
        Assert.Equal(StatusCode.ModelTrainingNoPositives, EmbeddingClassifierTrainer.Train(spec, [new TrainingLabel("1", "a", 0)], embeddings, []).Code);
        var missingB = EmbeddingClassifierTrainer.Train(spec, [new TrainingLabel("1", "a", 1)], embeddings, []);
        Assert.Equal(StatusCode.ModelTrainingNoPositives, missingB.Code);
        Assert.Contains("b", missingB.Details, StringComparison.Ordinal);
        var single = spec with { Concepts = [new ConceptDef("a", "a")] };
        Assert.Equal(StatusCode.ModelTrainingInsufficientData, EmbeddingClassifierTrainer.Train(single, [new TrainingLabel("1", "a", 1)], embeddings, []).Code);

        // With a negative (a label 0, or an enrichment vector) the single concept trains.
        var trained = EmbeddingClassifierTrainer.Train(single, [new TrainingLabel("1", "a", 1), new TrainingLabel("2", "a", 0)], embeddings, []);
        Assert.Equal(StatusCode.ModelTrained, trained.Code);
        var enriched = EmbeddingClassifierTrainer.Train(single, [new TrainingLabel("1", "a", 1)], embeddings, [[0, 1], [0.1f, 0.9f]]);
        Assert.Equal(StatusCode.ModelTrained, enriched.Code);
        Assert.Equal(3, enriched.Examples);
        var values = new float[1];
        enriched.Head!.Score([1, 0], values);
        Assert.True(values[0] > 0.5f, $"{values[0]}");
        enriched.Head.Score([0, 1], values);
        Assert.True(values[0] < 0.5f, $"{values[0]}");
    }
}
