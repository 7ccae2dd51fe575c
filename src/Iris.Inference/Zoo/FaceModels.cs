using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using SkiaSharp;

namespace Iris.Inference.Zoo;

/// <summary>Face detection with BlazeFace (short range): one region per face, concept "face".</summary>
public sealed class FaceDetectionModel : BuiltinModel
{
    public const string Id = "face-detection";
    public const float MinScore = 0.5f;

    /// <summary>IoU above which the lower-scoring of two face boxes is dropped (the Human library's <c>face.detector.iouThreshold</c>).</summary>
    public const float NmsIoU = 0.1f;

    internal static readonly PixelFormat Input = new(256, 256, 3, Nchw: false, Scale: 2f, Offset: -1f, Filter: ResampleFilter.CatmullRom);
    internal static readonly ConceptDef Face = ConceptIds.Def("face");
    private static readonly float[][] Anchors = BuildAnchors(256);

    public override int DecodeMinSide => Input.Width;

    public override int DecodeFitSide => Input.Width;

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Face Detection",
        TypeId = "visual-detector",
        VersionId = Versions.For(Id, Networks.HumanModels),
        LegacyId = "a403429f2ddf4b49b307e318f00e528b",
        Description = "Finds faces and returns a bounding box for each.",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/blazeface (MediaPipe BlazeFace)",
        Notes = "Boxes scoring at least 0.5, non-maximum suppression at IoU 0.1. Tuned for faces larger than about 1/20 of the image.",
        Concepts = [Face],
        Networks = [Networks.BlazeFace],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var data = new Data();
        foreach (var f in await DetectAsync(image, engine, cancellationToken).ConfigureAwait(false))
        {
            var region = Box(Id, f.Top, f.Left, f.Bottom, f.Right, f.Score);
            region.Data.Concepts.Add(Concept(Face, f.Score));
            data.Regions.Add(region);
        }

        return data;
    }

    /// <summary>
    /// Faces in normalized coordinates. The image is letterboxed, centred, into the square input (square pixels keep
    /// faces face-shaped), as MediaPipe's face detection graph does (<c>ImageToTensorCalculator</c>,
    /// <c>keep_aspect_ratio: true</c>, zero border, values −1..1) and the Human library's <c>square</c> option.
    /// </summary>
    internal static async ValueTask<List<Boxes.Candidate>> DetectAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var square = Versions.CentredFit(image, Input.Width);
        var output = await engine.RunImageAsync(Networks.BlazeFace, image.Bitmap, square, Input, letterbox: false, cancellationToken).ConfigureAwait(false);

        // Four outputs: scores and boxes of the 16-px grid (512 anchors) and of the 32-px grid (384 anchors).
        var sorted = output.All.OrderBy(t => t.Data.Length).ToArray();
        float[] scores384 = sorted[0].Data, scores512 = sorted[1].Data, boxes384 = sorted[2].Data, boxes512 = sorted[3].Data;
        var candidates = new List<Boxes.Candidate>();
        for (var a = 0; a < Anchors.Length; a++)
        {
            var (scores, boxes, row) = a < 512 ? (scores512, boxes512, a) : (scores384, boxes384, a - 512);
            var score = 1f / (1f + MathF.Exp(-scores[row]));
            if (score < MinScore)
            {
                continue;
            }

            var b = row * 16;
            var cx = boxes[b] + Anchors[a][0];
            var cy = boxes[b + 1] + Anchors[a][1];
            float w = boxes[b + 2], h = boxes[b + 3];
            // Input pixels → source pixels (the centred square) → fractions of the image.
            float X(float v) => (square.Left + (v / Input.Width * square.Width)) / image.Width;
            float Y(float v) => (square.Top + (v / Input.Height * square.Height)) / image.Height;
            candidates.Add(new Boxes.Candidate(Y(cy - (h / 2)), X(cx - (w / 2)), Y(cy + (h / 2)), X(cx + (w / 2)), score, 0));
        }

        return Boxes.Suppress(candidates, NmsIoU, 100);
    }

    /// <summary>BlazeFace anchors in input pixels: strides 16 (2 per cell) and 32 (6 per cell), cell centres.</summary>
    private static float[][] BuildAnchors(int size)
    {
        var anchors = new List<float[]>();
        foreach (var (stride, count) in new[] { (size / 16, 2), (size / 8, 6) })
        {
            var cells = (size + stride - 1) / stride;
            for (var y = 0; y < cells; y++)
            {
                for (var x = 0; x < cells; x++)
                {
                    for (var n = 0; n < count; n++)
                    {
                        anchors.Add([stride * (x + 0.5f), stride * (y + 0.5f)]);
                    }
                }
            }
        }

        return anchors.ToArray();
    }
}

