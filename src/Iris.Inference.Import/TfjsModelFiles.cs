using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Iris.Inference.Import;

internal enum TfjsFormat
{
    GraphModel,
    LayersModel,
}

/// <summary>
/// A TensorFlow.js model read from disk: the model.json (or its browserify-wrapped <c>.min.js</c> form) and
/// every weight tensor of its manifest, dequantized to float32/int32.
/// </summary>
internal sealed class TfjsModelFiles
{
    private TfjsModelFiles(JsonObject root, TfjsFormat format, IReadOnlyDictionary<string, TensorData> weights, IReadOnlyList<string> files)
    {
        Root = root;
        Format = format;
        Weights = weights;
        Files = files;
    }

    public JsonObject Root { get; }

    public TfjsFormat Format { get; }

    public JsonNode Topology => Root["modelTopology"] ?? throw new TfjsImportException("model.json has no modelTopology");

    public IReadOnlyDictionary<string, TensorData> Weights { get; }

    /// <summary>The model file first, then every weight shard in manifest order (the content-hash inputs).</summary>
    public IReadOnlyList<string> Files { get; }

    public static JsonObject ReadModelJson(string path)
    {
        var text = File.ReadAllText(path);
        JsonNode? node;
        if (path.EndsWith(".js", StringComparison.OrdinalIgnoreCase))
        {
            node = JsLiteralParser.ParseBundleExport(text, path);
        }
        else
        {
            try
            {
                node = JsonNode.Parse(text);
            }
            catch (JsonException e)
            {
                throw new TfjsImportException($"'{path}' is not valid JSON: {e.Message}", e);
            }
        }

        return node as JsonObject ?? throw new TfjsImportException($"'{path}' does not hold a model object");
    }

    /// <summary>Model file plus the weight files its manifest names, resolved on disk (no content read beyond the model file).</summary>
    public static IReadOnlyList<string> ListFiles(string modelPath, JsonObject root)
    {
        var files = new List<string> { Path.GetFullPath(modelPath) };
        var dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        foreach (var group in Manifest(root))
        {
            foreach (var p in group["paths"]!.AsArray())
            {
                files.Add(ResolveShard(dir, p!.GetValue<string>()));
            }
        }

        return files;
    }

