using System.Globalization;
using System.Text;
using SkiaSharp;

namespace Iris.Inference.Tests;

/// <summary>One OCR test image: encoded bytes, the file extension they need, and the text a person reads on it, line by line.</summary>
public sealed record OcrSample(string Name, string Kind, byte[] Bytes, string Extension, IReadOnlyList<string> Lines)
{
    /// <summary>The reference text: lines joined by spaces, whitespace collapsed.</summary>
    public string Reference => OcrMetrics.Normalize(string.Join(' ', Lines));
}

/// <summary>
/// The OCR quality set the project builds itself, deterministically (fixed texts, fonts, seeds), from pinned npm
/// packages only: lines and paragraphs rendered with SkiaSharp in six fonts (WOFF files of the @fontsource packages:
/// Roboto regular and bold, Roboto Mono, Merriweather regular and italic, Oswald), at 14–64 px, rotated up to ±15°, in several colour schemes, some with noise,
/// blur or JPEG compression; and crops of the real UI screenshots @vladmandic/human ships (menu labels and API
/// documentation lists) with hand-made transcriptions. Shared by the quality gate and the quality benchmark.
/// </summary>
public static class OcrTestSet
{
    private static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog",
        "Invoice 2026-0412 total due $1,284.50",
        "Meet me at Platform 7 at 10:45 tomorrow",
        "Keep this door closed at all times",
        "Open Monday to Friday, 9am to 5pm",
        "Pack my box with five dozen liquor jugs",
        "Call 555-0142 for reservations",
        "Temperature 21.5 C, humidity 48%",
        "Please return all books by June 30",
        "Fresh bread baked every morning",
        "Exit only - no entry for vehicles",
        "Order number A7731 shipped today",
        "How vexingly quick daft zebras jump",
        "Sphinx of black quartz, judge my vow",
        "Room 214 is on the second floor",
        "Batteries not included",
    ];

    private static readonly string[][] Paragraphs =
    [
        ["Iris reads text in photos", "and returns one region per line", "with its box and its text."],
        ["Store hours", "Monday to Saturday 8:00 - 20:00", "Sunday closed"],
        ["WARNING", "High voltage inside", "Authorized personnel only"],
        ["Ingredients: wheat flour, water,", "salt, yeast, olive oil.", "Best before 12/2027"],
        ["Chapter 3", "The river ran quietly past the old mill,", "where nobody had worked for years."],
        ["Total 42.80", "Cash 50.00", "Change 7.20"],
    ];

    /// <summary>(font file under node_modules, short name).</summary>
    private static readonly (string Path, string Name)[] Fonts =
    [
        ("@fontsource/roboto/files/roboto-latin-400-normal.woff", "roboto"),
        ("@fontsource/merriweather/files/merriweather-latin-400-normal.woff", "merriweather"),
        ("@fontsource/roboto-mono/files/roboto-mono-latin-400-normal.woff", "roboto-mono"),
        ("@fontsource/oswald/files/oswald-latin-400-normal.woff", "oswald"),
        ("@fontsource/roboto/files/roboto-latin-700-normal.woff", "roboto-bold"),
        ("@fontsource/merriweather/files/merriweather-latin-400-italic.woff", "merriweather-italic"),
    ];

    /// <summary>(text colour, background colour, name).</summary>
    private static readonly (SKColor Ink, SKColor Paper, string Name)[] Schemes =
    [
        (SKColors.Black, SKColors.White, "black-on-white"),
        (new SKColor(0xF5, 0xF5, 0xF0), new SKColor(0x1B, 0x2A, 0x49), "white-on-navy"),
        (new SKColor(0x8B, 0x1A, 0x1A), new SKColor(0xF3, 0xE9, 0xD2), "red-on-beige"),
        (new SKColor(0x55, 0x55, 0x55), new SKColor(0xC8, 0xC8, 0xC8), "grey-on-grey"),
        (new SKColor(0xFF, 0xD7, 0x00), new SKColor(0x10, 0x10, 0x10), "yellow-on-black"),
    ];

    private static readonly int[] Sizes = [14, 20, 28, 40, 64];

    private static readonly float[] Rotations = [0f, 0f, -4f, 6f, 0f, 12f, -15f, 3f];

    /// <summary>
    /// Crops of @vladmandic/human's screenshots: (file, crop x, y, width, height, lines). Transcribed by hand from the
    /// pictures; the crops leave out toggles, sliders and icons whose reading is a matter of opinion.
    /// </summary>
    private static readonly (string File, int X, int Y, int W, int H, string[] Lines)[] Screenshots =
    [
        ("screenshot-menu.png", 45, 62, 110, 358, ["RESULTS TREE", "PERF MONITOR", "BUFFER OUTPUT", "CROP & SCALE", "CAMERA FACING", "USE DEPTH", "USE CURVES", "PRINT LABELS", "DRAW POINTS", "DRAW BOXES", "DRAW POLYGONS", "FILL POLYGONS"]),
        ("screenshot-menu.png", 513, 62, 95, 358, ["FACE DETECT", "FACE MESH", "FACE IRIS", "FACE DESCRIPTION", "FACE EMOTION", "BODY POSE", "HAND POSE", "GESTURES", "OBJECT DETECTION", "FACE COMPARE"]),
        ("screenshot-menu.png", 232, 195, 90, 200, ["BRIGHTNESS", "CONTRAST", "SHARPNESS", "BLUR", "SATURATION", "HUE", "PIXELATE"]),
        ("screenshot-typedoc.png", 18, 84, 110, 92, ["config", "events", "match", "result", "version"]),
        ("screenshot-typedoc.png", 18, 212, 110, 108, ["analyze", "emit", "load", "profile", "sleep", "warmup"]),
        ("screenshot-typedoc.png", 17, 556, 143, 175, ["BodyConfig", "Config", "FaceAttentionConfig", "FaceDetectorConfig", "FaceIrisConfig", "FaceResult", "GestureConfig", "ModelInfo", "PersonResult", "WebCamConfig"]),
    ];

    private static readonly string[] SzeliskiPage =
    [
        "technical details are too complex to cover in the book itself.",
        "In teaching our courses, we have found it useful for the students to attempt a number of",
        "small implementation projects, which often build on one another, in order to get them used to",
        "working with real-world images and the challenges that these present. The students are then",
        "asked to choose an individual topic for each of their small-group, final projects. (Sometimes",
        "these projects even turn into conference papers!) The exercises at the end of each chapter",
        "contain numerous suggestions for smaller mid-term projects, as well as more open-ended",
        "problems whose solutions are still active research topics. Wherever possible, I encourage",
        "students to try their algorithms on their own personal photographs, since this better motivates",
        "them, often leads to creative variants on the problems, and better acquaints them with the",
        "variety and complexity of real-world imagery.",
        "In formulating and solving computer vision problems, I have often found it useful to draw",
        "inspiration from three high-level approaches:",
    ];

    /// <summary>
    /// Photographed and scanned text from Debian packages, unpacked by tests/photos.sh into artifacts/photos: (file,
    /// crop x, y, width, height — all 0 for the whole image —, lines). Transcribed by hand; crops keep one sign or text
    /// block and leave out logos, stylised lettering and fragments cut by the frame.
    /// </summary>
    private static readonly (string File, int X, int Y, int W, int H, string[] Lines)[] Photographs =
    [
        // python3-skimage data/page.png: a photographed text-book page, uneven light, the paper bending away (the last,
        // half-visible line below the rule is left out).
        ("page.png", 0, 0, 384, 160, ["Region-based segmentation", "Let us first determine markers of the coins and the", "background. These markers are pixels that we can label", "unambiguously as either object or background. Here,", "the markers are found at the two extreme parts of the", "histogram of grey values:"]),
        // opencv-doc examples/data: a scanned book page (small serif text, ~9 px x-height), upright and rotated.
        ("opencv/imageTextN.png", 0, 0, 0, 0, SzeliskiPage),
        ("opencv/imageTextR.png", 0, 0, 0, 0, SzeliskiPage),
        // opencv-doc examples/text: scene text photographed outdoors.
        ("opencv/scenetext01.jpg", 255, 15, 190, 258, ["NOTICE", "DOUBLE", "PARKING", "PROHIBITED", "AT ALL TIMES"]),
        ("opencv/scenetext02.jpg", 420, 600, 490, 310, ["Sports Centre", "Wivenhoe Park", "Conference Centre", "Car Parks"]),
        ("opencv/scenetext03.jpg", 100, 525, 525, 108, ["the copy centre"]),
        ("opencv/scenetext04.jpg", 385, 400, 205, 70, ["GM 125"]),
        ("opencv/scenetext05.jpg", 460, 300, 245, 105, ["NO PARKING"]),
        ("opencv/scenetext_word01.jpg", 0, 0, 0, 0, ["CHINA"]),
        ("opencv/scenetext_word02.jpg", 0, 0, 0, 0, ["HERE"]),
        ("opencv/scenetext_word03.jpg", 0, 0, 0, 0, ["riser"]),
        ("opencv/scenetext_word04.jpg", 0, 0, 0, 0, ["Produkt"]),
    ];

    /// <summary>The folder tests/photos.sh unpacks the Debian packages' photographs into.</summary>
    public static string PhotosDir(string root) => Path.Combine(root, "artifacts", "photos");

    /// <summary>
    /// The photographed and scanned part of the set (12 images: a photographed page, a scanned page upright and rotated,
    /// five signs, four cropped words), from the files tests/photos.sh unpacks; whole files keep their bytes, crops are
    /// re-encoded losslessly as PNG.
    /// </summary>
    public static IReadOnlyList<OcrSample> BuildPhotographed(string photosDir)
    {
        var samples = new List<OcrSample>();
        foreach (var (file, x, y, w, h, lines) in Photographs)
        {
            var path = Path.Combine(photosDir, file);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"{path} is missing; run tests/photos.sh");
            }

            var name = "photo-" + Path.GetFileNameWithoutExtension(file);
            if (w == 0)
            {
                samples.Add(new OcrSample(name, "photo", File.ReadAllBytes(path), Path.GetExtension(path), lines));
                continue;
            }

            using var full = SKBitmap.Decode(path) ?? throw new InvalidOperationException($"cannot decode {path}");
            using var crop = new SKBitmap();
            if (!full.ExtractSubset(crop, new SKRectI(x, y, x + w, y + h)))
            {
                throw new InvalidOperationException($"cannot crop {path}");
            }

            using var data = crop.Encode(SKEncodedImageFormat.Png, 100);
            samples.Add(new OcrSample(FormattableString.Invariant($"{name}-{x}-{y}"), "photo", data.ToArray(), ".png", lines));
        }

        return samples;
    }

    /// <summary>Builds the whole set (28 images: 16 lines, 6 paragraphs, 6 screenshot crops); deterministic for the same packages.</summary>
    public static IReadOnlyList<OcrSample> Build(string nodeModules)
    {
        var samples = new List<OcrSample>();
        var typefaces = Fonts.Select(f => (Typeface: SKTypeface.FromFile(Path.Combine(nodeModules, f.Path)) ?? throw new InvalidOperationException($"font {f.Path} is missing or unreadable; run npm ci"), f.Name)).ToArray();
        try
        {
            for (var i = 0; i < Sentences.Length; i++)
            {
                var font = typefaces[i % typefaces.Length];
                var scheme = Schemes[(i / 2) % Schemes.Length];
                var size = Sizes[(i * 3) % Sizes.Length];
                var rotation = Rotations[i % Rotations.Length];
                var noise = i % 4 == 3 ? 18f : 0f;
                var blur = i % 5 == 4 ? 0.8f : 0f;
                var jpeg = i % 3 == 2;
                samples.Add(Render($"line{i:00}-{font.Name}-{size}px-{scheme.Name}-rot{rotation:0}{(noise > 0 ? "-noise" : string.Empty)}{(blur > 0 ? "-blur" : string.Empty)}", [Sentences[i]], font.Typeface, size, scheme, rotation, noise, blur, jpeg, seed: i));
            }

            for (var i = 0; i < Paragraphs.Length; i++)
            {
                var font = typefaces[(i + 2) % typefaces.Length];
                var scheme = Schemes[(i + 1) % Schemes.Length];
                var size = new[] { 20, 28, 24, 32, 18, 40 }[i];
                var rotation = new[] { 0f, 5f, 0f, -8f, 2f, 0f }[i];
                var noise = i % 2 == 1 ? 12f : 0f;
                samples.Add(Render($"para{i}-{font.Name}-{size}px-{scheme.Name}-rot{rotation:0}{(noise > 0 ? "-noise" : string.Empty)}", Paragraphs[i], font.Typeface, size, scheme, rotation, noise, 0f, jpeg: i == 4, seed: 100 + i));
            }
        }
        finally
        {
            foreach (var (typeface, _) in typefaces)
            {
                typeface.Dispose();
            }
        }

        foreach (var (file, x, y, w, h, lines) in Screenshots)
        {
            using var full = SKBitmap.Decode(Path.Combine(nodeModules, "@vladmandic/human/assets", file)) ?? throw new InvalidOperationException($"{file} is missing; run npm ci");
            using var crop = new SKBitmap(w, h);
            if (!full.ExtractSubset(crop, new SKRectI(x, y, x + w, y + h)))
            {
                throw new InvalidOperationException($"cannot crop {file}");
            }

            using var data = crop.Encode(SKEncodedImageFormat.Png, 100);
            samples.Add(new OcrSample(FormattableString.Invariant($"shot-{Path.GetFileNameWithoutExtension(file)}-{x}-{y}"), "screenshot", data.ToArray(), ".png", lines));
        }

        return samples;
    }

    /// <summary>Writes every sample into <paramref name="dir"/> as <c>name.ext</c>; returns the paths in set order.</summary>
    public static IReadOnlyList<string> WriteTo(IReadOnlyList<OcrSample> samples, string dir)
    {
        Directory.CreateDirectory(dir);
        return samples.Select(s =>
        {
            var path = Path.Combine(dir, s.Name + s.Extension);
            File.WriteAllBytes(path, s.Bytes);
            return path;
        }).ToArray();
    }

    private static OcrSample Render(string name, string[] lines, SKTypeface typeface, int size, (SKColor Ink, SKColor Paper, string Name) scheme, float rotation, float noise, float blur, bool jpeg, int seed)
    {
        using var font = new SKFont(typeface, size) { Edging = SKFontEdging.Antialias, Subpixel = true };
        var lineHeight = size * 1.5f;
        var textWidth = lines.Max(l => font.MeasureText(l));
        var textHeight = lineHeight * lines.Length;
        var margin = size * 1.2f;
        var radians = MathF.Abs(rotation) * MathF.PI / 180f;
        var boxW = textWidth + (2 * margin);
        var boxH = textHeight + (2 * margin);
        var width = (int)MathF.Ceiling((boxW * MathF.Cos(radians)) + (boxH * MathF.Sin(radians)));
        var height = (int)MathF.Ceiling((boxW * MathF.Sin(radians)) + (boxH * MathF.Cos(radians)));
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(scheme.Paper);
            canvas.Translate(width / 2f, height / 2f);
            canvas.RotateDegrees(rotation);
            using var paint = new SKPaint { Color = scheme.Ink, IsAntialias = true };
            if (blur > 0)
            {
                paint.ImageFilter = SKImageFilter.CreateBlur(blur, blur);
            }

            for (var l = 0; l < lines.Length; l++)
            {
                var baseline = (-textHeight / 2) + (l * lineHeight) + (lineHeight * 0.72f);
                canvas.DrawText(lines[l], -textWidth / 2, baseline, SKTextAlign.Left, font, paint);
            }
        }

        if (noise > 0)
        {
            AddNoise(bitmap, noise, seed);
        }

        using var encoded = bitmap.Encode(jpeg ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png, jpeg ? 70 : 100);
        return new OcrSample(name, "rendered", encoded.ToArray(), jpeg ? ".jpg" : ".png", lines);
    }

    /// <summary>Gaussian noise of standard deviation <paramref name="sigma"/> (0..255 units) on every channel, from a fixed seed.</summary>
    private static void AddNoise(SKBitmap bitmap, float sigma, int seed)
    {
        var random = new Random(seed);
        var pixels = bitmap.GetPixelSpan();
        var bytes = new byte[pixels.Length];
        pixels.CopyTo(bytes);
        for (var i = 0; i < bytes.Length; i++)
        {
            if (i % 4 == 3)
            {
                continue;
            }

            // Box–Muller.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var n = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            bytes[i] = (byte)Math.Clamp(bytes[i] + (n * sigma), 0, 255);
        }

        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
    }
}

