namespace Iris.Inference.Import;

internal enum PadMode
{
    Valid,
    Same,
    Explicit,
}

internal readonly record struct Padding(PadMode Mode, long Top = 0, long Bottom = 0, long Left = 0, long Right = 0);

/// <summary>
/// Neural-network building blocks in TensorFlow (NHWC) semantics, shared by the graph-model and
/// layers-model converters. Spatial ops run in NCHW; elementwise ops run in whichever layout their
/// operands already have.
/// </summary>
internal sealed class NnOps(OnnxEmitter e)
{
    public OnnxEmitter E { get; } = e;

    /// <summary>Conv2D with a TensorFlow HWIO filter (in = channels / group).</summary>
    public Value Conv(Value x, TensorData filterHwio, TensorData? bias, long[] strides, long[] dilations, Padding pad, long group, string hint)
    {
        var w = filterHwio.Transpose([3, 2, 0, 1]);
        return ConvOihw(x, w, bias, strides, dilations, pad, group, hint);
    }

    /// <summary>Depthwise conv with a TensorFlow [kh, kw, in, multiplier] filter.</summary>
    public Value DepthwiseConv(Value x, TensorData filter, TensorData? bias, long[] strides, long[] dilations, Padding pad, string hint)
    {
        var (kh, kw, cin, mult) = (filter.Shape[0], filter.Shape[1], filter.Shape[2], filter.Shape[3]);

        // Output channel c*mult+m of TensorFlow's depthwise conv is group c's m-th filter in ONNX.
        var w = filter.Transpose([2, 3, 0, 1]).Reshape([cin * mult, 1, kh, kw]);
        return ConvOihw(x, w, bias, strides, dilations, pad, cin, hint);
    }

    public Value ConvOihw(Value x, TensorData wOihw, TensorData? bias, long[] strides, long[] dilations, Padding pad, long group, string hint)
    {
        var inputs = new List<string> { E.Nchw(x), E.Natural(E.Constant(wOihw, hint + "/W")) };
        if (bias is not null)
        {
            inputs.Add(E.Natural(E.Constant(bias.Reshape([bias.Count]), hint + "/B")));
        }

        var attrs = new List<Onnx.AttributeProto>
        {
            Attr.Ints("kernel_shape", [wOihw.Shape[2], wOihw.Shape[3]]),
            Attr.Ints("strides", strides),
            Attr.Ints("dilations", dilations),
            Attr.Int("group", group),
        };
        attrs.AddRange(PadAttrs(pad));
        var y = E.Emit("Conv", inputs.ToArray(), hint, attrs.ToArray())[0];
        return E.Result(y, Layout.Nchw, DType.Float32, 4);
    }

    public Value Pool(string onnxOp, Value x, long[] kernel, long[] strides, Padding pad, string hint)
    {
        var attrs = new List<Onnx.AttributeProto> { Attr.Ints("kernel_shape", kernel), Attr.Ints("strides", strides) };
        attrs.AddRange(PadAttrs(pad));

        // TensorFlow's AvgPool divides by the number of real (unpadded) elements: ONNX count_include_pad=0.
        var y = E.Emit(onnxOp, [E.Nchw(x)], hint, attrs.ToArray())[0];
        return E.Result(y, Layout.Nchw, DType.Float32, 4);
    }

    public static IEnumerable<Onnx.AttributeProto> PadAttrs(Padding pad) => pad.Mode switch
    {
        // TensorFlow SAME puts the odd extra pixel at the bottom/right, which is ONNX SAME_UPPER.
        PadMode.Same => [Attr.String("auto_pad", "SAME_UPPER")],
        PadMode.Valid => [Attr.String("auto_pad", "VALID")],
        _ => [Attr.Ints("pads", [pad.Top, pad.Left, pad.Bottom, pad.Right])],
    };

    /// <summary>Elementwise op keeping its operand's layout.</summary>
    public Value Unary(string op, Value x, string hint, params Onnx.AttributeProto[] attrs)
    {
        var input = x.Layout == Layout.Nchw ? x.Name : E.Natural(x);
        var y = E.Emit(op, [input], hint, attrs)[0];
        return E.Result(y, x.Layout, x.Type, x.Rank);
    }

