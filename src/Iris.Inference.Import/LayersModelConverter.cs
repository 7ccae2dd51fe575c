using System.Text.Json;
using System.Text.Json.Nodes;

namespace Iris.Inference.Import;

/// <summary>
/// Converts a TensorFlow.js layers model (Keras JSON topology, functional or sequential) to ONNX, layer by
/// layer. Every layer must be called once (no shared layers) and use channels_last.
/// </summary>
internal sealed class LayersModelConverter
{
    private readonly TfjsModelFiles _model;
    private readonly OnnxEmitter _e = new();
    private readonly NnOps _nn;
    private readonly Dictionary<string, Value> _outputs = new(StringComparer.Ordinal);

    public LayersModelConverter(TfjsModelFiles model)
    {
        _model = model;
        _nn = new NnOps(_e);
    }

    public ConversionResult Convert(IReadOnlyList<string> extraOutputs, CancellationToken ct)
    {
        var topology = _model.Topology;
        var config = (topology["model_config"] ?? topology) as JsonObject
            ?? throw new TfjsImportException("Layers model has no model_config");
        var className = config["class_name"]?.GetValue<string>() ?? "Model";
        var body = config["config"];
        var sequential = string.Equals(className, "Sequential", StringComparison.Ordinal);
        if (!sequential && className is not ("Model" or "Functional"))
        {
            throw TfjsImportException.Unsupported("model class", className, "model_config");
        }

        var layers = (body is JsonArray arr ? arr : body?["layers"] as JsonArray)
            ?? throw new TfjsImportException("Layers model config has no layers");

        var outputNames = sequential
            ? [layers[^1]!["name"]?.GetValue<string>() ?? layers[^1]!["config"]!["name"]!.GetValue<string>()]
            : (body!["output_layers"] as JsonArray ?? []).Select(o => o![0]!.GetValue<string>()).ToList();
        outputNames.AddRange(extraOutputs);
        _e.Reserve(outputNames);

        var inputs = new List<TensorInfo>();
        string? previous = null;
        foreach (var item in layers)
        {
            ct.ThrowIfCancellationRequested();
            var layer = item!.AsObject();
            var cls = layer["class_name"]!.GetValue<string>();
            var cfg = layer["config"] as JsonObject ?? [];
            var name = layer["name"]?.GetValue<string>() ?? cfg["name"]!.GetValue<string>();
            List<Value> args;
            if (string.Equals(cls, "InputLayer", StringComparison.Ordinal) || (sequential && previous is null))
            {
                var shape = (cfg["batch_input_shape"] ?? cfg["batch_shape"]) as JsonArray
                    ?? throw new TfjsImportException($"Layer '{name}' declares no batch_input_shape");
                var dims = shape.Select(d => d is null ? -1L : d.GetValue<long>()).ToArray();
                var dtype = cfg["dtype"]?.GetValue<string>() is "int32" ? DType.Int32 : DType.Float32;
                var inputName = string.Equals(cls, "InputLayer", StringComparison.Ordinal) ? name : name + "_input";
                var input = _e.AddInput(inputName, dtype, dims);
                inputs.Add(new TensorInfo(input.Name, inputName, dims, dtype.ToString().ToLowerInvariant()));
                if (string.Equals(cls, "InputLayer", StringComparison.Ordinal))
                {
                    _outputs[name] = input;
                    previous = name;
                    continue;
                }

                args = [input];
            }
            else if (sequential)
            {
                args = [_outputs[previous!]];
            }
            else
            {
                args = InboundArgs(layer, name, cls);
            }

            _outputs[name] = ConvertLayer(cls, name, cfg, args);
            previous = name;
        }

        var outputs = new List<TensorInfo>();
        foreach (var extra in extraOutputs)
        {
            if (!_outputs.ContainsKey(extra))
            {
                throw new TfjsImportException($"Requested output '{extra}' is not a layer of the model");
            }
        }

        foreach (var o in outputNames)
        {
            var v = _outputs[o];
            _e.AddOutput(o, v);
            outputs.Add(new TensorInfo(_e.Outputs[^1].Name, o, null, v.Type.ToString().ToLowerInvariant()));
        }

        var model = _e.Build("tfjs-layers-model", [new("source_format", "tfjs layers-model")]);
        return new ConversionResult(model, inputs, outputs);
    }

    private List<Value> InboundArgs(JsonObject layer, string name, string cls)
    {
        var inbound = layer["inbound_nodes"] as JsonArray ?? [];
        if (inbound.Count != 1)
        {
            throw TfjsImportException.Unsupported("layer", cls, name, $"called {inbound.Count} times (shared layers are not supported)");
        }

        var args = new List<Value>();
        foreach (var a in inbound[0]!.AsArray())
        {
            var src = a![0]!.GetValue<string>();
            if (a[1]!.GetValue<int>() != 0 || a[2]!.GetValue<int>() != 0)
            {
                throw TfjsImportException.Unsupported("layer", cls, name, "inbound tensor from a shared layer call");
            }

            args.Add(_outputs.TryGetValue(src, out var v) ? v : throw new TfjsImportException($"Layer '{name}' reads '{src}' before it is defined"));
        }

        return args;
    }

