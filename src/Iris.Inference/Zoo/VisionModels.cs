using System.Security.Cryptography;
using System.Text;
using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using SkiaSharp;

namespace Iris.Inference.Zoo;

internal static class Versions
{
    /// <summary>A version id (32 hex) fixed by the model id and its weights package: the same on every machine and restart.</summary>
    public static string For(string modelId, string package) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("iris-model-version:" + modelId + ":" + package)).AsSpan(0, 16));

    public static SKRect Whole(DecodedImage image) => new(0, 0, image.Width, image.Height);

    /// <summary>
    /// The source rectangle that, resampled into a <paramref name="side"/> × <paramref name="side"/> input, gives the
    /// centred letterbox of MB3-CenterNet's and MediaPipe's inference code as the TensorFlow.js references build it: the
    /// image scaled to round(W·s) × round(H·s) input pixels (s = side ÷ the longer side of the full upright image),
    /// placed at floor((side − w) ÷ 2), floor((side − h) ÷ 2), black around it (the resampler reads black for input
    /// pixels whose centre falls outside the image). Each axis keeps its own rounded scale, as the references' resize
    /// to w × h does; mapping outputs back through this rectangle lands them on the image.
    /// </summary>
    public static SKRect CentredFit(DecodedImage image, int side)
    {
        var (w, h) = ImageDecoder.Fitted(image.FullWidth, image.FullHeight, side);
        int dx = (side - w) / 2, dy = (side - h) / 2;
        float sx = (float)image.Width / w, sy = (float)image.Height / h;
        return new SKRect(-dx * sx, -dy * sy, (side - dx) * sx, (side - dy) * sy);
    }
}

/// <summary>COCO-80 object detection with MB3-CenterNet: regions with one concept each.</summary>
public sealed class GeneralDetectionModel : BuiltinModel
{
    public const string Id = "general-image-detection";

    /// <summary>Boxes scoring below this are not reported (the Human library's default is 0.2).</summary>
    public const float MinScore = 0.2f;

    internal static readonly PixelFormat Input = new(512, 512, 3, Nchw: false, Scale: 255f, Offset: 0f, Filter: ResampleFilter.CatmullRom);

    public static readonly IReadOnlyList<ConceptDef> Classes = CocoLabels.Names.Select(n => ConceptIds.Def(n)).ToArray();

    public override int DecodeMinSide => Input.Width;

    public override int DecodeFitSide => Input.Width;

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "General Detection",
        TypeId = "visual-detector",
        VersionId = Versions.For(Id, Networks.HumanModels),
        Description = "Detects the 80 COCO object classes (people, vehicles, animals, household objects) with bounding boxes.",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/centernet (MB3-CenterNet, COCO-2017)",
        Notes = "Regions scoring at least 0.2, class-agnostic non-maximum suppression at IoU 0.4, at most 100 regions.",
        Concepts = Classes,
        Networks = [Networks.CenterNet],
    };

    /// <summary>IoU above which a lower-scoring box of any class is suppressed (the Human library's <c>object.iouThreshold</c>).</summary>
    public const float NmsIoU = 0.4f;

    /// <summary>At most this many regions: the network's own top-k of key-point peaks.</summary>
    public const int MaxRegions = 100;

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var data = new Data();
        var detections = await DetectAsync(image, engine, MinScore, cancellationToken).ConfigureAwait(false);
        foreach (var c in Boxes.Suppress(detections, NmsIoU, MaxRegions, classAgnostic: true))
        {
            var region = Box(Id, c.Top, c.Left, c.Bottom, c.Right, c.Score);
            region.Data.Concepts.Add(Concept(Classes[c.Class], c.Score));
            data.Regions.Add(region);
        }

        return data;
    }

    /// <summary>
    /// The network's detections scoring at least <paramref name="minScore"/>, in normalized image coordinates, not
    /// suppressed. Preprocessing as MB3-CenterNet's own inference code (610265158/mobilenetv3_centernet,
    /// lib/core/api/face_detector.py <c>preprocess</c>): the image scaled to fit 512 × 512 with its aspect ratio kept,
    /// centred on black, RGB 0..255; boxes come back in input pixels and are mapped back through the same placement.
    /// </summary>
    internal static async ValueTask<List<Boxes.Candidate>> DetectAsync(DecodedImage image, InferenceEngine engine, float minScore, CancellationToken cancellationToken)
    {
        var square = Versions.CentredFit(image, Input.Width);
        var output = await engine.RunImageAsync(Networks.CenterNet, image.Bitmap, square, Input, letterbox: false, cancellationToken).ConfigureAwait(false);
        var detections = output["tower_0/detections"].Data;
        var candidates = new List<Boxes.Candidate>();
        for (var i = 0; i + 6 <= detections.Length; i += 6)
        {
            var score = detections[i + 4];
            var cls = detections[i + 5];
            if (float.IsNaN(score) || float.IsNaN(cls) || score < minScore || cls < 0 || cls >= Classes.Count)
            {
                continue;
            }

            // Input pixels → source pixels (the centred square) → fractions of the image.
            float X(float v) => (square.Left + (v / Input.Width * square.Width)) / image.Width;
            float Y(float v) => (square.Top + (v / Input.Height * square.Height)) / image.Height;
            candidates.Add(new Boxes.Candidate(Y(detections[i + 1]), X(detections[i]), Y(detections[i + 3]), X(detections[i + 2]), score, (int)cls));
        }

        return candidates;
    }
}

/// <summary>
/// Image recognition over the COCO-80 vocabulary: a concept's value is the highest score the detector gives any box of
/// that class. Honest and documented: Iris has no open ~11k-concept classifier, so this model knows 80 concepts.
/// </summary>
public sealed class GeneralRecognitionModel : BuiltinModel
{
    public const string Id = "general-image-recognition";

