using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Iris.Inference.Import;

/// <summary>
/// Converts a TensorFlow.js graph model (a GraphDef in JSON) to ONNX, node by node, in TensorFlow semantics.
/// Consts come from the weights manifest (or the node's inline tensor); ops whose parameters ONNX needs as
/// attributes (strides, perms, axes, pads, slices) require those inputs to be constants.
/// </summary>
internal sealed class GraphModelConverter
{
    private static readonly HashSet<string> Supported = new(StringComparer.Ordinal)
    {
        "Const", "Placeholder", "Identity", "NoOp", "StopGradient", "Snapshot",
        "_FusedConv2D", "Conv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "Conv2DBackpropInput",
        "_FusedMatMul", "MatMul", "BiasAdd",
        "Add", "AddV2", "AddN", "Sub", "Mul", "RealDiv", "Div", "Maximum", "Minimum", "FloorDiv", "FloorMod",
        "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual",
        "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Softmax", "Exp", "Sqrt", "Rsqrt", "Neg", "Abs",
        "MaxPool", "AvgPool", "Mean", "Max", "Min", "Sum", "Prod",
        "Pad", "PadV2", "Reshape", "Squeeze", "Transpose", "ConcatV2", "SplitV", "Split", "StridedSlice", "GatherV2",
        "ExpandDims", "Cast", "TopKV2", "SparseToDense", "ResizeBilinear",
    };