    private Value ConvertLayer(string cls, string name, JsonObject cfg, List<Value> args)
    {
        var x = args[0];
        var format = cfg["data_format"]?.GetValue<string>();
        if (format is not null && !string.Equals(format, "channels_last", StringComparison.Ordinal))
        {
            throw TfjsImportException.Unsupported("layer", cls, name, $"data_format {format}");
        }

        switch (cls)
        {
            case "Conv2D":
            {
                var kernel = W(name, "kernel")!;
                var groups = cfg["groups"]?.GetValue<long>() ?? 1;
                var y = _nn.Conv(x, kernel, Bias(name, cfg), Pair(cfg, "strides", 1), Pair(cfg, "dilation_rate", 1), Pad(cfg), groups, name);
                return Act(y, cfg, name);
            }

            case "DepthwiseConv2D":
            {
                var y = _nn.DepthwiseConv(x, W(name, "depthwise_kernel")!, Bias(name, cfg), Pair(cfg, "strides", 1), Pair(cfg, "dilation_rate", 1), Pad(cfg), name);
                return Act(y, cfg, name);
            }

            case "SeparableConv2D":
            {
                var dw = _nn.DepthwiseConv(x, W(name, "depthwise_kernel")!, null, Pair(cfg, "strides", 1), Pair(cfg, "dilation_rate", 1), Pad(cfg), name + "/depthwise");
                var y = _nn.Conv(dw, W(name, "pointwise_kernel")!, Bias(name, cfg), [1, 1], [1, 1], new Padding(PadMode.Valid), 1, name);
                return Act(y, cfg, name);
            }

            case "BatchNormalization":
                return BatchNorm(x, name, cfg);
            case "Activation":
                return Activation(x, cfg["activation"], name, cls);
            case "ReLU":
            {
                var slope = cfg["negative_slope"]?.GetValue<double>() ?? 0;
                var threshold = cfg["threshold"]?.GetValue<double>() ?? 0;
                if (slope != 0 || threshold != 0)
                {
                    throw TfjsImportException.Unsupported("layer", cls, name, "negative_slope/threshold");
                }

                var max = cfg["max_value"]?.GetValue<double>();
                return max is null ? _nn.Unary("Relu", x, name) : _nn.Clip(x, 0f, (float)max.Value, name);
            }

            case "LeakyReLU":
                return _nn.Activation(x, "LeakyRelu", name, (float)(cfg["alpha"]?.GetValue<double>() ?? 0.3));
            case "Softmax":
                return _nn.Softmax(x, cfg["axis"]?.GetValue<long>() ?? -1, name);
            case "ZeroPadding2D":
            {
                var (t, b, l, r) = ZeroPadding(cfg["padding"]);
                var pads = new long[4, 2] { { 0, 0 }, { t, b }, { l, r }, { 0, 0 } };
                return _nn.Pad(x, pads, null, name);
            }

            case "Add":
                return _nn.Nary("Sum", args, name);
            case "Multiply":
                return args.Skip(1).Aggregate(x, (acc, v) => _nn.Binary("Mul", acc, v, name));
            case "Maximum":
                return _nn.Nary("Max", args, name);
            case "Minimum":
                return _nn.Nary("Min", args, name);
            case "Average":
                return _nn.Nary("Mean", args, name);
            case "Concatenate":
                return _nn.Concat(args, cfg["axis"]?.GetValue<long>() ?? -1, name);
            case "MaxPooling2D":
            case "AveragePooling2D":
            {
                var pool = Pair(cfg, "pool_size", 2);
                var strides = cfg["strides"] is null || cfg["strides"]!.GetValueKind() == JsonValueKind.Null ? pool : Pair(cfg, "strides", 1);
                var op = string.Equals(cls, "MaxPooling2D", StringComparison.Ordinal) ? "MaxPool" : "AveragePool";
                return _nn.Pool(op, x, pool, strides, Pad(cfg), name);
            }

            case "GlobalAveragePooling2D":
            case "GlobalMaxPooling2D":
            {
                var op = string.Equals(cls, "GlobalAveragePooling2D", StringComparison.Ordinal) ? "ReduceMean" : "ReduceMax";
                return _nn.Reduce(op, x, [1, 2], cfg["keepdims"]?.GetValue<bool>() ?? false, name);
            }

            case "Dropout":
            case "SpatialDropout2D":
            case "GaussianNoise":
            case "GaussianDropout":
            case "AlphaDropout":
                // Inference: identity.
                return x;
            case "Flatten":
            {
                var y = _e.Emit("Flatten", [_e.Natural(x)], name, Attr.Int("axis", 1))[0];
                return _e.Result(y, Layout.Natural, x.Type, 2);
            }

            case "Dense":
            {
                var y = _nn.MatMul(x, _e.Constant(W(name, "kernel")!, name + "/kernel"), name + "/matmul");
                var bias = Bias(name, cfg);
                if (bias is not null)
                {
                    y = _nn.AddBias(y, bias, name + "/bias_add");
                }

                return Act(y, cfg, name);
            }

            default:
                throw TfjsImportException.Unsupported("layer", cls, name);
        }
    }