    public Value Clip(Value x, float? min, float? max, string hint)
    {
        var input = x.Layout == Layout.Nchw ? x.Name : E.Natural(x);
        var inputs = new[]
        {
            input,
            min is null ? string.Empty : E.FloatScalar(hint + "/min", min.Value),
            max is null ? string.Empty : E.FloatScalar(hint + "/max", max.Value),
        };
        var y = E.Emit("Clip", inputs, hint)[0];
        return E.Result(y, x.Layout, x.Type, x.Rank);
    }

    /// <summary>Elementwise n-ary op with numpy broadcasting; runs in NCHW when every operand allows it.</summary>
    public Value Nary(string op, IReadOnlyList<Value> operands, string hint, DType? outType = null, params Onnx.AttributeProto[] attrs)
    {
        var nchw = operands.Any(v => v.Layout == Layout.Nchw) && operands.All(OnnxEmitter.CanBeNchw);
        var inputs = operands.Select(v => nchw ? E.Nchw(v) : E.Natural(v)).ToArray();
        var y = E.Emit(op, inputs, hint, attrs)[0];
        var rank = operands.Any(v => v.Rank < 0) ? -1 : operands.Max(v => v.Rank);
        return E.Result(y, nchw ? Layout.Nchw : Layout.Natural, outType ?? operands[0].Type, rank);
    }

    public Value Binary(string op, Value a, Value b, string hint, DType? outType = null) => Nary(op, [a, b], hint, outType);

    public Value AddBias(Value x, TensorData bias, string hint) => Binary("Add", x, E.Constant(bias, hint + "/bias"), hint);

    public Value Activation(Value x, string kind, string hint, float alpha = 0.2f, TensorData? preluAlpha = null)
    {
        switch (kind)
        {
            case "linear":
            case "Identity":
                return x;
            case "relu":
            case "Relu":
                return Unary("Relu", x, hint);
            case "relu6":
            case "Relu6":
                return Clip(x, 0f, 6f, hint);
            case "sigmoid":
            case "Sigmoid":
                return Unary("Sigmoid", x, hint);
            case "tanh":
            case "Tanh":
                return Unary("Tanh", x, hint);
            case "elu":
            case "Elu":
                return Unary("Elu", x, hint, Attr.Float("alpha", 1f));
            case "selu":
                return Unary("Selu", x, hint, Attr.Float("alpha", 1.6732632423543772f), Attr.Float("gamma", 1.0507009873554805f));
            case "softplus":
                return Unary("Softplus", x, hint);
            case "LeakyRelu":
                return Unary("LeakyRelu", x, hint, Attr.Float("alpha", alpha));
            case "swish":
            case "silu":
                return Binary("Mul", x, Unary("Sigmoid", x, hint + "/sigmoid"), hint);
            case "Prelu":
                return Binary("PRelu", x, E.Constant(preluAlpha!, hint + "/alpha"), hint);
            case "softmax":
                return Softmax(x, -1, hint);
            default:
                throw new NotSupportedException(kind);
        }
    }

    public Value Softmax(Value x, long axis, string hint)
    {
        var y = E.Emit("Softmax", [E.Natural(x)], hint, Attr.Int("axis", axis))[0];
        return E.Result(y, Layout.Natural, x.Type, x.Rank);
    }

    /// <summary>Reduction over TensorFlow axes; stays NCHW when the reduced result keeps a compatible order.</summary>
    public Value Reduce(string op, Value x, long[] axes, bool keepDims, string hint)
    {
        if (x.Layout == Layout.Nchw)
        {
            var norm = axes.Select(a => a < 0 ? a + 4 : a).ToHashSet();
            var keptOrderSame = norm.Contains(3) || (norm.Contains(1) && norm.Contains(2));
            if (keepDims || keptOrderSame)
            {
                var mapped = norm.Select(a => (long)Array.IndexOf(OnnxEmitter.ToNchw, (int)a)).Order().ToArray();
                var yn = E.Emit(op, [x.Name, E.Int64s(hint + "/axes", mapped)], hint, Attr.Int("keepdims", keepDims ? 1 : 0))[0];
                return keepDims
                    ? E.Result(yn, Layout.Nchw, x.Type, 4)
                    : E.Result(yn, Layout.Natural, x.Type, 4 - norm.Count);
            }
        }

        var y = E.Emit(op, [E.Natural(x), E.Int64s(hint + "/axes", axes)], hint, Attr.Int("keepdims", keepDims ? 1 : 0))[0];
        var rank = x.Rank < 0 ? -1 : keepDims ? x.Rank : x.Rank - axes.Length;
        return E.Result(y, Layout.Natural, x.Type, rank);
    }

