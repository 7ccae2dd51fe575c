using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Iris.Imaging;
using Iris.Inference.Zoo;
using Xunit.Abstractions;

namespace Iris.Inference.Tests;

/// <summary>
/// OCR quality against the reference implementation: Iris and @gutenye/ocr-node (PaddleOCR's pipeline in JavaScript,
/// run in Node on the same ONNX files) read the project's own test set (<see cref="OcrTestSet"/>: rendered lines and
/// paragraphs in six fonts, sizes, rotations, colours, noise, plus crops of real UI screenshots); character error rates
/// are compared image by image. Wrong preprocessing (a stretched recognizer input, upright boxes on tilted lines, a
/// missing space character) moves the mean CER far above these floors.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class OcrQualityGateTests(EngineFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Iris_reads_the_test_set_at_least_as_well_as_the_paddleocr_reference()
    {
        var samples = OcrTestSet.Build(Repo.NodeModules);
        Assert.Equal(28, samples.Count);
        var m = await MeasureAsync(samples);

        // The goals: Iris at least as good as the reference on average, and no image worse than 0.15.
        // Measured when written (the pipeline following the reference step by step): Iris 0.005 (without spaces 0.003,
        // word recall 0.953, worst 0.063), reference 0.026. The floors fail on the previous pipeline (PaddleOCR's Python
        // preprocessing with a one-step crop: 0.012, word recall 0.906, worst 0.100).
        Assert.True(m.IrisMean <= m.ReferenceMean, m.Report);
        Assert.True(m.IrisMean <= 0.008, m.Report);
        Assert.True(m.IrisNoSpaces <= 0.006, m.Report);
        Assert.True(m.Recall >= 0.93, m.Report);
        Assert.True(m.Worst.Cer <= 0.08, m.Report);
    }

    [Fact]
    public async Task Iris_reads_photographed_and_scanned_text_at_least_as_well_as_the_paddleocr_reference()
    {
        var samples = OcrTestSet.BuildPhotographed(OcrTestSet.PhotosDir(Repo.Root));
        Assert.Equal(12, samples.Count);
        var m = await MeasureAsync(samples);

        // Photographed pages, signs and words (tests/photos.sh). Measured when written: Iris 0.090 (without spaces 0.089,
        // word recall 0.867), reference 0.094; Iris reads the scanned page better (upright 0.000 vs 0.001, rotated 0.006
        // vs 0.046) and eight of the twelve images exactly. Above 0.15 only the dot-matrix "Produkt" (1.000 for every
        // engine: with the reference's own detector input the probability map stays below 0.001 everywhere). See
        // docs/benchmarks.md "Model quality". The floors fail on the previous pipeline (0.106 against the reference's
        // 0.094, word recall 0.764, "GM 125" read "GM125" as a second image above 0.15, rotated page 0.025, six exact).
        var over = Enumerable.Range(0, samples.Count).Where(i => m.IrisCers[i] > 0.15).Select(i => samples[i].Name).ToArray();
        Assert.True(m.IrisMean <= m.ReferenceMean && m.IrisMean <= 0.095, m.Report);
        Assert.True(m.IrisNoSpaces <= 0.095, m.Report);
        Assert.True(m.Recall >= 0.85, m.Report);
        Assert.True(over.Length == 0 || over.SequenceEqual(["photo-scenetext_word04"]), string.Join(", ", over) + "\n" + m.Report);
        Assert.True(m.IrisCers[0] <= 0.01, "the photographed page: " + m.Report);
        Assert.True(m.IrisCers[1] <= 0.01 && m.IrisCers[2] <= 0.02, m.Report);
        Assert.True(Enumerable.Range(0, samples.Count).Count(i => m.IrisCers[i] == 0) >= 8, m.Report);
    }

    /// <summary>Per-set result: mean CERs of Iris and the reference, Iris' CER without spaces and word recall, its worst image, and the per-image report.</summary>
    private sealed record Measured(double IrisMean, double ReferenceMean, double IrisNoSpaces, double Recall, (string Name, double Cer) Worst, double[] IrisCers, double[] ReferenceCers, string Report);

    private async Task<Measured> MeasureAsync(IReadOnlyList<OcrSample> samples)
    {
        var dir = Directory.CreateTempSubdirectory("iris-ocr-set-");
        try
        {
            var paths = OcrTestSet.WriteTo(samples, dir.FullName);
            var reference = await RunReferenceAsync(paths);
            var model = new ModelZoo().Find(OcrModel.Id)!;

            var report = new StringBuilder("image | ref CER | Iris CER | Iris text | ref text\n");
            double irisSum = 0, refSum = 0, irisNoSpaces = 0, recall = 0;
            var worst = (Name: string.Empty, Cer: 0.0);
            var irisCers = new double[samples.Count];
            var refCers = new double[samples.Count];
            for (var i = 0; i < samples.Count; i++)
            {
                using var image = ImageDecoder.TryDecode(samples[i].Bytes, out var error) ?? throw new InvalidOperationException($"{samples[i].Name}: {error}");
                var data = await model.PredictAsync(image, fixture.Engine, CancellationToken.None);
                var iris = string.Join(' ', data.Regions.Select(r => r.Data.Text.Raw));
                var refText = string.Join(' ', reference[i]);
                var irisCer = irisCers[i] = OcrMetrics.Cer(iris, samples[i].Reference);
                var refCer = refCers[i] = OcrMetrics.Cer(refText, samples[i].Reference);
                irisSum += irisCer;
                refSum += refCer;
                irisNoSpaces += OcrMetrics.CerNoSpaces(iris, samples[i].Reference);
                recall += OcrMetrics.WordRecall(iris, samples[i].Reference);
                if (irisCer > worst.Cer)
                {
                    worst = (samples[i].Name, irisCer);
                }

                report.AppendLine(FormattableString.Invariant($"{samples[i].Name} | {refCer:0.000} | {irisCer:0.000} | {iris} | {refText}"));
            }

            var n = samples.Count;
            var (irisMean, refMean) = (irisSum / n, refSum / n);
            report.AppendLine(FormattableString.Invariant($"mean CER: Iris {irisMean:0.000}, reference {refMean:0.000}; Iris CER without spaces {irisNoSpaces / n:0.000}; word recall {recall / n:0.000}; worst {worst.Name} {worst.Cer:0.000}"));
            output.WriteLine(report.ToString());
            return new Measured(irisMean, refMean, irisNoSpaces / n, recall / n, worst, irisCers, refCers, report.ToString());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Runs tests/Iris.Inference.Tests/Reference/ocr-reference.mjs in Node on all images at once; each image's lines.</summary>
    internal static async Task<string[][]> RunReferenceAsync(IReadOnlyList<string> paths)
    {
        var script = Path.Combine(Repo.Root, "tests/Iris.Inference.Tests/Reference/ocr-reference.mjs");
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        start.ArgumentList.Add(script);
        foreach (var p in paths)
        {
            start.ArgumentList.Add(p);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start node");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the OCR reference failed ({process.ExitCode}): {await stderr}");
        }

        using var json = JsonDocument.Parse(await stdout);
        var results = json.RootElement.EnumerateArray().Select(e => e.GetProperty("lines").EnumerateArray().Select(l => l.GetString() ?? string.Empty).ToArray()).ToArray();
        Assert.Equal(paths.Count, results.Length);
        return results;
    }
}