    public override int DecodeMinSide => GeneralDetectionModel.Input.Width;

    public override int DecodeFitSide => GeneralDetectionModel.Input.Width;

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Image Recognition",
        TypeId = "visual-classifier",
        VersionId = Versions.For(Id, Networks.HumanModels),
        LegacyId = "aaa03c23b3724a16a56b629203edc62c",
        Description = "Recognizes the 80 COCO object classes in an image; each concept's value is the detector's best score for that class.",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/centernet (MB3-CenterNet, COCO-2017)",
        Notes = "Vocabulary: the 80 COCO classes of the general detector (not Clarifai's ~11k concepts).",
        Concepts = GeneralDetectionModel.Classes,
        Networks = [Networks.CenterNet],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var best = new float[GeneralDetectionModel.Classes.Count];
        foreach (var c in await GeneralDetectionModel.DetectAsync(image, engine, 0f, cancellationToken).ConfigureAwait(false))
        {
            best[c.Class] = Math.Max(best[c.Class], c.Score);
        }

        var data = new Data();
        foreach (var i in Enumerable.Range(0, best.Length).OrderByDescending(i => best[i]).ThenBy(i => i))
        {
            data.Concepts.Add(Concept(GeneralDetectionModel.Classes[i], best[i]));
        }

        return data;
    }
}

/// <summary>General image embedding: nsfwjs MobileNet v2 cut at its global pooling layer, 1280 dimensions, L2-normalized.</summary>
public sealed class GeneralEmbeddingModel : BuiltinModel
{
    public const string Id = "general-image-embedding";
    public const int Dimensions = 1280;

    /// <summary>
    /// nsfwjs' own preprocessing (<c>dist/cjs/core.js</c> <c>NSFWJS.infer</c>, which <c>classify</c> calls): the whole
    /// image ÷ 255, <c>tf.image.resizeBilinear</c> to 224 × 224 with <c>alignCorners: true</c>, stretched, from the
    /// full-size decode (<see cref="BuiltinModel.DecodeMinSide"/> 0: a reduced JPEG decode, or an antialiased resize, is
    /// another input — against nsfwjs the triangle filter on a decode reduced to 224 gave cosines down to 0.57 and three
    /// of six top classes different; this gives cosine 1.0000 and the same probabilities).
    /// </summary>
    internal static readonly PixelFormat Input = new(224, 224, 3, Nchw: false, Scale: 1f, Offset: 0f, Filter: ResampleFilter.BilinearAlignCorners);

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Image Embedding",
        TypeId = "visual-embedder",
        VersionId = Versions.For(Id, Networks.Nsfwjs),
        LegacyId = "bbb5f41425b8468d9b7a554ff10f8581",
        Description = "A 1280-dimensional image embedding for visual similarity search (unit length; compare by Euclidean or cosine distance).",
        License = "MIT",
        SourcePackage = Networks.Nsfwjs + " models/mobilenet_v2 (MobileNet v2, layer average_pooling2d_1)",
        Notes = "The pooled features of nsfwjs' MobileNet v2 (ImageNet-pretrained backbone fine-tuned for NSFW classes).",
        Concepts = [],
        Networks = [Networks.MobileNetV2],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var output = await MobileNetAsync(image, engine, cancellationToken).ConfigureAwait(false);
        var vector = output["average_pooling2d_1"].Data;
        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        var embedding = new Embedding { NumDimensions = (uint)vector.Length };
        embedding.Vector.AddRange(norm > 0 ? vector.Select(v => v / norm) : vector);
        return new Data { Embeddings = { embedding } };
    }

    internal static ValueTask<NetworkOutput> MobileNetAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken) =>
        engine.RunImageAsync(Networks.MobileNetV2, image.Bitmap, Versions.Whole(image), Input, letterbox: false, cancellationToken);
}

/// <summary>NSFW recognition with nsfwjs' MobileNet v2 classifier: its five classes, softmax probabilities.</summary>
public sealed class NsfwModel : BuiltinModel
{
    public const string Id = "nsfw-recognition";

    private static readonly ConceptDef[] Classes = new[] { "drawing", "hentai", "neutral", "porn", "sexy" }.Select(n => ConceptIds.Def(n)).ToArray();

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "NSFW Recognition",
        TypeId = "visual-classifier",
        VersionId = Versions.For(Id, Networks.Nsfwjs),
        LegacyId = "e9576d86d2004ed1a38ba0cf39ecb4b1",
        Description = "Classifies an image as drawing, hentai, neutral, porn or sexy (probabilities sum to 1).",
        License = "MIT",
        SourcePackage = Networks.Nsfwjs + " models/mobilenet_v2",
        Notes = "nsfwjs' five classes; Clarifai's nsfw model reports sfw/nsfw instead. porn + hentai + sexy approximates nsfw.",
        Concepts = Classes,
        Networks = [Networks.MobileNetV2],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var output = await GeneralEmbeddingModel.MobileNetAsync(image, engine, cancellationToken).ConfigureAwait(false);
        var scores = output["dense_3"].Data;
        var data = new Data();
        foreach (var i in Enumerable.Range(0, Classes.Length).OrderByDescending(i => scores[i]))
        {
            data.Concepts.Add(Concept(Classes[i], scores[i]));
        }

        return data;
    }
}

internal static class CocoLabels
{
    /// <summary>The 80 COCO-2017 classes in the detector's class-index order (@vladmandic/human src/object/labels.ts).</summary>
    public static readonly string[] Names =
    [
        "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light", "fire hydrant", "stop sign",
        "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
        "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
        "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
        "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv",
        "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
        "scissors", "teddy bear", "hair drier", "toothbrush",
    ];
}
