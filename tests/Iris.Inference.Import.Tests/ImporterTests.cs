using System.Text.Json.Nodes;
using Iris.Inference.Import.Onnx;
using Xunit.Abstractions;

namespace Iris.Inference.Import.Tests;

public sealed class ImporterTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("iris-import-tests-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Unsupported_op_fails_naming_op_and_node_and_writes_nothing()
    {
        var modelPath = Path.Combine(_dir.FullName, "model.json");
        var model = new JsonObject
        {
            ["format"] = "graph-model",
            ["modelTopology"] = new JsonObject
            {
                ["node"] = new JsonArray(
                    new JsonObject
                    {
                        ["name"] = "x",
                        ["op"] = "Placeholder",
                        ["attr"] = new JsonObject { ["dtype"] = new JsonObject { ["type"] = "DT_FLOAT" } },
                    },
                    new JsonObject { ["name"] = "bar/relu", ["op"] = "Relu", ["input"] = new JsonArray("x") },
                    new JsonObject { ["name"] = "bar/baz", ["op"] = "Foo", ["input"] = new JsonArray("bar/relu") }),
            },
            ["weightsManifest"] = new JsonArray(),
        };
        await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "model.json"), model.ToJsonString());
        var outDir = Path.Combine(_dir.FullName, "out");
        var outPath = Path.Combine(outDir, "model.onnx");

        var e = await Assert.ThrowsAsync<TfjsImportException>(() => TfjsImporter.ImportAsync(modelPath, outPath, null, CancellationToken.None));

        Assert.Equal("Unsupported op 'Foo' at node 'bar/baz'", e.Message);
        Assert.Equal("Foo", e.UnsupportedOp);
        Assert.Equal("bar/baz", e.NodeName);
        Assert.False(File.Exists(outPath));
        Assert.True(!Directory.Exists(outDir) || Directory.GetFileSystemEntries(outDir).Length == 0);
    }

    [Fact]
    public async Task Unsupported_layer_fails_naming_layer_and_keeps_existing_output()
    {
        var modelPath = Path.Combine(_dir.FullName, "model.json");
        var model = JsonNode.Parse("""
            {
              "format": "layers-model",
              "modelTopology": { "model_config": { "class_name": "Model", "config": {
                "name": "m",
                "layers": [
                  { "name": "in", "class_name": "InputLayer", "config": { "batch_input_shape": [null, 4], "dtype": "float32", "name": "in" }, "inbound_nodes": [] },
                  { "name": "weird", "class_name": "Lambda", "config": { "name": "weird" }, "inbound_nodes": [[["in", 0, 0, {}]]] }
                ],
                "input_layers": [["in", 0, 0]],
                "output_layers": [["weird", 0, 0]]
              } } },
              "weightsManifest": []
            }
            """)!;
        await File.WriteAllTextAsync(modelPath, model.ToJsonString());
        var outPath = Path.Combine(_dir.FullName, "existing.onnx");
        await File.WriteAllTextAsync(outPath, "previous");

        var e = await Assert.ThrowsAsync<TfjsImportException>(() => TfjsImporter.ImportAsync(modelPath, outPath, null, CancellationToken.None));

        Assert.Equal("Unsupported layer 'Lambda' at node 'weird'", e.Message);
        Assert.Equal("previous", await File.ReadAllTextAsync(outPath));
        Assert.Equal(new[] { modelPath, outPath }.Order(StringComparer.Ordinal), Directory.GetFiles(_dir.FullName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Cache_reuses_conversion_for_identical_bytes_and_misses_when_weights_change()
    {
        var src = ModelCases.Get("emotion").ModelPath;
        var modelDir = Directory.CreateDirectory(Path.Combine(_dir.FullName, "emotion"));
        File.Copy(RepoPaths.Require(src), Path.Combine(modelDir.FullName, "emotion.json"));
        File.Copy(Path.ChangeExtension(src, ".bin"), Path.Combine(modelDir.FullName, "emotion.bin"));
        var modelPath = Path.Combine(modelDir.FullName, "emotion.json");
        var options = new ImportOptions { Cache = new ImportCache(Path.Combine(_dir.FullName, "cache")) };

        var first = await TfjsImporter.ImportAsync(modelPath, Path.Combine(_dir.FullName, "a.onnx"), options, CancellationToken.None);
        var second = await TfjsImporter.ImportAsync(modelPath, Path.Combine(_dir.FullName, "b.onnx"), options, CancellationToken.None);

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(first.ContentHash, second.ContentHash);
        Assert.Equal(first.Outputs, second.Outputs);
        Assert.Equal(Path.Combine(_dir.FullName, "b.onnx"), second.OutputPath);
        Assert.Equal(await File.ReadAllBytesAsync(first.OutputPath), await File.ReadAllBytesAsync(second.OutputPath));

        // One changed weight byte is a different model.
        var bin = Path.Combine(modelDir.FullName, "emotion.bin");
        var bytes = await File.ReadAllBytesAsync(bin);
        bytes[100] ^= 0x01;
        await File.WriteAllBytesAsync(bin, bytes);
        var third = await TfjsImporter.ImportAsync(modelPath, Path.Combine(_dir.FullName, "c.onnx"), options, CancellationToken.None);
        Assert.False(third.FromCache);
        Assert.NotEqual(first.ContentHash, third.ContentHash);
    }

    [Theory]
    [InlineData("blazeface")]
    [InlineData("nanodet")]
    [InlineData("mobilenet_v2")]
    [InlineData("inception_v3")]
    public async Task Layout_conversion_leaves_no_redundant_transposes(string id)
    {
        var path = Path.Combine(_dir.FullName, id + ".onnx");
        var result = await TfjsImporter.ImportAsync(ModelCases.Get(id).ModelPath, path, null, CancellationToken.None);
        var model = ModelProto.Parser.ParseFrom(await File.ReadAllBytesAsync(path));
        var ops = model.Graph.Node.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).Select(g => $"{g.Key}={g.Count()}");
        output.WriteLine($"{id}: {string.Join(' ', ops)}");

        Assert.Equal(18, model.OpsetImport.Single().Version);
        Assert.Equal(result.NodeCount, model.Graph.Node.Count);
        var transposes = model.Graph.Node.Where(n => n.OpType == "Transpose").ToList();

        // At most: one NHWC->NCHW at the input, one back per spatial output; never two in a row.
        Assert.True(transposes.Count <= 1 + model.Graph.Output.Count, $"{transposes.Count} transposes");
        var producers = model.Graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        Assert.DoesNotContain(transposes, t => producers.TryGetValue(t.Input[0], out var p) && p.OpType == "Transpose");
    }

    [Fact]
    public void Js_literal_parser_reads_minified_object_literals()
    {
        var node = JsLiteralParser.Parse("""{a:!0,b:!1,c:.5,d:-1e-3,"e":[1,2,[]],f:null,'g':"x\"y",h:{},i:void 0,j:5.}""")!;
        Assert.True(node["a"]!.GetValue<bool>());
        Assert.False(node["b"]!.GetValue<bool>());
        Assert.Equal(0.5, node["c"]!.GetValue<double>());
        Assert.Equal(-1e-3, node["d"]!.GetValue<double>());
        Assert.Equal(3, node["e"]!.AsArray().Count);
        Assert.Null(node["f"]);
        Assert.Equal("x\"y", node["g"]!.GetValue<string>());
        Assert.Null(node["i"]);
        Assert.Equal(5, node["j"]!.GetValue<double>());
    }

    [Fact]
    public async Task Missing_model_file_is_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<TfjsImportException>(() =>
            TfjsImporter.ImportAsync(Path.Combine(_dir.FullName, "nope.json"), Path.Combine(_dir.FullName, "x.onnx"), null, CancellationToken.None));
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }
}