    private readonly TfjsModelFiles _model;
    private readonly OnnxEmitter _e = new();
    private readonly NnOps _nn;
    private readonly Dictionary<string, JsonObject> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);

    public GraphModelConverter(TfjsModelFiles model)
    {
        _model = model;
        _nn = new NnOps(_e);
        foreach (var n in model.Topology["node"]!.AsArray())
        {
            var node = n!.AsObject();
            _nodes[node["name"]!.GetValue<string>()] = node;
        }
    }

    public ConversionResult Convert(IReadOnlyList<string> extraOutputs, CancellationToken ct)
    {
        var signature = (_model.Root["signature"] ?? _model.Root["userDefinedMetadata"]?["signature"]) as JsonObject;
        var outputs = new List<(string OnnxName, string Tensor)>();
        if (signature?["outputs"] is JsonObject sigOut && sigOut.Count > 0)
        {
            foreach (var (key, v) in sigOut)
            {
                outputs.Add((key, v?["name"]?.GetValue<string>() ?? key));
            }
        }
        else
        {
            var consumed = _nodes.Values.SelectMany(Inputs).Select(t => NodeOf(t)).ToHashSet(StringComparer.Ordinal);
            foreach (var n in _nodes.Values)
            {
                var name = n["name"]!.GetValue<string>();
                var op = Op(n);
                if (!consumed.Contains(name) && op is not ("Const" or "NoOp" or "Placeholder"))
                {
                    outputs.Add((name, name));
                }
            }
        }

        foreach (var extra in extraOutputs)
        {
            if (!_nodes.ContainsKey(NodeOf(extra)))
            {
                throw new TfjsImportException($"Requested output '{extra}' is not a node of the graph");
            }

            outputs.Add((extra, extra));
        }

        _e.Reserve(outputs.Select(o => o.OnnxName));
        var order = TopoOrder(outputs.Select(o => NodeOf(o.Tensor)));
        foreach (var node in order)
        {
            var op = Op(node);
            if (!Supported.Contains(op))
            {
                throw TfjsImportException.Unsupported("op", op, Name(node));
            }
        }

        // Inputs in signature order when there is one, so the ONNX inputs are predictable.
        var inputNames = new Dictionary<string, string>(StringComparer.Ordinal);
        if (signature?["inputs"] is JsonObject sigIn)
        {
            foreach (var (key, v) in sigIn)
            {
                inputNames[NodeOf(v?["name"]?.GetValue<string>() ?? key)] = key;
            }
        }

        var inputs = new List<TensorInfo>();
        foreach (var node in order)
        {
            ct.ThrowIfCancellationRequested();
            if (string.Equals(Op(node), "Placeholder", StringComparison.Ordinal))
            {
                var name = Name(node);
                var onnxName = inputNames.GetValueOrDefault(name, name);
                var shape = (node["attr"]?["shape"]?["shape"]?["dim"] as JsonArray)?
                    .Select(d => long.Parse(d?["size"]?.ToString() ?? "-1", CultureInfo.InvariantCulture)).ToArray();
                var type = OnnxTypes.FromTf(node["attr"]?["dtype"]?["type"]?.GetValue<string>() ?? "DT_FLOAT", name);
                _values[name + ":0"] = _e.AddInput(onnxName, type, shape);
                inputs.Add(new TensorInfo(_e.Inputs[^1].Name, name, shape, type.ToString().ToLowerInvariant()));
                continue;
            }

            ConvertNode(node);
        }

        var outInfos = new List<TensorInfo>();
        foreach (var (onnxName, tensor) in outputs)
        {
            var v = Get(tensor);
            _e.AddOutput(onnxName, v);
            outInfos.Add(new TensorInfo(_e.Outputs[^1].Name, tensor, null, v.Type.ToString().ToLowerInvariant()));
        }

        var model = _e.Build("tfjs-graph-model", [new("source_format", "tfjs graph-model")]);
        return new ConversionResult(model, inputs, outInfos);
    }

    private void ConvertNode(JsonObject node)
    {
        var name = Name(node);
        var op = Op(node);
        var ins = Inputs(node).ToList();
        Value In(int i) => Get(ins[i]);
        void Set(Value v, int index = 0) => _values[$"{name}:{index}"] = v;

        switch (op)
        {
            case "Const":
                Set(_e.Constant(ConstData(node), name));
                break;
            case "Identity":
            case "StopGradient":
            case "Snapshot":
                Set(In(0));
                break;
            case "NoOp":
                break;
            case "Conv2D":
            case "_FusedConv2D":
            case "DepthwiseConv2dNative":
            case "FusedDepthwiseConv2dNative":
            {
                CheckNhwc(node);
                var filter = RequireConst(In(1), node, "filter");
                var strides = Spatial(node, "strides");
                var dilations = Spatial(node, "dilations");
                var pad = ParsePadding(node);
                var fused = op.StartsWith("_Fused", StringComparison.Ordinal) || op.StartsWith("Fused", StringComparison.Ordinal);
                var (bias, activation, extra) = fused ? FusedOps(node, ins) : (null, null, null);
                var depthwise = op.Contains("Depthwise", StringComparison.Ordinal);
                var y = depthwise
                    ? _nn.DepthwiseConv(In(0), filter, bias, strides, dilations, pad, name)
                    : _nn.Conv(In(0), filter, bias, strides, dilations, pad, 1, name);
                Set(ApplyFusedActivation(y, activation, extra, node));
                break;
            }

            case "Conv2DBackpropInput":
                CheckNhwc(node);
                Set(ConvTranspose(node, ins));
                break;
            case "_FusedMatMul":
            case "MatMul":
            {
                var a = In(0);
                var b = In(1);
                if (Bool(node, "transpose_a"))
                {
                    a = _e.Result(_e.Transpose(_e.Natural(a), [1, 0], name + "/at"), Layout.Natural, a.Type, 2);
                }

                if (Bool(node, "transpose_b"))
                {
                    b = b.Const is not null
                        ? _e.Constant(b.Const.Transpose([1, 0]), name + "/bt")
                        : _e.Result(_e.Transpose(_e.Natural(b), [1, 0], name + "/bt"), Layout.Natural, b.Type, 2);
                }

                var y = _nn.MatMul(a, b, name);
                if (string.Equals(op, "_FusedMatMul", StringComparison.Ordinal))
                {
                    var (bias, activation, extra) = FusedOps(node, ins);
                    if (bias is not null)
                    {
                        y = _nn.AddBias(y, bias, name + "/bias_add");
                    }

                    y = ApplyFusedActivation(y, activation, extra, node);
                }

                Set(y);
                break;
            }

            case "BiasAdd":
                CheckNhwc(node);
                Set(_nn.Binary("Add", In(0), In(1), name));
                break;
            case "Add":
            case "AddV2":
                Set(_nn.Binary("Add", In(0), In(1), name));
                break;
            case "Sub":
                Set(_nn.Binary("Sub", In(0), In(1), name));
                break;
            case "Mul":
                Set(_nn.Binary("Mul", In(0), In(1), name));
                break;
            case "RealDiv":
            case "Div":
                Set(_nn.Binary("Div", In(0), In(1), name));
                break;
            case "Maximum":
                Set(_nn.Binary("Max", In(0), In(1), name));
                break;
            case "Minimum":
                Set(_nn.Binary("Min", In(0), In(1), name));
                break;
            case "AddN":
                Set(_nn.Nary("Sum", ins.Select(Get).ToList(), name));
                break;
            case "Equal":
                Set(_nn.Binary("Equal", In(0), In(1), name, DType.Bool));
                break;
            case "NotEqual":
                Set(_nn.Unary("Not", _nn.Binary("Equal", In(0), In(1), name + "/eq", DType.Bool), name));
                break;
            case "Greater":
                Set(_nn.Binary("Greater", In(0), In(1), name, DType.Bool));
                break;
            case "GreaterEqual":
                Set(_nn.Binary("GreaterOrEqual", In(0), In(1), name, DType.Bool));
                break;
            case "Less":
                Set(_nn.Binary("Less", In(0), In(1), name, DType.Bool));
                break;
            case "LessEqual":
                Set(_nn.Binary("LessOrEqual", In(0), In(1), name, DType.Bool));
                break;
            case "FloorDiv":
                Set(FloorDiv(In(0), In(1), name));
                break;
            case "FloorMod":
                Set(FloorMod(In(0), In(1), name));
                break;
            case "Relu":
            case "Relu6":
            case "Sigmoid":
            case "Tanh":
            case "Elu":
                Set(_nn.Activation(In(0), op, name));
                break;
            case "LeakyRelu":
                Set(_nn.Activation(In(0), op, name, Float(node, "alpha", 0.2f)));
                break;
            case "Exp":
            case "Sqrt":
            case "Neg":
            case "Abs":
                Set(_nn.Unary(op, In(0), name));
                break;
            case "Rsqrt":
                Set(_nn.Unary("Reciprocal", _nn.Unary("Sqrt", In(0), name + "/sqrt"), name));
                break;
            case "Softmax":
                Set(_nn.Softmax(In(0), -1, name));
                break;
            case "MaxPool":
            case "AvgPool":
                CheckNhwc(node);
                Set(_nn.Pool(
                    string.Equals(op, "MaxPool", StringComparison.Ordinal) ? "MaxPool" : "AveragePool",
                    In(0),
                    Spatial(node, "ksize"),
                    Spatial(node, "strides"),
                    ParsePadding(node),
                    name));
                break;
            case "Mean":
            case "Max":
            case "Min":
            case "Sum":
            case "Prod":
            {
                var axes = RequireConst(In(1), node, "reduction indices").AsLongs();
                var onnxOp = op switch { "Mean" => "ReduceMean", "Max" => "ReduceMax", "Min" => "ReduceMin", "Sum" => "ReduceSum", _ => "ReduceProd" };
                Set(_nn.Reduce(onnxOp, In(0), axes, Bool(node, "keep_dims"), name));
                break;
            }

            case "Pad":
            case "PadV2":
            {
                var p = RequireConst(In(1), node, "paddings");
                var rank = (int)p.Shape[0];
                var pads = new long[rank, 2];
                for (var i = 0; i < rank; i++)
                {
                    pads[i, 0] = (long)p.GetDouble(i * 2);
                    pads[i, 1] = (long)p.GetDouble((i * 2) + 1);
                }

                Value? constant = null;
                if (string.Equals(op, "PadV2", StringComparison.Ordinal))
                {
                    var c = RequireConst(In(2), node, "constant_values");
                    constant = _e.Constant(c.Reshape([]), name + "/value");
                }

                Set(_nn.Pad(In(0), pads, constant, name));
                break;
            }

            case "Reshape":
            {
                var shape = In(1);
                if (shape.Const is not null)
                {
                    Set(_nn.Reshape(In(0), shape.Const.AsLongs(), name));
                }
                else
                {
                    var s64 = _e.Emit("Cast", [_e.Natural(shape)], name + "/shape64", Attr.Int("to", (long)Onnx.TensorProto.Types.DataType.Int64))[0];
                    Set(_e.Result(_e.Emit("Reshape", [_e.Natural(In(0)), s64], name)[0], Layout.Natural, In(0).Type, -1));
                }

                break;
            }

            case "Squeeze":
            {
                var dims = Ints(node, "squeeze_dims");
                var x = In(0);
                var inputs = dims.Length == 0 ? new[] { _e.Natural(x) } : [_e.Natural(x), _e.Int64s(name + "/axes", dims)];
                var rank = x.Rank < 0 || dims.Length == 0 ? -1 : x.Rank - dims.Length;
                Set(_e.Result(_e.Emit("Squeeze", inputs, name)[0], Layout.Natural, x.Type, rank));
                break;
            }

            case "Transpose":
            {
                var perm = RequireConst(In(1), node, "perm").AsLongs();
                var x = In(0);
                Set(_e.Result(_e.Transpose(_e.Natural(x), perm.Select(p => (int)p).ToArray(), name), Layout.Natural, x.Type, perm.Length));
                break;
            }

            case "ConcatV2":
            {
                var axis = RequireConst(Get(ins[^1]), node, "axis").AsLongs()[0];
                Set(_nn.Concat(ins.Take(ins.Count - 1).Select(Get).ToList(), axis, name));
                break;
            }

            case "SplitV":
            case "Split":
            {
                var isV = string.Equals(op, "SplitV", StringComparison.Ordinal);
                var x = isV ? In(0) : In(1);
                var axis = RequireConst(isV ? In(2) : In(0), node, "axis").AsLongs()[0];
                var count = (int)Int(node, "num_split", 1);
                var hints = Enumerable.Range(0, count).Select(i => $"{name}:{i}").ToArray();
                string[] outs;
                if (isV)
                {
                    var sizes = RequireConst(In(1), node, "size_splits").AsLongs();
                    if (sizes.Contains(-1))
                    {
                        throw TfjsImportException.Unsupported("op", op, name, "size_splits with -1 needs static shapes");
                    }

                    outs = _e.EmitMulti("Split", [_e.Natural(x), _e.Int64s(name + "/split", sizes)], hints, Attr.Int("axis", axis));
                }
                else
                {
                    outs = _e.EmitMulti("Split", [_e.Natural(x)], hints, Attr.Int("axis", axis), Attr.Int("num_outputs", count));
                }

                for (var i = 0; i < count; i++)
                {
                    Set(_e.Result(outs[i], Layout.Natural, x.Type, x.Rank), i);
                }

                break;
            }

            case "StridedSlice":
                Set(StridedSlice(node, ins));
                break;
            case "GatherV2":
            {
                if (Int(node, "batch_dims", 0) != 0)
                {
                    throw TfjsImportException.Unsupported("op", op, name, "batch_dims != 0");
                }

                var axis = RequireConst(In(2), node, "axis").AsLongs()[0];
                var x = In(0);
                var idx = In(1);
                var y = _e.Emit("Gather", [_e.Natural(x), _e.Natural(idx)], name, Attr.Int("axis", axis))[0];
                Set(_e.Result(y, Layout.Natural, x.Type, x.Rank < 0 || idx.Rank < 0 ? -1 : x.Rank + idx.Rank - 1));
                break;
            }

            case "ExpandDims":
            {
                var axis = RequireConst(In(1), node, "dim").AsLongs()[0];
                var x = In(0);
                var y = _e.Emit("Unsqueeze", [_e.Natural(x), _e.Int64s(name + "/axes", axis)], name)[0];
                Set(_e.Result(y, Layout.Natural, x.Type, x.Rank < 0 ? -1 : x.Rank + 1));
                break;
            }

            case "Cast":
            {
                var to = OnnxTypes.FromTf(node["attr"]?["DstT"]?["type"]?.GetValue<string>() ?? "DT_FLOAT", name);
                var x = In(0);
                var input = x.Layout == Layout.Nchw ? x.Name : _e.Natural(x);
                var y = _e.Emit("Cast", [input], name, Attr.Int("to", (long)OnnxTypes.From(to)))[0];
                Set(_e.Result(y, x.Layout, to, x.Rank));
                break;
            }

            case "TopKV2":
            {
                var k = RequireConst(In(1), node, "k").AsLongs()[0];
                var x = In(0);
                var outs = _e.EmitMulti(
                    "TopK",
                    [_e.Natural(x), _e.Int64s(name + "/k", k)],
                    [name + ":0", name + ":1/int64"],
                    Attr.Int("axis", -1),
                    Attr.Int("largest", 1),
                    Attr.Int("sorted", 1));
                Set(_e.Result(outs[0], Layout.Natural, x.Type, x.Rank), 0);

                // TensorFlow returns int32 indices, ONNX int64.
                var idx = _e.Emit("Cast", [outs[1]], name + ":1", Attr.Int("to", (long)Onnx.TensorProto.Types.DataType.Int32))[0];
                Set(_e.Result(idx, Layout.Natural, DType.Int32, x.Rank), 1);
                break;
            }

            case "SparseToDense":
                Set(_e.Constant(SparseToDense(node, ins), name));
                break;
            case "ResizeBilinear":
            {
                var size = RequireConst(In(1), node, "size").AsLongs();
                Set(_nn.ResizeBilinear(In(0), size[0], size[1], Bool(node, "align_corners"), Bool(node, "half_pixel_centers"), name));
                break;
            }

            default:
                throw TfjsImportException.Unsupported("op", op, name);
        }
    }

    private Value FloorDiv(Value a, Value b, string name)
    {
        if (a.Type == DType.Float32)
        {
            return _nn.Unary("Floor", _nn.Binary("Div", a, b, name + "/div"), name);
        }

        // Integers: a - floormod(a, b) is an exact multiple of b, so the truncating Div is exact.
        var mod = _nn.Nary("Mod", [a, b], name + "/mod", null, Attr.Int("fmod", 0));
        return _nn.Binary("Div", _nn.Binary("Sub", a, mod, name + "/sub"), b, name);
    }

    private Value FloorMod(Value a, Value b, string name)
    {
        if (a.Type != DType.Float32)
        {
            // ONNX integer Mod with fmod=0 takes the divisor's sign, like TensorFlow's FloorMod.
            return _nn.Nary("Mod", [a, b], name, null, Attr.Int("fmod", 0));
        }

        var q = _nn.Unary("Floor", _nn.Binary("Div", a, b, name + "/div"), name + "/floor");
        return _nn.Binary("Sub", a, _nn.Binary("Mul", q, b, name + "/mul"), name);
    }

    private Value ConvTranspose(JsonObject node, List<string> ins)
    {
        var name = Name(node);
        var outShape = RequireConst(Get(ins[0]), node, "input_sizes").AsLongs();
        var filter = RequireConst(Get(ins[1]), node, "filter");
        var x = Get(ins[2]);
        var strides = Spatial(node, "strides");
        var dilations = Spatial(node, "dilations");
        var pad = ParsePadding(node);
        var w = filter.Transpose([3, 2, 0, 1]);
        var pads = new long[4];
        var outputPadding = new long[2];
        for (var i = 0; i < 2; i++)
        {
            var o = outShape[1 + i];
            var k = ((filter.Shape[i] - 1) * dilations[i]) + 1;
            var s = strides[i];
            long begin, end;
            long inSize;
            switch (pad.Mode)
            {
                case PadMode.Same:
                {
                    inSize = (o + s - 1) / s;
                    var total = Math.Max(0, ((inSize - 1) * s) + k - o);
                    begin = total / 2;
                    end = total - begin;
                    break;
                }

                case PadMode.Valid:
                    inSize = ((o - k) / s) + 1;
                    begin = end = 0;
                    break;
                default:
                    begin = i == 0 ? pad.Top : pad.Left;
                    end = i == 0 ? pad.Bottom : pad.Right;
                    inSize = ((o + begin + end - k) / s) + 1;
                    break;
            }

            pads[i] = begin;
            pads[i + 2] = end;
            outputPadding[i] = o - (((inSize - 1) * s) + k - begin - end);
        }

        var y = _e.Emit(
            "ConvTranspose",
            [_e.Nchw(x), _e.Natural(_e.Constant(w, name + "/W"))],
            name,
            Attr.Ints("kernel_shape", [w.Shape[2], w.Shape[3]]),
            Attr.Ints("strides", strides),
            Attr.Ints("dilations", dilations),
            Attr.Ints("pads", pads),
            Attr.Ints("output_padding", outputPadding))[0];
        return _e.Result(y, Layout.Nchw, DType.Float32, 4);
    }

    private Value StridedSlice(JsonObject node, List<string> ins)
    {
        var name = Name(node);
        if (Int(node, "ellipsis_mask", 0) != 0 || Int(node, "new_axis_mask", 0) != 0)
        {
            throw TfjsImportException.Unsupported("op", "StridedSlice", name, "ellipsis_mask/new_axis_mask");
        }

        var x = Get(ins[0]);
        var begin = RequireConst(Get(ins[1]), node, "begin").AsLongs();
        var end = RequireConst(Get(ins[2]), node, "end").AsLongs();
        var strides = RequireConst(Get(ins[3]), node, "strides").AsLongs();
        var beginMask = Int(node, "begin_mask", 0);
        var endMask = Int(node, "end_mask", 0);
        var shrink = Int(node, "shrink_axis_mask", 0);
        var n = begin.Length;
        var starts = new long[n];
        var ends = new long[n];
        var steps = new long[n];
        var squeeze = new List<long>();
        for (var i = 0; i < n; i++)
        {
            var bit = 1L << i;
            var s = strides[i];
            steps[i] = s;
            starts[i] = (beginMask & bit) != 0 ? (s > 0 ? 0 : long.MaxValue) : begin[i];
            ends[i] = (endMask & bit) != 0 ? (s > 0 ? long.MaxValue : long.MinValue) : end[i];
            if ((shrink & bit) != 0)
            {
                starts[i] = begin[i];
                ends[i] = begin[i] == -1 ? long.MaxValue : begin[i] + 1;
                steps[i] = 1;
                squeeze.Add(i);
            }
        }

        var axes = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        var y = _e.Emit(
            "Slice",
            [_e.Natural(x), _e.Int64s(name + "/starts", starts), _e.Int64s(name + "/ends", ends), _e.Int64s(name + "/axes", axes), _e.Int64s(name + "/steps", steps)],
            squeeze.Count > 0 ? name + "/slice" : name)[0];
        if (squeeze.Count > 0)
        {
            y = _e.Emit("Squeeze", [y, _e.Int64s(name + "/squeeze", squeeze.ToArray())], name)[0];
        }

        return _e.Result(y, Layout.Natural, x.Type, x.Rank < 0 ? -1 : x.Rank - squeeze.Count);
    }

    private TensorData SparseToDense(JsonObject node, List<string> ins)
    {
        var indices = RequireConst(Get(ins[0]), node, "sparse_indices");
        var shape = RequireConst(Get(ins[1]), node, "output_shape").AsLongs();
        var values = RequireConst(Get(ins[2]), node, "sparse_values");
        var deflt = RequireConst(Get(ins[3]), node, "default_value");
        var rank = shape.Length;
        var total = ShapeUtil.Numel(shape);
        var strides = ShapeUtil.Strides(shape);
        var isFloat = values.Type == DType.Float32;
        var f = isFloat ? Enumerable.Repeat((float)deflt.GetDouble(0), (int)total).ToArray() : null;
        var l = isFloat ? null : Enumerable.Repeat((long)deflt.GetDouble(0), (int)total).ToArray();
        var count = indices.Rank == 0 ? 1 : indices.Shape[0];
        var idx = indices.AsLongs();
        for (var i = 0; i < count; i++)
        {
            long flat = 0;
            for (var d = 0; d < rank; d++)
            {
                flat += idx[(i * rank) + d] * strides[d];
            }

            var v = values.GetDouble(values.Count == 1 ? 0 : i);
            if (f is not null)
            {
                f[flat] = (float)v;
            }
            else
            {
                l![flat] = (long)v;
            }
        }

        return new TensorData(values.Type, shape, f, l);
    }

    private (TensorData? Bias, string? Activation, TensorData? Extra) FusedOps(JsonObject node, List<string> ins)
    {
        var name = Name(node);
        var ops = Strings(node, "fused_ops");
        TensorData? bias = null;
        string? activation = null;
        TensorData? extra = null;
        var arg = 2;
        foreach (var op in ops)
        {
            switch (op)
            {
                case "BiasAdd":
                    bias = RequireConst(Get(ins[arg++]), node, "bias");
                    break;
                case "Relu":
                case "Relu6":
                case "Elu":
                case "Sigmoid":
                case "Tanh":
                case "LeakyRelu":
                    activation = op;
                    break;
                case "Prelu":
                    activation = op;
                    extra = RequireConst(Get(ins[arg++]), node, "prelu alpha");
                    break;
                default:
                    throw TfjsImportException.Unsupported("fused op", op, name);
            }
        }

        return (bias, activation, extra);
    }

    private Value ApplyFusedActivation(Value y, string? activation, TensorData? extra, JsonObject node)
    {
        if (activation is null)
        {
            return y;
        }

        var name = Name(node) + "/" + activation;
        return _nn.Activation(y, activation, name, Float(node, "leakyrelu_alpha", 0.2f), extra);
    }

    private Value Get(string tensor)
    {
        var key = tensor.Contains(':', StringComparison.Ordinal) ? tensor : tensor + ":0";
        return _values.TryGetValue(key, out var v)
            ? v
            : throw new TfjsImportException($"Tensor '{tensor}' is used before it is produced (or its producer has no such output)");
    }

    private TensorData ConstData(JsonObject node)
    {
        var name = Name(node);
        if (_model.Weights.TryGetValue(name, out var w))
        {
            return w;
        }

        var t = node["attr"]?["value"]?["tensor"] as JsonObject
            ?? throw new TfjsImportException($"Const node '{name}' has neither a weight entry nor an inline value");
        var dtype = OnnxTypes.FromTf(t["dtype"]?.GetValue<string>() ?? "DT_FLOAT", name);
        var shape = (t["tensorShape"]?["dim"] as JsonArray ?? [])
            .Select(d => long.Parse(d?["size"]?.ToString() ?? "0", CultureInfo.InvariantCulture)).ToArray();
        var n = (int)ShapeUtil.Numel(shape);
        var listKey = dtype switch { DType.Float32 => "floatVal", DType.Bool => "boolVal", DType.Int64 => "int64Val", _ => "intVal" };
        var list = (t[listKey] as JsonArray ?? []).Select(v => v!.GetValueKind() == System.Text.Json.JsonValueKind.True ? 1.0
            : v.GetValueKind() == System.Text.Json.JsonValueKind.False ? 0.0
            : double.Parse(v.ToString(), CultureInfo.InvariantCulture)).ToArray();

        // TensorFlow repeats the last listed value to fill the shape.
        var values = Enumerable.Range(0, n).Select(i => list.Length == 0 ? 0.0 : list[Math.Min(i, list.Length - 1)]).ToArray();
        return dtype == DType.Float32
            ? TensorData.Float(shape, values.Select(v => (float)v).ToArray())
            : new TensorData(dtype, shape, null, values.Select(v => (long)v).ToArray());
    }

    private List<JsonObject> TopoOrder(IEnumerable<string> roots)
    {
        var order = new List<JsonObject>();
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = visiting, 2 = done
        var stack = new Stack<(string Node, bool Done)>();
        foreach (var r in roots)
        {
            stack.Push((r, false));
        }

        while (stack.Count > 0)
        {
            var (n, done) = stack.Pop();
            if (done)
            {
                state[n] = 2;
                order.Add(_nodes[n]);
                continue;
            }

            if (state.ContainsKey(n))
            {
                // Already visited (or in progress: a cycle, which then fails as "used before it is produced").
                continue;
            }

            if (!_nodes.TryGetValue(n, out var node))
            {
                throw new TfjsImportException($"Graph references a missing node '{n}'");
            }

            state[n] = 1;
            stack.Push((n, true));
            foreach (var input in Inputs(node).Reverse())
            {
                var dep = NodeOf(input);
                if (!state.ContainsKey(dep))
                {
                    stack.Push((dep, false));
                }
            }
        }

        return order;
    }

    private static void CheckNhwc(JsonObject node)
    {
        var format = Str(node, "data_format");
        if (format is not null && !string.Equals(format, "NHWC", StringComparison.Ordinal))
        {
            throw TfjsImportException.Unsupported("op", Op(node), Name(node), $"data_format {format}");
        }
    }

    private TensorData RequireConst(Value v, JsonObject node, string what) =>
        v.Const ?? throw TfjsImportException.Unsupported("op", Op(node), Name(node), $"non-constant {what}");

    private static Padding ParsePadding(JsonObject node)
    {
        var p = Str(node, "padding") ?? "VALID";
        switch (p)
        {
            case "SAME":
                return new Padding(PadMode.Same);
            case "VALID":
                return new Padding(PadMode.Valid);
            case "EXPLICIT":
                var e = Ints(node, "explicit_paddings");
                return new Padding(PadMode.Explicit, e[2], e[3], e[4], e[5]);
            default:
                throw TfjsImportException.Unsupported("op", Op(node), Name(node), $"padding {p}");
        }
    }

    private static long[] Spatial(JsonObject node, string attr)
    {
        var v = Ints(node, attr);
        return v.Length == 4 ? [v[1], v[2]] : v.Length == 0 ? [1, 1] : v;
    }

    private static string Name(JsonObject node) => node["name"]!.GetValue<string>();

    private static string Op(JsonObject node) => node["op"]!.GetValue<string>();

    private static IEnumerable<string> Inputs(JsonObject node) =>
        (node["input"] as JsonArray ?? []).Select(i => i!.GetValue<string>()).Where(i => !i.StartsWith('^'));

    private static string NodeOf(string tensor)
    {
        var t = tensor.TrimStart('^');
        var colon = t.LastIndexOf(':');
        return colon > 0 && int.TryParse(t.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _) ? t[..colon] : t;
    }

    private static string? Str(JsonObject node, string attr)
    {
        var s = node["attr"]?[attr]?["s"]?.GetValue<string>();
        return s is null ? null : Encoding.UTF8.GetString(System.Convert.FromBase64String(s));
    }

    private static string[] Strings(JsonObject node, string attr) =>
        (node["attr"]?[attr]?["list"]?["s"] as JsonArray ?? [])
            .Select(s => Encoding.UTF8.GetString(System.Convert.FromBase64String(s!.GetValue<string>()))).ToArray();

    private static long[] Ints(JsonObject node, string attr) =>
        (node["attr"]?[attr]?["list"]?["i"] as JsonArray ?? [])
            .Select(s => long.Parse(s!.ToString(), CultureInfo.InvariantCulture)).ToArray();

    private static long Int(JsonObject node, string attr, long fallback)
    {
        var v = node["attr"]?[attr]?["i"];
        return v is null ? fallback : long.Parse(v.ToString(), CultureInfo.InvariantCulture);
    }

    private static bool Bool(JsonObject node, string attr) => node["attr"]?[attr]?["b"]?.GetValue<bool>() ?? false;

    private static float Float(JsonObject node, string attr, float fallback)
    {
        var v = node["attr"]?[attr]?["f"];
        return v is null ? fallback : float.Parse(v.ToString(), CultureInfo.InvariantCulture);
    }
}