/// <summary>OCR quality measures: character error rate with whitespace collapsed and without spaces, and word recall.</summary>
public static class OcrMetrics
{
    /// <summary>Runs of whitespace become one space; ends trimmed.</summary>
    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text.Trim())
        {
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }

            if (space && sb.Length > 0)
            {
                sb.Append(' ');
            }

            space = false;
            sb.Append(c);
        }

        return sb.ToString();
    }

    /// <summary>Edit distance (insertions, deletions, substitutions) ÷ reference length, whitespace collapsed.</summary>
    public static double Cer(string hypothesis, string reference)
    {
        var (h, r) = (Normalize(hypothesis), Normalize(reference));
        return r.Length == 0 ? (h.Length == 0 ? 0 : 1) : (double)Levenshtein(h, r) / r.Length;
    }

    /// <summary>The same with every space removed (PP-OCR sometimes drops the spaces between English words).</summary>
    public static double CerNoSpaces(string hypothesis, string reference) =>
        Cer(hypothesis.Replace(" ", string.Empty, StringComparison.Ordinal), reference.Replace(" ", string.Empty, StringComparison.Ordinal));

    /// <summary>Fraction of the reference's words (as a multiset) that appear among the hypothesis' words.</summary>
    public static double WordRecall(string hypothesis, string reference)
    {
        var words = Normalize(hypothesis).Split(' ', StringSplitOptions.RemoveEmptyEntries).GroupBy(w => w, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var wanted = Normalize(reference).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var found = 0;
        foreach (var w in wanted)
        {
            if (words.TryGetValue(w, out var n) && n > 0)
            {
                words[w] = n - 1;
                found++;
            }
        }

        return wanted.Length == 0 ? 1 : (double)found / wanted.Length;
    }

    public static int Levenshtein(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    public static string Format(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);
}