/// <summary>
/// Face attributes: each face BlazeFace finds gets age (decade ranges, vocab <c>age_appearance</c>), gender
/// (vocab <c>gender_appearance</c>) and emotion (vocab <c>emotion</c>) as concepts with <c>vocab_id</c>, per the
/// Demographics format of CLARIFAI_FACTS.md (the Face object became concepts with vocab ids).
/// </summary>
public sealed class FaceAttributesModel : BuiltinModel
{
    public const string Id = "face-attributes";

    internal static readonly PixelFormat FaceResInput = new(224, 224, 3, Nchw: false, Scale: 255f, Offset: 0f);
    internal static readonly PixelFormat EmotionInput = new(64, 64, 1, Nchw: false, Scale: 2f, Offset: -1f);

    internal static readonly (string Name, int From, int To)[] AgeRanges =
    [
        ("0-2", 0, 2), ("3-9", 3, 9), ("10-19", 10, 19), ("20-29", 20, 29), ("30-39", 30, 39), ("40-49", 40, 49),
        ("50-59", 50, 59), ("60-69", 60, 69), ("more than 70", 70, 99),
    ];

    internal static readonly ConceptDef[] Ages = AgeRanges.Select(r => ConceptIds.Def(r.Name, "age_appearance")).ToArray();
    internal static readonly ConceptDef Masculine = ConceptIds.Def("masculine", "gender_appearance");
    internal static readonly ConceptDef Feminine = ConceptIds.Def("feminine", "gender_appearance");
    internal static readonly ConceptDef[] Emotions = new[] { "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral" }
        .Select(n => ConceptIds.Def(n, "emotion")).ToArray();

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Face Attributes",
        TypeId = "visual-detector",
        VersionId = Versions.For(Id, Networks.HumanModels),
        Description = "Finds faces and estimates apparent age range, gender presentation and facial expression for each.",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/blazeface, models/faceres, models/emotion",
        Notes = "Age: FaceRes' per-year probabilities summed into ranges. Apparent attributes only; not identity.",
        Concepts = [.. Ages, Masculine, Feminine, .. Emotions],
        Networks = [Networks.BlazeFace, Networks.FaceRes, Networks.Emotion],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var data = new Data();
        var faces = await FaceDetectionModel.DetectAsync(image, engine, cancellationToken).ConfigureAwait(false);
        var tasks = faces.Select(f => DescribeAsync(image, f, engine, cancellationToken).AsTask()).ToArray();
        var described = await System.Threading.Tasks.Task.WhenAll(tasks).ConfigureAwait(false);
        foreach (var region in described)
        {
            data.Regions.Add(region);
        }

