using Google.Protobuf;
using Iris.Inference.Import.Onnx;

namespace Iris.Inference.Import;

/// <summary>How a tensor's data is laid out in the ONNX graph relative to its TensorFlow meaning.</summary>
internal enum Layout
{
    /// <summary>Same axis order as in TensorFlow.</summary>
    Natural,

    /// <summary>A rank-4 NHWC tensor stored transposed to NCHW (what ONNX Conv/Pool/Resize need).</summary>
    Nchw,
}

/// <summary>A tensor during conversion: its ONNX name, layout, element type and, for constants, its data.</summary>
internal sealed class Value
{
    public required string Name { get; init; }

    public Layout Layout { get; init; }

    public DType Type { get; init; }

    public TensorData? Const { get; init; }

    /// <summary>Rank in TensorFlow terms, or -1 when not known statically.</summary>
    public int Rank { get; init; } = -1;

    internal string? NaturalName { get; set; }

    internal string? NchwName { get; set; }

    internal bool Emitted { get; set; }
}

/// <summary>
/// Builds the ONNX graph. Converters think in TensorFlow (NHWC) semantics; the emitter keeps rank-4
/// activations in NCHW between the ops that need it and inserts a Transpose only where an op needs the
/// other order, caching it per tensor. <see cref="TransposeOptimizer"/> then cancels the inverse pairs that
/// remain (for instance the explicit NCHW/NHWC transposes of models converted from ONNX to TensorFlow).
/// </summary>
internal sealed class OnnxEmitter
{
    public const int Opset = 18;
    public const int IrVersion = 8;

    public static readonly int[] ToNchw = [0, 3, 1, 2];
    public static readonly int[] ToNhwc = [0, 2, 3, 1];

    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public List<NodeProto> Nodes { get; } = [];

    public List<TensorProto> Initializers { get; } = [];

    public List<ValueInfoProto> Inputs { get; } = [];

    public List<ValueInfoProto> Outputs { get; } = [];

    public string Unique(string hint)
    {
        var baseName = string.IsNullOrEmpty(hint) ? "t" : hint;
        var name = baseName;
        var i = 1;
        while (!_names.Add(name))
        {
            name = $"{baseName}__{i++}";
        }

        return name;
    }

    public Value Constant(TensorData t, string hint) => new()
    {
        Name = Unique(hint),
        Layout = Layout.Natural,
        Type = t.Type,
        Const = t,
        Rank = t.Rank,
    };

    /// <summary>An int64 constant for ONNX shape/axes inputs, emitted right away.</summary>
    public string Int64s(string hint, params long[] values)
    {
        var v = Constant(TensorData.Int64Vector(values), hint);
        return Natural(v);
    }

    public string FloatScalar(string hint, float value)
    {
        var v = Constant(TensorData.Float([], [value]), hint);
        return Natural(v);
    }

    public Value AddInput(string name, DType type, long[]? shape)
    {
        var unique = Unique(name);
        Inputs.Add(MakeValueInfo(unique, type, shape));
        return new Value { Name = unique, Layout = Layout.Natural, Type = type, Rank = shape?.Length ?? -1 };
    }

    /// <summary>Reserves graph output names before conversion so no internal tensor takes them.</summary>
    public void Reserve(IEnumerable<string> names)
    {
        foreach (var n in names)
        {
            if (!_names.Add(n))
            {
                throw new TfjsImportException($"Output name '{n}' is requested twice");
            }
        }
    }

    /// <summary>Adds a graph output under a name passed to <see cref="Reserve"/> before.</summary>
    public void AddOutput(string name, Value v)
    {
        var node = new NodeProto { OpType = "Identity", Name = name };
        node.Input.Add(Natural(v));
        node.Output.Add(name);
        Nodes.Add(node);
        Outputs.Add(MakeValueInfo(name, v.Type, null));
    }