    private Value BatchNorm(Value x, string name, JsonObject cfg)
    {
        var axis = cfg["axis"] is JsonArray a ? a[0]!.GetValue<long>() : cfg["axis"]?.GetValue<long>() ?? -1;
        if (axis != -1 && !(x.Rank > 0 && axis == x.Rank - 1))
        {
            throw TfjsImportException.Unsupported("layer", "BatchNormalization", name, $"axis {axis} (only the channel axis is supported)");
        }

        var eps = cfg["epsilon"]?.GetValue<double>() ?? 1e-3;
        var mean = W(name, "moving_mean")!;
        var variance = W(name, "moving_variance")!;
        var gamma = (cfg["scale"]?.GetValue<bool>() ?? true) ? W(name, "gamma") : null;
        var beta = (cfg["center"]?.GetValue<bool>() ?? true) ? W(name, "beta") : null;
        var c = (int)mean.Count;
        var scale = new float[c];
        var shift = new float[c];
        for (var i = 0; i < c; i++)
        {
            var s = (gamma?.Floats![i] ?? 1.0) / Math.Sqrt(variance.Floats![i] + eps);
            scale[i] = (float)s;
            shift[i] = (float)((beta?.Floats![i] ?? 0.0) - (mean.Floats![i] * s));
        }

        var scaled = _nn.Binary("Mul", x, _e.Constant(TensorData.Float([c], scale), name + "/scale"), name + "/mul");
        return _nn.Binary("Add", scaled, _e.Constant(TensorData.Float([c], shift), name + "/shift"), name);
    }

    private Value Act(Value y, JsonObject cfg, string name) => Activation(y, cfg["activation"], name + "/activation", "activation");

    private Value Activation(Value x, JsonNode? activation, string name, string cls)
    {
        var kind = activation switch
        {
            null => "linear",
            JsonObject o => o["class_name"]?.GetValue<string>() ?? o["config"]?["name"]?.GetValue<string>() ?? "?",
            _ => activation.GetValue<string>(),
        };
        try
        {
            return kind is "linear" or "relu" or "relu6" or "sigmoid" or "tanh" or "elu" or "selu" or "softplus" or "swish" or "silu" or "softmax"
                ? _nn.Activation(x, kind, name)
                : throw new NotSupportedException(kind);
        }
        catch (NotSupportedException)
        {
            throw TfjsImportException.Unsupported("activation", kind, name, $"in {cls}");
        }
    }

    private TensorData? Bias(string layer, JsonObject cfg) =>
        (cfg["use_bias"]?.GetValue<bool>() ?? true) ? W(layer, "bias") : null;

    /// <summary>A layer weight by its tfjs name (<c>layer/param</c>, possibly under a scope prefix).</summary>
    private TensorData? W(string layer, string param)
    {
        var key = $"{layer}/{param}";
        if (_model.Weights.TryGetValue(key, out var t))
        {
            return t;
        }

        var matches = _model.Weights.Keys.Where(k => k.EndsWith("/" + key, StringComparison.Ordinal)).ToList();
        if (matches.Count == 1)
        {
            return _model.Weights[matches[0]];
        }

        throw new TfjsImportException($"Weight '{key}' of layer '{layer}' not found in the weights manifest");
    }

    private static long[] Pair(JsonObject cfg, string key, long fallback)
    {
        var v = cfg[key];
        return v switch
        {
            null => [fallback, fallback],
            JsonArray a => [a[0]!.GetValue<long>(), a[1]!.GetValue<long>()],
            _ when v.GetValueKind() == JsonValueKind.Null => [fallback, fallback],
            _ => [v.GetValue<long>(), v.GetValue<long>()],
        };
    }

    private static Padding Pad(JsonObject cfg) =>
        (cfg["padding"]?.GetValue<string>() ?? "valid") switch
        {
            "same" => new Padding(PadMode.Same),
            "valid" => new Padding(PadMode.Valid),
            var p => throw new TfjsImportException($"Unsupported padding '{p}' in layer '{cfg["name"]}'"),
        };

    private static (long Top, long Bottom, long Left, long Right) ZeroPadding(JsonNode? p)
    {
        switch (p)
        {
            case null:
                return (1, 1, 1, 1);
            case JsonArray a when a[0] is JsonArray:
                return (a[0]![0]!.GetValue<long>(), a[0]![1]!.GetValue<long>(), a[1]![0]!.GetValue<long>(), a[1]![1]!.GetValue<long>());
            case JsonArray a:
                return (a[0]!.GetValue<long>(), a[0]!.GetValue<long>(), a[1]!.GetValue<long>(), a[1]!.GetValue<long>());
            default:
                var v = p.GetValue<long>();
                return (v, v, v, v);
        }
    }
}