    public static TfjsModelFiles Load(string modelPath, JsonObject root, CancellationToken ct)
    {
        var format = DetectFormat(root);
        var files = ListFiles(modelPath, root);
        var weights = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        var fileIndex = 1;
        foreach (var group in Manifest(root))
        {
            ct.ThrowIfCancellationRequested();
            var paths = group["paths"]!.AsArray();
            using var buffer = new MemoryStream();
            for (var i = 0; i < paths.Count; i++)
            {
                var bytes = ReadShard(files[fileIndex++]);
                buffer.Write(bytes);
            }

            var data = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            var offset = 0;
            foreach (var spec in group["weights"]!.AsArray())
            {
                var w = spec!.AsObject();
                var name = w["name"]!.GetValue<string>();
                var shape = w["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                var dtype = w["dtype"]!.GetValue<string>();
                var n = checked((int)ShapeUtil.Numel(shape));
                var quant = w["quantization"] as JsonObject;
                var (tensor, size) = Decode(name, shape, dtype, quant, data[offset..], n);
                offset += size;
                weights[name] = tensor;
            }

            if (offset != data.Length)
            {
                throw new TfjsImportException(
                    $"Weight group [{string.Join(", ", paths.Select(p => p!.GetValue<string>()))}] holds {data.Length} bytes but its manifest describes {offset}");
            }
        }

        return new TfjsModelFiles(root, format, weights, files);
    }

    private static TfjsFormat DetectFormat(JsonObject root)
    {
        var format = root["format"]?.GetValue<string>();
        if (string.Equals(format, "graph-model", StringComparison.Ordinal))
        {
            return TfjsFormat.GraphModel;
        }

        if (string.Equals(format, "layers-model", StringComparison.Ordinal))
        {
            return TfjsFormat.LayersModel;
        }

        if (format is not null)
        {
            throw new TfjsImportException($"Unsupported model format '{format}' (expected graph-model or layers-model)");
        }

        // Older converters omit "format": tell the two apart by the topology's shape.
        var topo = root["modelTopology"] as JsonObject;
        if (topo?["node"] is not null)
        {
            return TfjsFormat.GraphModel;
        }

        if (topo?["model_config"] is not null || topo?["class_name"] is not null)
        {
            return TfjsFormat.LayersModel;
        }

        throw new TfjsImportException("Cannot tell the model format: no 'format' field and the topology is neither a GraphDef nor a Keras model");
    }

    private static IEnumerable<JsonObject> Manifest(JsonObject root) =>
        (root["weightsManifest"] as JsonArray ?? []).Select(g => g!.AsObject());

    private static string ResolveShard(string dir, string relative)
    {
        var plain = Path.Combine(dir, relative);
        if (File.Exists(plain))
        {
            return plain;
        }

        var wrapped = plain + ".min.js";
        if (File.Exists(wrapped))
        {
            return wrapped;
        }

        throw new TfjsImportException($"Weight file '{relative}' not found next to the model (looked for '{plain}' and '{wrapped}')");
    }

    private static byte[] ReadShard(string path)
    {
        if (!path.EndsWith(".js", StringComparison.OrdinalIgnoreCase))
        {
            return File.ReadAllBytes(path);
        }

        var node = JsLiteralParser.ParseBundleExport(File.ReadAllText(path), path);
        var b64 = node?.GetValue<string>() ?? throw new TfjsImportException($"'{path}' does not export a base64 string");
        return Convert.FromBase64String(b64);
    }

    private static (TensorData Tensor, int Bytes) Decode(string name, long[] shape, string dtype, JsonObject? quant, ReadOnlySpan<byte> data, int n)
    {
        var isFloat = dtype switch
        {
            "float32" => true,
            "int32" => false,
            "bool" => false,
            _ => throw new TfjsImportException($"Weight '{name}' has unsupported dtype '{dtype}'"),
        };
        if (quant is null)
        {
            var size = string.Equals(dtype, "bool", StringComparison.Ordinal) ? n : n * 4;
            Need(name, data, size);
            if (string.Equals(dtype, "bool", StringComparison.Ordinal))
            {
                return (new TensorData(DType.Bool, shape, null, data[..n].ToArray().Select(b => (long)b).ToArray()), size);
            }

            if (isFloat)
            {
                var f = new float[n];
                data[..size].CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(f.AsSpan()));
                return (TensorData.Float(shape, f), size);
            }

            var ints = new long[n];
            for (var i = 0; i < n; i++)
            {
                ints[i] = BitConverter.ToInt32(data.Slice(i * 4, 4));
            }

            return (new TensorData(DType.Int32, shape, null, ints), size);
        }

        var qtype = quant["dtype"]?.GetValue<string>() ?? throw new TfjsImportException($"Weight '{name}' quantization has no dtype");
        double[] values;
        int bytes;
        switch (qtype)
        {
            case "uint8":
            case "uint16":
            {
                var width = string.Equals(qtype, "uint8", StringComparison.Ordinal) ? 1 : 2;
                bytes = n * width;
                Need(name, data, bytes);
                var scale = quant["scale"]!.GetValue<double>();
                var min = quant["min"]!.GetValue<double>();
                values = new double[n];
                for (var i = 0; i < n; i++)
                {
                    double q = width == 1 ? data[i] : BitConverter.ToUInt16(data.Slice(i * 2, 2));
                    values[i] = (q * scale) + min;
                }

                break;
            }

            case "float16":
                bytes = n * 2;
                Need(name, data, bytes);
                values = new double[n];
                for (var i = 0; i < n; i++)
                {
                    values[i] = (double)BitConverter.ToHalf(data.Slice(i * 2, 2));
                }

                break;
            default:
                throw new TfjsImportException($"Weight '{name}' has unsupported quantization dtype '{qtype}'");
        }

        if (isFloat)
        {
            return (TensorData.Float(shape, values.Select(v => (float)v).ToArray()), bytes);
        }

        // Quantized integer weights: tfjs rounds back to the nearest integer.
        return (new TensorData(DType.Int32, shape, null, values.Select(v => (long)Math.Round(v)).ToArray()), bytes);
    }

    private static void Need(string name, ReadOnlySpan<byte> data, int size)
    {
        if (data.Length < size)
        {
            throw new TfjsImportException(string.Create(CultureInfo.InvariantCulture, $"Weight '{name}' needs {size} bytes but the shards end after {data.Length}"));
        }
    }
}
