using Iris.Core.Configuration;

namespace Iris.Inference;

/// <summary>Settings of the inference subsystem, bound from <c>IRIS_*</c> environment variables.</summary>
public sealed class InferenceOptions
{
    /// <summary>
    /// The <c>node_modules</c> directory holding the pinned model packages (<c>IRIS_PACKAGES_DIR</c>). Default: the
    /// nearest <c>node_modules</c> walking up from the executable's directory, then from the current directory.
    /// </summary>
    public string? PackagesDir { get; set; }

    /// <summary>Where converted models are cached by content hash (<c>IRIS_MODELS_DIR</c>); default <c>&lt;data-dir&gt;/models</c>.</summary>
    public string? ModelsDir { get; set; }

    /// <summary>
    /// Memory the loaded networks may take, in bytes (<c>IRIS_MODEL_MEMORY_MB</c>, in MiB); default 3 GiB. When a load
    /// would exceed it the least recently used unpinned networks are unloaded first.
    /// </summary>
    public long MemoryBudgetBytes { get; set; } = 3L * 1024 * 1024 * 1024;

    /// <summary>How long a predict waits for a loading model before answering 21355 MODEL_LOADING (<c>IRIS_MODEL_LOAD_WAIT_MS</c>); default 60 s.</summary>
    public TimeSpan LoadWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest batch one network run takes (<c>IRIS_BATCH_MAX_SIZE</c>); default 8.</summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>
    /// How long the batcher waits for more requests after the first one (<c>IRIS_BATCH_MAX_DELAY_MS</c>); default 0:
    /// a free network runs at once and batches form from what queues while it is busy.
    /// </summary>
    public TimeSpan MaxBatchDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Requests queued per network before new ones get 21354 MODEL_BUSY_PLEASE_RETRY (<c>IRIS_BATCH_QUEUE</c>); default 256.</summary>
    public int QueueCapacity { get; set; } = 256;

    /// <summary>ONNX Runtime intra-op threads per session (<c>IRIS_ORT_THREADS</c>); default the processor count (2 on a 2-core machine).</summary>
    public int IntraOpThreads { get; set; } = Math.Max(1, Environment.ProcessorCount);

    public static InferenceOptions FromEnvironment()
    {
        var options = new InferenceOptions();
        options.PackagesDir = EnvSettings.String("IRIS_PACKAGES_DIR") ?? options.PackagesDir;
        options.ModelsDir = EnvSettings.String("IRIS_MODELS_DIR") ?? options.ModelsDir;
        if (EnvSettings.Long("IRIS_MODEL_MEMORY_MB") is { } mb)
        {
            options.MemoryBudgetBytes = mb * 1024 * 1024;
        }

        if (EnvSettings.Long("IRIS_MODEL_LOAD_WAIT_MS") is { } wait)
        {
            options.LoadWait = TimeSpan.FromMilliseconds(wait);
        }

        if (EnvSettings.Long("IRIS_BATCH_MAX_SIZE") is { } size)
        {
            options.MaxBatchSize = (int)Math.Clamp(size, 1, 128);
        }

        if (EnvSettings.Long("IRIS_BATCH_MAX_DELAY_MS") is { } delay)
        {
            options.MaxBatchDelay = TimeSpan.FromMilliseconds(delay);
        }

        if (EnvSettings.Long("IRIS_BATCH_QUEUE") is { } queue)
        {
            options.QueueCapacity = (int)Math.Max(1, queue);
        }

        if (EnvSettings.Long("IRIS_ORT_THREADS") is { } threads)
        {
            options.IntraOpThreads = (int)Math.Max(1, threads);
        }

        return options;
    }

    /// <summary>The package directory to use: the option, else the nearest <c>node_modules</c> above the executable or the current directory.</summary>
    public string ResolvePackagesDir()
    {
        if (!string.IsNullOrEmpty(PackagesDir))
        {
            return Path.GetFullPath(PackagesDir);
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "node_modules");
                if (Directory.Exists(Path.Combine(candidate, "@vladmandic", "human-models")))
                {
                    return candidate;
                }
            }
        }

        throw new InvalidOperationException("No node_modules with the pinned model packages found above the executable or the current directory; set IRIS_PACKAGES_DIR.");
    }

}
