using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using Iris.Bench;
using Iris.Core.Media;
using Iris.Inference;
using Iris.Inference.Engine;
using Iris.Inference.Training;
using Iris.Inference.Zoo;
using Iris.Storage.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SkiaSharp;

// Usage: bench/Iris.Bench.Training/setup.sh && dotnet run -c Release --project bench/Iris.Bench.Training [-- <output.md>]
// Embeds views (crops, mirrored) of real photographs with general-image-embedding, then measures in one run:
// 1. training time of 10 concepts × 1,000 inputs with 10,000 enrichment negatives, and of 100 concepts × 100 inputs;
// 2. 5-fold evaluation of the first;
// 3. predict latency of the trained model beside the embedder alone, on the same decoded photo;
// 4. accuracy of the head beside a k-nearest-neighbour baseline on held-out real views.
// The large sets are built from the real embeddings plus small Gaussian jitter (renormalized), because embedding
// 20,000 distinct photographs would take this 2-core machine minutes and the package photos number a few dozen.
var root = FindRoot();
var outPath = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(root, "docs", "benchmarks.md");
var photos = Path.Combine(root, "artifacts/photos");
if (!File.Exists(Path.Combine(photos, ".complete")))
{
    Console.Error.WriteLine("Run bench/Iris.Bench.Training/setup.sh first (it unpacks the photographs).");
    return 1;
}

var options = new InferenceOptions { PackagesDir = Path.Combine(root, "node_modules"), ModelsDir = Environment.GetEnvironmentVariable("IRIS_MODELS_DIR") ?? Path.Combine(Path.GetTempPath(), "iris-test-models") };
await using var engine = new InferenceEngine(options, new ModelSources(options, options.ModelsDir), NullLogger<InferenceEngine>.Instance);
var embedder = new ModelZoo().Find(GeneralEmbeddingModel.Id)!;

string[] classes = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png", "china.jpg", "flower.jpg", "hubble_deep_field.jpg", "retina.jpg", "brick.png"];
string[] others = ["grass.png", "gravel.png", "moon.png", "camera.png", "coins.png", "ihc.png", "page.png", "text.png", "cell.png", "logo.png", "motorcycle_right.png", "color.png"];
const int ViewsPerClass = 100;
const int NegativeViews = 50;

var clock = Stopwatch.StartNew();
var real = new float[classes.Length][][];
for (var c = 0; c < classes.Length; c++)
{
    real[c] = await EmbedViewsAsync(Path.Combine(photos, classes[c]), ViewsPerClass);
}

var negativePool = new List<float[]>();
foreach (var other in others)
{
    negativePool.AddRange(await EmbedViewsAsync(Path.Combine(photos, other), NegativeViews));
}

Console.WriteLine($"embedded {classes.Length * ViewsPerClass + negativePool.Count} views in {clock.Elapsed.TotalSeconds:F1} s");
var random = new Random(42);

// 1. Training time: 10 concepts × 1,000 inputs (+ 10,000 negatives), then 100 concepts × 100 inputs.
var (spec10, labels10, embeddings10) = Jittered(10, 1000, i => real[i], random);
var negatives10 = Enumerable.Range(0, 10_000).Select(i => Jitter(negativePool[i % negativePool.Count], random)).ToArray();
var train10 = Time(() => EmbeddingClassifierTrainer.Train(spec10, labels10, embeddings10, negatives10), 3);
Console.WriteLine($"10 × 1000 + 10000: {train10.Seconds:F2} s, {train10.Result.Iterations} iterations");
var (spec100, labels100, embeddings100) = Jittered(100, 100, i => real[i % classes.Length], random);
var train100 = Time(() => EmbeddingClassifierTrainer.Train(spec100 with { Enrich = Enrichment.Disabled }, labels100, embeddings100, []), 1);
Console.WriteLine($"100 × 100: {train100.Seconds:F2} s, {train100.Result.Iterations} iterations");

// 2. Five-fold evaluation of the first.
var evaluation = Time(() => CrossValidation.Evaluate(spec10, labels10, embeddings10, negatives10, 5), 1);
Console.WriteLine($"5-fold evaluation: {evaluation.Seconds:F2} s, macro ROC AUC {evaluation.Result.Summary.MacroAvgRocAuc:F4}");

