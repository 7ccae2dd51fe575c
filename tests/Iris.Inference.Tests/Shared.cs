using Iris.Imaging;
using Iris.Inference.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace Iris.Inference.Tests;

/// <summary>Paths of the repository and of the photographs the pinned packages ship.</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    public static string NodeModules => Path.Combine(Root, "node_modules");

    public static string MetroNorth => Path.Combine(NodeModules, "clarifai-nodejs-grpc/tests/assets/metro-north.jpg");

    public static string Samples => Path.Combine(NodeModules, "@vladmandic/human/assets/samples.jpg");

    public static string FaceDetect => Path.Combine(NodeModules, "@vladmandic/human/assets/screenshot-facedetect.jpg");

    public static string FaceId => Path.Combine(NodeModules, "@vladmandic/human/assets/screenshot-faceid.jpg");

    /// <summary>A 3-D avatar standing on a dark floor grid, with a small webcam inset top right (800 × 653).</summary>
    public static string Vrm => Path.Combine(NodeModules, "@vladmandic/human/assets/screenshot-vrm.jpg");

    /// <summary>
    /// Converted models shared by every test run on the machine (and by the server tests): conversion happens once,
    /// later runs reuse it by content hash. <c>IRIS_MODELS_DIR</c> when set (run-tests sets it), else a temp folder.
    /// </summary>
    public static string ModelsDir => Iris.Testing.TestModels.Dir;

    /// <summary>Decodes as the predictor decodes for a model with these <c>DecodeMinSide</c> and <c>DecodeFitSide</c>.</summary>
    public static DecodedImage Decode(string path, int minSide = 0, int fitSide = 0) =>
        ImageDecoder.TryDecode(File.ReadAllBytes(path), minSide, fitSide, out var error) ?? throw new InvalidOperationException($"{path}: {error}");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Iris.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>One engine for the quality gates: networks load lazily, once per test run.</summary>
public sealed class EngineFixture : IAsyncLifetime
{
    public InferenceEngine Engine { get; } = NewEngine(new InferenceOptions());

    public static InferenceEngine NewEngine(InferenceOptions options)
    {
        options.PackagesDir = Repo.NodeModules;
        options.ModelsDir = Repo.ModelsDir;
        return new InferenceEngine(options, new ModelSources(options, Repo.ModelsDir), NullLogger<InferenceEngine>.Instance);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Engine.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class EngineCollection : ICollectionFixture<EngineFixture>
{
    public const string Name = "engine";
}