    public Value Concat(IReadOnlyList<Value> inputs, long axis, string hint)
    {
        var nchw = inputs.Any(v => v.Layout == Layout.Nchw) && inputs.All(v => v.Layout == Layout.Nchw || v.Rank == 4);
        if (nchw)
        {
            var a = axis < 0 ? axis + 4 : axis;
            var mapped = Array.IndexOf(OnnxEmitter.ToNchw, (int)a);
            var yn = E.Emit("Concat", inputs.Select(E.Nchw).ToArray(), hint, Attr.Int("axis", mapped))[0];
            return E.Result(yn, Layout.Nchw, inputs[0].Type, 4);
        }

        var y = E.Emit("Concat", inputs.Select(E.Natural).ToArray(), hint, Attr.Int("axis", axis))[0];
        return E.Result(y, Layout.Natural, inputs[0].Type, inputs[0].Rank);
    }

    /// <summary>Constant padding; <paramref name="pads"/> is TensorFlow's [rank, 2] (before, after) list.</summary>
    public Value Pad(Value x, long[,] pads, Value? constant, string hint)
    {
        var rank = pads.GetLength(0);
        var nchw = x.Layout == Layout.Nchw && rank == 4;
        var perm = nchw ? OnnxEmitter.ToNchw : Enumerable.Range(0, rank).ToArray();
        var onnxPads = new long[rank * 2];
        for (var i = 0; i < rank; i++)
        {
            onnxPads[i] = pads[perm[i], 0];
            onnxPads[i + rank] = pads[perm[i], 1];
        }

        var inputs = new List<string> { nchw ? x.Name : E.Natural(x), E.Int64s(hint + "/pads", onnxPads) };
        if (constant is not null)
        {
            inputs.Add(E.Natural(constant));
        }

        var y = E.Emit("Pad", inputs.ToArray(), hint, Attr.String("mode", "constant"))[0];
        return E.Result(y, nchw ? Layout.Nchw : Layout.Natural, x.Type, rank);
    }

    public Value Reshape(Value x, long[] shape, string hint)
    {
        var attrs = shape.Contains(0) ? new[] { Attr.Int("allowzero", 1) } : [];
        var y = E.Emit("Reshape", [E.Natural(x), E.Int64s(hint + "/shape", shape)], hint, attrs)[0];
        return E.Result(y, Layout.Natural, x.Type, shape.Length);
    }

    public Value MatMul(Value a, Value b, string hint)
    {
        var y = E.Emit("MatMul", [E.Natural(a), E.Natural(b)], hint)[0];
        return E.Result(y, Layout.Natural, a.Type, a.Rank);
    }

    /// <summary>Bilinear resize to a fixed [height, width].</summary>
    public Value ResizeBilinear(Value x, long height, long width, bool alignCorners, bool halfPixelCenters, string hint)
    {
        var nchw = E.Nchw(x);
        var batchChannels = E.Emit("Shape", [nchw], hint + "/nc", Attr.Int("start", 0), Attr.Int("end", 2))[0];
        var sizes = E.Emit("Concat", [batchChannels, E.Int64s(hint + "/hw", height, width)], hint + "/sizes", Attr.Int("axis", 0))[0];
        var mode = alignCorners ? "align_corners" : halfPixelCenters ? "half_pixel" : "asymmetric";
        var y = E.Emit(
            "Resize",
            [nchw, string.Empty, string.Empty, sizes],
            hint,
            Attr.String("mode", "linear"),
            Attr.String("coordinate_transformation_mode", mode))[0];
        return E.Result(y, Layout.Nchw, DType.Float32, 4);
    }
}