// 3. Predict latency: the embedder alone and the trained model (embedder + head), alternating on one decoded photo.
var head = train10.Result.Head!;
var trained = new TrainedModel(new ModelDescriptor
{
    Id = "bench", Name = "bench", TypeId = "embedding-classifier", VersionId = "v", Description = string.Empty, License = string.Empty,
    SourcePackage = string.Empty, Notes = string.Empty, Concepts = spec10.Concepts, Networks = [],
}, embedder, head);
using var photo = ImageDecoding.Decode(File.ReadAllBytes(Path.Combine(photos, "chelsea.png")), embedder.DecodeMinSide);
for (var i = 0; i < 20; i++)
{
    await embedder.PredictAsync(photo, engine, default);
    await trained.PredictAsync(photo, engine, default);
}

var alone = new List<double>();
var custom = new List<double>();
for (var i = 0; i < 300; i++)
{
    var t = Stopwatch.GetTimestamp();
    await embedder.PredictAsync(photo, engine, default);
    alone.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
    t = Stopwatch.GetTimestamp();
    await trained.PredictAsync(photo, engine, default);
    custom.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
}

var vector = (await embedder.PredictAsync(photo, engine, default)).Embeddings[0].Vector.ToArray();
var scores = new float[head.ConceptIds.Count];
var headTime = Time(() => { for (var i = 0; i < 10_000; i++) { head.Score(vector, scores); } return 0; }, 3);
Console.WriteLine($"predict p50: embedder {Median(alone):F3} ms, custom {Median(custom):F3} ms; head alone {headTime.Seconds / 10_000 * 1e6:F1} µs");

// 4. Accuracy on held-out real views: train on 80 views per class (real embeddings, no jitter), test on 20.
var trainLabels = new List<TrainingLabel>();
var trainEmbeddings = new Dictionary<string, float[]>(StringComparer.Ordinal);
var test = new List<(float[] Vector, int Class)>();
for (var c = 0; c < classes.Length; c++)
{
    for (var v = 0; v < ViewsPerClass; v++)
    {
        if (v % 5 == 4)
        {
            test.Add((real[c][v], c));
            continue;
        }

        var id = $"c{c}-v{v}";
        trainLabels.Add(new TrainingLabel(id, $"c{c}", 1));
        trainEmbeddings[id] = real[c][v];
    }
}

var specReal = spec10 with { Enrich = Enrichment.Disabled };
var realHead = EmbeddingClassifierTrainer.Train(specReal, trainLabels, trainEmbeddings, []).Head!;
var headCorrect = test.Count(t => { var s = new float[classes.Length]; realHead.Score(t.Vector, s); return Array.IndexOf(s, s.Max()) == t.Class; });
var knnCorrect = test.Count(t => Knn(t.Vector, 5) == t.Class);
Console.WriteLine($"accuracy: head {headCorrect}/{test.Count}, 5-NN {knnCorrect}/{test.Count}");

var report = new StringBuilder();
report.AppendLine("## Custom models (issue 12)");
report.AppendLine();
report.AppendLine("""
    Embedding-classifier training, evaluation and predict in-process (no server, the embeddings in memory as training
    reads them from the store), on views (crops, mirrored) of real photographs from Debian's python3-skimage and
    python3-sklearn packages embedded by general-image-embedding (1280-d). The 10 × 1,000 and 100 × 100 sets repeat the
    real embeddings with small Gaussian jitter (σ = 0.01 per dimension, renormalized) to reach their size; accuracy is
    measured on real embeddings only. Optimiser: Iris' own L-BFGS logistic regression (src/Iris.Inference/Training).
    """);
report.AppendLine("```");
report.AppendLine("bench/Iris.Bench.Training/setup.sh && nice dotnet run -c Release --project bench/Iris.Bench.Training");
report.AppendLine("```");
report.AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"Run of {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: .NET {Environment.Version}, {Environment.ProcessorCount} cores, Release build.");
report.AppendLine();
report.AppendLine("| Measure | Result | Goal |");
report.AppendLine("| --- | ---: | --- |");
report.AppendLine(CultureInfo.InvariantCulture, $"| Train 10 concepts × 1,000 inputs + 10,000 enrichment negatives (best of 3) | {train10.Seconds:F2} s ({train10.Result.Iterations} L-BFGS iterations) | < 1 s |");
report.AppendLine(CultureInfo.InvariantCulture, $"| Train 100 concepts × 100 inputs | {train100.Seconds:F2} s ({train100.Result.Iterations} iterations) | — |");
report.AppendLine(CultureInfo.InvariantCulture, $"| 5-fold evaluation of the 10 × 1,000 set | {evaluation.Seconds:F2} s (macro ROC AUC {evaluation.Result.Summary.MacroAvgRocAuc:F4}) | < 5 s |");
report.AppendLine(CultureInfo.InvariantCulture, $"| Predict p50, embedder alone | {Median(alone):F3} ms | |");
report.AppendLine(CultureInfo.InvariantCulture, $"| Predict p50, trained model (embedder + head) | {Median(custom):F3} ms (added {Median(custom) - Median(alone):+0.000;-0.000} ms; the head alone {headTime.Seconds / 10_000 * 1e6:F1} µs) | ≤ 0.5 ms added |");
report.AppendLine(CultureInfo.InvariantCulture, $"| Accuracy on {test.Count} held-out real views, 10 classes: head | {100.0 * headCorrect / test.Count:F1} % | |");
report.AppendLine(CultureInfo.InvariantCulture, $"| Accuracy, 5-nearest-neighbour (cosine) on the same training embeddings | {100.0 * knnCorrect / test.Count:F1} % | baseline |");
BenchmarkDoc.WriteSection(outPath, "## Custom models (issue 12)", report.ToString());
Console.WriteLine($"wrote {outPath}");
return 0;

