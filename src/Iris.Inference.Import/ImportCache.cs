using System.Text.Json;

namespace Iris.Inference.Import;

/// <summary>
/// A directory of converted models keyed by content hash (converter version + options + every model and
/// weight byte): importing the same files again copies the cached ONNX file instead of converting.
/// Entries are written atomically, so concurrent importers at worst convert twice.
/// </summary>
public sealed class ImportCache
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public ImportCache(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    internal (string ModelPath, ImportResult Result)? TryGet(string hash)
    {
        var model = Path.Combine(Directory, hash + ".onnx");
        var meta = Path.Combine(Directory, hash + ".json");
        if (!File.Exists(model) || !File.Exists(meta))
        {
            return null;
        }

        try
        {
            var result = JsonSerializer.Deserialize<ImportResult>(File.ReadAllText(meta), Json);
            return result is null ? null : (model, result);
        }
        catch (JsonException)
        {
            // A damaged entry is a miss; the next store overwrites it.
            return null;
        }
    }

    internal void Store(string hash, string convertedPath, ImportResult result)
    {
        System.IO.Directory.CreateDirectory(Directory);
        AtomicFile.Copy(convertedPath, Path.Combine(Directory, hash + ".onnx"));
        var meta = JsonSerializer.SerializeToUtf8Bytes(result with { OutputPath = string.Empty, FromCache = false }, Json);
        AtomicFile.Write(Path.Combine(Directory, hash + ".json"), meta);
    }
}