    /// <summary>The tensor's ONNX name in TensorFlow axis order.</summary>
    public string Natural(Value v)
    {
        if (v.Const is not null)
        {
            EnsureEmitted(v);
            return v.Name;
        }

        if (v.Layout == Layout.Natural)
        {
            return v.Name;
        }

        return v.NaturalName ??= Transpose(v.Name, ToNhwc, v.Name + "__nhwc");
    }

    /// <summary>The tensor's ONNX name in NCHW order (rank-4 tensors only).</summary>
    public string Nchw(Value v)
    {
        if (v.Layout == Layout.Nchw)
        {
            return v.Name;
        }

        if (v.Const is not null)
        {
            return v.NchwName ??= Natural(Constant(BroadcastNchw(v.Const), v.Name + "__nchw"));
        }

        if (v.Rank != 4 && v.Rank != -1)
        {
            throw new InvalidOperationException($"'{v.Name}' has rank {v.Rank}; NCHW needs rank 4");
        }

        return v.NchwName ??= Transpose(v.Name, ToNchw, v.Name + "__nchw");
    }

    /// <summary>True when the value can be given to an NCHW-layout op: rank-4 activations or broadcastable constants.</summary>
    public static bool CanBeNchw(Value v) =>
        v.Layout == Layout.Nchw || v.Rank == 4 || (v.Const is not null && v.Const.Rank <= 4);

    /// <summary>A constant broadcast against an NHWC tensor, rewritten to broadcast the same way against NCHW.</summary>
    public static TensorData BroadcastNchw(TensorData t)
    {
        if (t.Count == 1)
        {
            return t;
        }

        var shape = new long[4];
        var pad = 4 - t.Rank;
        for (var i = 0; i < 4; i++)
        {
            shape[i] = i < pad ? 1 : t.Shape[i - pad];
        }

        return t.Reshape(shape).Transpose(ToNchw);
    }

    public string Transpose(string input, int[] perm, string hint)
    {
        return Emit("Transpose", [input], hint, Attr.Ints("perm", perm.Select(p => (long)p)))[0];
    }

    /// <summary>Adds one node; returns its output names (unique, derived from the hint).</summary>
    public string[] Emit(string op, string[] inputs, string hint, params AttributeProto[] attrs) =>
        EmitMulti(op, inputs, [hint], attrs);

    public string[] EmitMulti(string op, string[] inputs, string[] outputHints, params AttributeProto[] attrs)
    {
        var outputs = outputHints.Select(Unique).ToArray();
        var node = new NodeProto { OpType = op, Name = outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attrs);
        Nodes.Add(node);
        return outputs;
    }

    public Value Result(string name, Layout layout, DType type, int rank) =>
        new() { Name = name, Layout = layout, Type = type, Rank = layout == Layout.Nchw ? 4 : rank };

    public ModelProto Build(string graphName, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var graph = new GraphProto { Name = graphName };
        graph.Node.AddRange(Nodes);
        graph.Initializer.AddRange(Initializers);
        graph.Input.AddRange(Inputs);
        graph.Output.AddRange(Outputs);
        TransposeOptimizer.Run(graph);
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Iris.Inference.Import",
            ProducerVersion = TfjsImporter.ConverterVersion,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        foreach (var kv in metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = kv.Key, Value = kv.Value });
        }

        return model;
    }

    private void EnsureEmitted(Value v)
    {
        if (!v.Emitted)
        {
            Initializers.Add(v.Const!.ToProto(v.Name));
            v.Emitted = true;
        }
    }

    private static ValueInfoProto MakeValueInfo(string name, DType type, long[]? shape)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxTypes.From(type) };
        if (shape is not null)
        {
            var s = new TensorShapeProto();
            foreach (var d in shape)
            {
                s.Dim.Add(d >= 0
                    ? new TensorShapeProto.Types.Dimension { DimValue = d }
                    : new TensorShapeProto.Types.Dimension { DimParam = "batch" });
            }

            tensorType.Shape = s;
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}

internal static class Attr
{
    public static AttributeProto Int(string name, long v) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    public static AttributeProto Float(string name, float v) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

    public static AttributeProto String(string name, string v) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };

    public static AttributeProto Ints(string name, IEnumerable<long> v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }
}
