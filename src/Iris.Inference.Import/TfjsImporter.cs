using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;

namespace Iris.Inference.Import;

/// <summary>
/// Converts TensorFlow.js models (graph-model and layers-model, plain <c>model.json</c> + shards or the
/// browserify-wrapped <c>.min.js</c> bundles) to ONNX (IR 8, opset 18) for ONNX Runtime.
/// </summary>
public static class TfjsImporter
{
    /// <summary>Bumped whenever conversion output changes, so cached conversions are not reused across versions.</summary>
    public const string ConverterVersion = "1";

    /// <summary>
    /// Converts <paramref name="modelJsonPath"/> and writes <paramref name="outputOnnxPath"/>. The file is written
    /// to a temporary name and moved into place, so on failure nothing (and no partial file) is left behind.
    /// </summary>
    /// <exception cref="TfjsImportException">The model is malformed or uses an unsupported op or layer.</exception>
    public static Task<ImportResult> ImportAsync(
        string modelJsonPath,
        string outputOnnxPath,
        ImportOptions? options = null,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelJsonPath);
        ArgumentException.ThrowIfNullOrEmpty(outputOnnxPath);
        options ??= new ImportOptions();
        return Task.Run(() => Import(modelJsonPath, outputOnnxPath, options, ct), ct);
    }

    private static ImportResult Import(string modelPath, string outputPath, ImportOptions options, CancellationToken ct)
    {
        if (!File.Exists(modelPath))
        {
            throw new TfjsImportException($"Model file '{modelPath}' not found");
        }

        var root = TfjsModelFiles.ReadModelJson(modelPath);
        var files = TfjsModelFiles.ListFiles(modelPath, root);
        var hash = ContentHash(files, options);
        outputPath = Path.GetFullPath(outputPath);

        if (options.Cache?.TryGet(hash) is { } cached)
        {
            AtomicFile.Copy(cached.ModelPath, outputPath);
            return cached.Result with { OutputPath = outputPath, FromCache = true };
        }

        var model = TfjsModelFiles.Load(modelPath, root, ct);
        ct.ThrowIfCancellationRequested();
        var conversion = model.Format == TfjsFormat.GraphModel
            ? new GraphModelConverter(model).Convert(options.IntermediateOutputs, ct)
            : new LayersModelConverter(model).Convert(options.IntermediateOutputs, ct);
        conversion.Model.MetadataProps.Add(new Onnx.StringStringEntryProto { Key = "content_sha256", Value = hash });
        var bytes = conversion.Model.ToByteArray();
        ct.ThrowIfCancellationRequested();
        AtomicFile.Write(outputPath, bytes);

        var result = new ImportResult
        {
            OutputPath = outputPath,
            SourceFormat = model.Format == TfjsFormat.GraphModel ? "graph-model" : "layers-model",
            Inputs = conversion.Inputs,
            Outputs = conversion.Outputs,
            ContentHash = hash,
            NodeCount = conversion.Model.Graph.Node.Count,
        };
        options.Cache?.Store(hash, outputPath, result);
        return result;
    }

    private static string ContentHash(IReadOnlyList<string> files, ImportOptions options)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"iris-tfjs-import/{ConverterVersion}\n"));
        foreach (var extra in options.IntermediateOutputs)
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"output:{extra}\n"));
        }

        var buffer = new byte[1 << 20];
        foreach (var file in files)
        {
            using var stream = File.OpenRead(file);
            sha.AppendData(BitConverter.GetBytes(stream.Length));
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var dir = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void Copy(string source, string path)
    {
        var dir = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.Copy(source, temp);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
