using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Iris.Bench;
using Iris.Inference.Import;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SkiaSharp;

// Usage: dotnet run -c Release --project bench/Iris.Inference.Import.Bench [-- <output.md> [ortRuns] [tfjsRuns]]
// Converts every model, then times ONNX Runtime (CPU, default threads) and TensorFlow.js (pure-JS CPU backend,
// tests/parity/tfjs-run.js) on the same input tensor built from a real photograph, in one run.
var root = FindRoot();
var outPath = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(root, "docs", "benchmarks.md");
var ortRuns = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
var tfjsRuns = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;

var human = Path.Combine(root, "node_modules", "@vladmandic", "human-models", "models");
var nsfw = Path.Combine(root, "node_modules", "nsfwjs", "dist", "models");
var metro = Path.Combine(root, "node_modules", "clarifai-nodejs-grpc", "tests", "assets", "metro-north.jpg");
var faces = Path.Combine(root, "node_modules", "@vladmandic", "human", "assets", "samples.jpg");
(string Id, string Model, string Photo, int Size, int Channels, bool Nchw)[] models =
[
    ("centernet", Path.Combine(human, "centernet.json"), metro, 512, 3, false),
    ("nanodet", Path.Combine(human, "nanodet.json"), metro, 416, 3, true),
    ("blazeface", Path.Combine(human, "blazeface.json"), faces, 256, 3, false),
    ("faceres", Path.Combine(human, "faceres.json"), faces, 224, 3, false),
    ("gear", Path.Combine(human, "gear.json"), faces, 198, 3, false),
    ("emotion", Path.Combine(human, "emotion.json"), faces, 64, 1, false),
    ("selfie", Path.Combine(human, "selfie.json"), faces, 256, 3, false),
    ("mobilenet_v2", Path.Combine(nsfw, "mobilenet_v2", "model.min.js"), metro, 224, 3, false),
    ("mobilenet_v2_mid", Path.Combine(nsfw, "mobilenet_v2_mid", "model.min.js"), metro, 224, 3, false),
    ("inception_v3", Path.Combine(nsfw, "inception_v3", "model.min.js"), metro, 299, 3, false),
];

var work = Directory.CreateTempSubdirectory("iris-import-bench-");
var rows = new List<string>();
try
{
    foreach (var m in models)
    {
        var convertWatch = Stopwatch.StartNew();
        var onnx = Path.Combine(work.FullName, m.Id + ".onnx");
        var result = await TfjsImporter.ImportAsync(m.Model, onnx, null, CancellationToken.None);
        var convertMs = convertWatch.Elapsed.TotalMilliseconds;

        var shape = m.Nchw ? new long[] { 1, m.Channels, m.Size, m.Size } : [1, m.Size, m.Size, m.Channels];
        var input = LoadImage(m.Photo, m.Size, m.Channels, m.Nchw);

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(onnx, options);
        var tensor = new DenseTensor<float>(input, shape.Select(d => (int)d).ToArray());
        var feeds = new[] { NamedOnnxValue.CreateFromTensor(result.Inputs[0].OnnxName, tensor) };
        using (session.Run(feeds))
        {
            // Warm-up.
        }

        var ortTimes = new List<double>();
        for (var i = 0; i < ortRuns; i++)
        {
            var sw = Stopwatch.StartNew();
            using var r = session.Run(feeds);
            ortTimes.Add(sw.Elapsed.TotalMilliseconds);
        }

        var (tfjsFirst, tfjsTimes) = RunTfjs(root, work.FullName, m.Model, result, input, shape, tfjsRuns);
        var ort = Median(ortTimes);
        var tfjs = Median(tfjsTimes);
        var row = string.Create(
            CultureInfo.InvariantCulture,
            $"| {m.Id} | {string.Join('x', shape)} | {convertMs:F0} | {ort:F1} | {tfjs:F1} | {tfjsFirst:F0} | {tfjs / ort:F1}x |");
        Console.WriteLine(row);
        rows.Add(row);
    }
}
finally
{
    work.Delete(recursive: true);
}

