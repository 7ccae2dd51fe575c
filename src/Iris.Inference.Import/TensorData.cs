using Iris.Inference.Import.Onnx;

namespace Iris.Inference.Import;

internal enum DType
{
    Float32,
    Int32,
    Int64,
    Bool,
}

/// <summary>
/// A constant tensor held in memory while converting. Floats live in <see cref="Floats"/>; every integer
/// and boolean type lives in <see cref="Ints"/> (exact for int32/int64/bool) and is narrowed on write.
/// </summary>
internal sealed class TensorData
{
    public TensorData(DType type, long[] shape, float[]? floats, long[]? ints)
    {
        Type = type;
        Shape = shape;
        Floats = floats;
        Ints = ints;
        var n = ShapeUtil.Numel(shape);
        var actual = floats?.Length ?? ints?.Length ?? -1;
        if (actual != n)
        {
            throw new TfjsImportException($"Tensor data has {actual} elements but shape [{string.Join(',', shape)}] needs {n}");
        }
    }

    public DType Type { get; }

    public long[] Shape { get; }

    public float[]? Floats { get; }

    public long[]? Ints { get; }

    public int Rank => Shape.Length;

    public long Count => Floats?.Length ?? Ints!.Length;

    public static TensorData Float(long[] shape, float[] data) => new(DType.Float32, shape, data, null);

    public static TensorData Int64(long[] shape, long[] data) => new(DType.Int64, shape, null, data);

    public static TensorData Int64Vector(params long[] data) => new(DType.Int64, [data.Length], null, data);

    public double GetDouble(long index) => Floats is not null ? Floats[index] : Ints![index];

    public long[] AsLongs()
    {
        if (Ints is not null)
        {
            return Ints;
        }

        return Floats!.Select(f => (long)f).ToArray();
    }

    public TensorData Reshape(long[] shape) => new(Type, shape, Floats, Ints);

    /// <summary>Generic N-d transpose: output dim i is input dim perm[i].</summary>
    public TensorData Transpose(int[] perm)
    {
        var rank = Shape.Length;
        if (perm.Length != rank)
        {
            throw new InvalidOperationException("perm rank mismatch");
        }

        var outShape = perm.Select(p => Shape[p]).ToArray();
        var inStrides = ShapeUtil.Strides(Shape);
        var n = Count;
        var idx = new long[rank];
        float[]? f = Floats is null ? null : new float[n];
        long[]? l = Ints is null ? null : new long[n];
        for (long o = 0; o < n; o++)
        {
            long src = 0;
            for (var d = 0; d < rank; d++)
            {
                src += idx[d] * inStrides[perm[d]];
            }

            if (f is not null)
            {
                f[o] = Floats![src];
            }
            else
            {
                l![o] = Ints![src];
            }

            for (var d = rank - 1; d >= 0; d--)
            {
                if (++idx[d] < outShape[d])
                {
                    break;
                }

                idx[d] = 0;
            }
        }

        return new TensorData(Type, outShape, f, l);
    }

    public TensorProto ToProto(string name)
    {
        var proto = new TensorProto { Name = name, DataType = (int)OnnxTypes.From(Type) };
        proto.Dims.AddRange(Shape);
        byte[] raw;
        switch (Type)
        {
            case DType.Float32:
                raw = new byte[Floats!.Length * 4];
                Buffer.BlockCopy(Floats, 0, raw, 0, raw.Length);
                break;
            case DType.Int32:
                raw = new byte[Ints!.Length * 4];
                for (var i = 0; i < Ints.Length; i++)
                {
                    BitConverter.TryWriteBytes(raw.AsSpan(i * 4), checked((int)Ints[i]));
                }

                break;
            case DType.Int64:
                raw = new byte[Ints!.Length * 8];
                Buffer.BlockCopy(Ints, 0, raw, 0, raw.Length);
                break;
            case DType.Bool:
                raw = Ints!.Select(v => v != 0 ? (byte)1 : (byte)0).ToArray();
                break;
            default:
                throw new InvalidOperationException(Type.ToString());
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw_data is little-endian; big-endian hosts are not supported");
        }

        proto.RawData = Google.Protobuf.ByteString.CopyFrom(raw);
        return proto;
    }
}

internal static class ShapeUtil
{
    public static long Numel(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            n *= d;
        }

        return n;
    }

    public static long[] Strides(long[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= shape[i];
        }

        return s;
    }
}

internal static class OnnxTypes
{
    public static TensorProto.Types.DataType From(DType t) => t switch
    {
        DType.Float32 => TensorProto.Types.DataType.Float,
        DType.Int32 => TensorProto.Types.DataType.Int32,
        DType.Int64 => TensorProto.Types.DataType.Int64,
        DType.Bool => TensorProto.Types.DataType.Bool,
        _ => throw new InvalidOperationException(t.ToString()),
    };

    public static DType FromTf(string tfType, string node) => tfType switch
    {
        "DT_FLOAT" => DType.Float32,
        "DT_INT32" => DType.Int32,
        "DT_INT64" => DType.Int64,
        "DT_BOOL" => DType.Bool,
        _ => throw TfjsImportException.Unsupported("dtype", tfType, node),
    };
}
