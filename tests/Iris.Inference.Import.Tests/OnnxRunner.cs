using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Iris.Inference.Import.Tests;

internal sealed record OrtOutput(string Name, long[] Shape, float[] Data);

/// <summary>Runs a converted model under ONNX Runtime (CPU).</summary>
internal sealed class OnnxRunner : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxRunner(string path)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(path, options);
    }

    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    public IReadOnlyList<OrtOutput> Run(string inputName, float[] input, long[] shape)
    {
        var tensor = new DenseTensor<float>(input, shape.Select(d => (int)d).ToArray());
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        var list = new List<OrtOutput>();
        foreach (var r in results)
        {
            var value = r.Value;
            (long[] Shape, float[] Data) converted = value switch
            {
                DenseTensor<float> f => (Dims(f.Dimensions), f.ToArray()),
                DenseTensor<int> i => (Dims(i.Dimensions), i.ToArray().Select(v => (float)v).ToArray()),
                DenseTensor<long> l => (Dims(l.Dimensions), l.ToArray().Select(v => (float)v).ToArray()),
                DenseTensor<bool> b => (Dims(b.Dimensions), b.ToArray().Select(v => v ? 1f : 0f).ToArray()),
                _ => throw new InvalidOperationException($"unexpected output type {value?.GetType()}"),
            };
            list.Add(new OrtOutput(r.Name, converted.Shape, converted.Data));
        }

        return list;
    }

    public void Dispose() => _session.Dispose();

    private static long[] Dims(ReadOnlySpan<int> dims) => dims.ToArray().Select(d => (long)d).ToArray();
}