var md = new StringBuilder();
md.AppendLine("## Importer (issue 5)");
md.AppendLine();
md.AppendLine("Each converted TensorFlow.js model under ONNX Runtime beside the original under TensorFlow.js, per image, in one run.");
md.AppendLine();
md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; ONNX Runtime 1.31.1 (CPU provider, ORT_ENABLE_ALL, default threads); TensorFlow.js 4.22.0 pure-JavaScript `cpu` backend on Node {NodeVersion()}.");
md.AppendLine();
md.AppendLine(CultureInfo.InvariantCulture, $"Same input tensor (real photograph) for both runtimes, batch 1. ORT: median of {ortRuns} runs after one warm-up. tfjs: median of {tfjsRuns} runs after the first (first run listed separately; it includes kernel set-up). Conversion time is the one-off import (no cache).");
md.AppendLine();
md.AppendLine("Produced by `dotnet run -c Release --project bench/Iris.Inference.Import.Bench`.");
md.AppendLine();
md.AppendLine("| model | input | convert ms | ORT ms/image | tfjs ms/image | tfjs first run ms | ORT speed-up |");
md.AppendLine("|---|---|---:|---:|---:|---:|---:|");
foreach (var r in rows)
{
    md.AppendLine(r);
}

BenchmarkDoc.WriteSection(outPath, "## Importer (issue 5)", md.ToString());
Console.WriteLine($"wrote {outPath}");
return 0;

static double Median(List<double> values)
{
    if (values.Count == 0)
    {
        return double.NaN;
    }

    var s = values.Order().ToList();
    return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
}

static (double First, List<double> Times) RunTfjs(string root, string work, string model, ImportResult result, float[] input, long[] shape, int repeat)
{
    var inputFile = Path.Combine(work, "input.bin");
    File.WriteAllBytes(inputFile, MemoryMarshal.AsBytes(input.AsSpan()).ToArray());
    var outDir = Path.Combine(work, "tfjs-out");
    var request = new JsonObject
    {
        ["model"] = model,
        ["input"] = new JsonObject { ["name"] = result.Inputs[0].SourceName, ["file"] = inputFile, ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()) },
        ["outputs"] = new JsonArray(result.Outputs.Select(o => (JsonNode)o.SourceName).ToArray()),
        ["outDir"] = outDir,
        ["repeat"] = repeat,
    };
    var requestFile = Path.Combine(work, "request.json");
    File.WriteAllText(requestFile, request.ToJsonString());
    var psi = new ProcessStartInfo("node", [Path.Combine(root, "tests", "parity", "tfjs-run.js"), requestFile])
    {
        WorkingDirectory = root,
        RedirectStandardError = true,
        RedirectStandardOutput = true,
    };
    using var p = Process.Start(psi)!;
    var err = p.StandardError.ReadToEndAsync();
    _ = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException($"tfjs run failed: {err.Result}");
    }

    var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "manifest.json")))!;
    return (manifest["firstRunMs"]!.GetValue<double>(), manifest["timesMs"]!.AsArray().Select(t => t!.GetValue<double>()).ToList());
}

static float[] LoadImage(string path, int size, int channels, bool nchw)
{
    using var original = SKBitmap.Decode(path) ?? throw new InvalidOperationException($"cannot decode {path}");
    using var resized = original.Resize(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))!;
    var data = new float[size * size * channels];
    for (var y = 0; y < size; y++)
    {
        for (var x = 0; x < size; x++)
        {
            var px = resized.GetPixel(x, y);
            Span<float> rgb = [px.Red, px.Green, px.Blue];
            for (var c = 0; c < channels; c++)
            {
                var v = channels == 1 ? (0.299f * rgb[0]) + (0.587f * rgb[1]) + (0.114f * rgb[2]) : rgb[c];
                data[nchw ? (c * size * size) + (y * size) + x : (((y * size) + x) * channels) + c] = v / 255f;
            }
        }
    }

    return data;
}

static string NodeVersion()
{
    using var p = Process.Start(new ProcessStartInfo("node", ["--version"]) { RedirectStandardOutput = true })!;
    var v = p.StandardOutput.ReadToEnd().Trim();
    p.WaitForExit();
    return v;
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Iris.slnx not found");
}