int Knn(float[] query, int k)
{
    var neighbours = trainLabels.Select(l => (Class: int.Parse(l.ConceptId.AsSpan(1), CultureInfo.InvariantCulture), Similarity: TensorPrimitives.CosineSimilarity(query, trainEmbeddings[l.InputId])))
        .OrderByDescending(n => n.Similarity).Take(k);
    return neighbours.GroupBy(n => n.Class).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Max(n => n.Similarity)).First().Key;
}

async Task<float[][]> EmbedViewsAsync(string file, int count)
{
    using var source = SKBitmap.Decode(file);
    var tasks = new Task<float[]>[count];
    for (var i = 0; i < count; i++)
    {
        var fraction = 0.5 + 0.05 * (i % 9);
        var (w, h) = ((int)(source.Width * fraction), (int)(source.Height * fraction));
        var left = (int)((source.Width - w) * (i * 37 % 13 / 12.0));
        var top = (int)((source.Height - h) * (i * 53 % 11 / 10.0));
        using var surface = SKSurface.Create(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        if (i % 2 == 1)
        {
            surface.Canvas.Scale(-1, 1, w / 2f, 0);
        }

        using var image = SKImage.FromBitmap(source);
        surface.Canvas.DrawImage(image, new SKRect(left, top, left + w, top + h), new SKRect(0, 0, w, h), new SKSamplingOptions(SKFilterMode.Linear), null);
        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        var bytes = png.ToArray();
        tasks[i] = Task.Run(async () =>
        {
            using var decoded = ImageDecoding.Decode(bytes, embedder.DecodeMinSide);
            return (await embedder.PredictAsync(decoded, engine, default)).Embeddings[0].Vector.ToArray();
        });
    }

    return await Task.WhenAll(tasks);
}

static float[] Jitter(float[] vector, Random random)
{
    var copy = new float[vector.Length];
    for (var j = 0; j < copy.Length; j++)
    {
        var n = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        copy[j] = vector[j] + (float)(0.01 * n);
    }

    var norm = TensorPrimitives.Norm(copy);
    TensorPrimitives.Divide(copy, norm, copy);
    return copy;
}

static (TrainingSpec Spec, List<TrainingLabel> Labels, Dictionary<string, float[]> Embeddings) Jittered(int concepts, int perConcept, Func<int, float[][]> source, Random random)
{
    var spec = new TrainingSpec(Enumerable.Range(0, concepts).Select(c => new ConceptDef($"c{c}", $"concept {c}")).ToArray(), GeneralEmbeddingModel.Id, false, Enrichment.Automatic);
    var labels = new List<TrainingLabel>();
    var embeddings = new Dictionary<string, float[]>(StringComparer.Ordinal);
    for (var c = 0; c < concepts; c++)
    {
        var views = source(c);
        for (var i = 0; i < perConcept; i++)
        {
            var id = $"c{c}-{i}";
            labels.Add(new TrainingLabel(id, $"c{c}", 1));
            embeddings[id] = Jitter(views[i % views.Length], random);
        }
    }

    return (spec, labels, embeddings);
}

static (double Seconds, T Result) Time<T>(Func<T> action, int repeats)
{
    var best = double.MaxValue;
    T result = default!;
    for (var r = 0; r < repeats; r++)
    {
        var t = Stopwatch.GetTimestamp();
        result = action();
        best = Math.Min(best, Stopwatch.GetElapsedTime(t).TotalSeconds);
    }

    return (best, result);
}

static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
    {
        dir = dir.Parent;
    }

    return dir?.FullName ?? throw new InvalidOperationException("Run from inside the repository.");
}
