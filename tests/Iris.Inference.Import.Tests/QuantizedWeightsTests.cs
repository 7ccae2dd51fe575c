using System.Text.Json.Nodes;

namespace Iris.Inference.Import.Tests;

/// <summary>
/// Weight decoding against TensorFlow.js itself: a small hand-written graph model whose constants are stored
/// quantized (uint8 and uint16 with scale and min, float16) and int32, split across two shards at an odd byte.
/// </summary>
public sealed class QuantizedWeightsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("iris-import-quant-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Quantized_and_sharded_weights_decode_like_tfjs()
    {
        byte[] w8 = [0, 7, 200, 255];
        ushort[] w16 = [0, 1000, 40000, 65535];
        Half[] h = [(Half)0.5f, (Half)(-1.25f), (Half)3.140625f, (Half)1e-3f];
        int[] shape = [2, 2];
        var bytes = new List<byte>(w8);
        foreach (var v in w16)
        {
            bytes.AddRange(BitConverter.GetBytes(v));
        }

        foreach (var v in h)
        {
            bytes.AddRange(BitConverter.GetBytes(v));
        }

        foreach (var v in shape)
        {
            bytes.AddRange(BitConverter.GetBytes(v));
        }

        var all = bytes.ToArray();
        await File.WriteAllBytesAsync(Path.Combine(_dir.FullName, "group1-shard1of2.bin"), all[..7]);
        await File.WriteAllBytesAsync(Path.Combine(_dir.FullName, "group1-shard2of2.bin"), all[7..]);

        var model = JsonNode.Parse("""
            {
              "format": "graph-model",
              "modelTopology": { "versions": { "producer": 1395 }, "node": [
                { "name": "x", "op": "Placeholder", "attr": { "dtype": { "type": "DT_FLOAT" }, "shape": { "shape": { "dim": [ { "size": "1" }, { "size": "4" } ] } } } },
                { "name": "w8", "op": "Const", "attr": { "dtype": { "type": "DT_FLOAT" } } },
                { "name": "w16", "op": "Const", "attr": { "dtype": { "type": "DT_FLOAT" } } },
                { "name": "h", "op": "Const", "attr": { "dtype": { "type": "DT_FLOAT" } } },
                { "name": "shape", "op": "Const", "attr": { "dtype": { "type": "DT_INT32" } } },
                { "name": "m1", "op": "Mul", "input": [ "x", "w8" ] },
                { "name": "a1", "op": "AddV2", "input": [ "m1", "w16" ] },
                { "name": "m2", "op": "Mul", "input": [ "a1", "h" ] },
                { "name": "out", "op": "Reshape", "input": [ "m2", "shape" ] }
              ] },
              "weightsManifest": [ {
                "paths": [ "group1-shard1of2.bin", "group1-shard2of2.bin" ],
                "weights": [
                  { "name": "w8", "shape": [ 4 ], "dtype": "float32", "quantization": { "dtype": "uint8", "scale": 0.0123, "min": -1.5 } },
                  { "name": "w16", "shape": [ 4 ], "dtype": "float32", "quantization": { "dtype": "uint16", "scale": 0.0001, "min": -2.25 } },
                  { "name": "h", "shape": [ 4 ], "dtype": "float32", "quantization": { "dtype": "float16" } },
                  { "name": "shape", "shape": [ 2 ], "dtype": "int32" }
                ]
              } ]
            }
            """)!;
        var modelPath = Path.Combine(_dir.FullName, "model.json");
        await File.WriteAllTextAsync(modelPath, model.ToJsonString());
        var onnxPath = Path.Combine(_dir.FullName, "model.onnx");

        var result = await TfjsImporter.ImportAsync(modelPath, onnxPath, null, CancellationToken.None);

        Assert.Equal("out", Assert.Single(result.Outputs).OnnxName);
        float[] input = [1.5f, -2f, 0.25f, 10f];
        using var runner = new OnnxRunner(onnxPath);
        var ort = Assert.Single(runner.Run("x", input, [1, 4]));
        var reference = Assert.Single(TfjsReference.Run(modelPath, "x", input, [1, 4], ["out"]).Outputs);

        Assert.Equal([2L, 2L], ort.Shape);
        Assert.Equal(reference.Shape, ort.Shape);
        for (var i = 0; i < 4; i++)
        {
            var expected = ((input[i] * (float)((w8[i] * 0.0123) - 1.5)) + (float)((w16[i] * 0.0001) - 2.25)) * (float)h[i];
            Assert.Equal(expected, ort.Data[i], 6);
            Assert.Equal(reference.Data[i], ort.Data[i], 6);
        }
    }
}
