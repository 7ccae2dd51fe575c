namespace Iris.Inference.Import.Tests;

/// <summary>Locates the repository (the directory holding Iris.slnx) and its npm packages.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Iris.slnx not found above {AppContext.BaseDirectory}");
    });

    public static string Root => RootLazy.Value;

    public static string NodeModules => Path.Combine(Root, "node_modules");

    public static string HumanModels => Path.Combine(NodeModules, "@vladmandic", "human-models", "models");

    public static string NsfwModels => Path.Combine(NodeModules, "nsfwjs", "dist", "models");

    public static string MetroNorth => Path.Combine(NodeModules, "clarifai-nodejs-grpc", "tests", "assets", "metro-north.jpg");

    public static string Faces => Path.Combine(NodeModules, "@vladmandic", "human", "assets", "samples.jpg");

    public static string ParityScript => Path.Combine(Root, "tests", "parity", "tfjs-run.js");

    /// <summary>Fails (never skips) when a file the tests need is missing.</summary>
    public static string Require(string path)
    {
        Assert.True(File.Exists(path), $"Required file missing: {path} (run `npm ci --ignore-scripts` at the repo root)");
        return path;
    }
}