        return data;
    }

    private async ValueTask<Region> DescribeAsync(DecodedImage image, Boxes.Candidate face, InferenceEngine engine, CancellationToken cancellationToken)
    {
        // Crop a square around the face, enlarged as the Human library does before its face models.
        float cx = (face.Left + face.Right) / 2 * image.Width, cy = (face.Top + face.Bottom) / 2 * image.Height;
        var side = Math.Max((face.Right - face.Left) * image.Width, (face.Bottom - face.Top) * image.Height) * 1.4f;
        var crop = new SKRect(cx - (side / 2), cy - (side / 2), cx + (side / 2), cy + (side / 2));
        // Both queued before either is awaited, so they batch with other faces; both awaited so neither fault goes unobserved.
        var a = engine.RunImageAsync(Networks.FaceRes, image.Bitmap, crop, FaceResInput, letterbox: false, cancellationToken).AsTask();
        var e = engine.RunImageAsync(Networks.Emotion, image.Bitmap, crop, EmotionInput, letterbox: false, cancellationToken).AsTask();
        await System.Threading.Tasks.Task.WhenAll(a, e).ConfigureAwait(false);
        var attributes = await a.ConfigureAwait(false);
        var expression = await e.ConfigureAwait(false);

        var region = Box(Id, face.Top, face.Left, face.Bottom, face.Right, face.Score);
        var concepts = new List<Concept>();
        concepts.AddRange(AgeConcepts(attributes));
        concepts.AddRange(GenderConcepts(attributes));
        concepts.AddRange(EmotionConcepts(expression));
        region.Data.Concepts.AddRange(concepts.OrderByDescending(c => c.Value));
        return region;
    }

    /// <summary>FaceRes' per-year age probabilities summed into the ranges (vocab <c>age_appearance</c>).</summary>
    internal static IEnumerable<Concept> AgeConcepts(NetworkOutput faceRes)
    {
        var ages = faceRes["age_pred/Softmax:0"].Data;
        for (var r = 0; r < AgeRanges.Length; r++)
        {
            var sum = 0f;
            for (var y = AgeRanges[r].From; y <= AgeRanges[r].To && y < ages.Length; y++)
            {
                sum += ages[y];
            }

            yield return Concept(Ages[r], sum);
        }
    }

    /// <summary>FaceRes' gender output as the two concepts of vocab <c>gender_appearance</c>.</summary>
    internal static IEnumerable<Concept> GenderConcepts(NetworkOutput faceRes)
    {
        var male = faceRes["gender_pred/Sigmoid:0"].Data[0];
        return [Concept(Masculine, male), Concept(Feminine, 1f - male)];
    }

    /// <summary>The emotion network's softmax as concepts of vocab <c>emotion</c>.</summary>
    internal static IEnumerable<Concept> EmotionConcepts(NetworkOutput emotion)
    {
        var values = emotion["Identity:0"].Data;
        for (var i = 0; i < Emotions.Length && i < values.Length; i++)
        {
            yield return Concept(Emotions[i], values[i]);
        }
    }
}

/// <summary>Person segmentation (MediaPipe selfie): one region with the person mask as a PNG the size of the image.</summary>
public sealed class PersonSegmentationModel : BuiltinModel
{
    public const string Id = "person-segmentation";

    internal static readonly PixelFormat Input = new(256, 256, 3, Nchw: false, Scale: 1f, Offset: 0f);
    private static readonly ConceptDef Person = ConceptIds.Def("person");

    public override int DecodeMinSide => Input.Width;

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Person Segmentation",
        TypeId = "visual-segmenter",
        VersionId = Versions.For(Id, Networks.HumanModels),
        Description = "Separates people from the background: a grey-scale mask (255 = person) the size of the image.",
        License = "Apache-2.0",
        SourcePackage = Networks.HumanModels + " models/selfie (MediaPipe Selfie Segmentation)",
        Notes = "Region value: the fraction of the image covered by the person (mask ≥ 0.5); no region when nobody is found.",
        Concepts = [Person],
        Networks = [Networks.Selfie],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var output = await engine.RunImageAsync(Networks.Selfie, image.Bitmap, Versions.Whole(image), Input, letterbox: false, cancellationToken).ConfigureAwait(false);

        var side = Input.Width;
        var data = new Data();
        if (Masks.Region(output.All.First().Data, side, side, image.FullWidth, image.FullHeight, peak => Concept(Person, peak)) is { } region)
        {
            data.Regions.Add(region);
        }

        return data;
    }
}
