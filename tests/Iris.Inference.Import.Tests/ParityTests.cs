using System.Globalization;
using Xunit.Abstractions;

namespace Iris.Inference.Import.Tests;

/// <summary>
/// Converted model under ONNX Runtime vs. the original under TensorFlow.js (CPU backend), same input tensor
/// built from a real photograph. Every output must match within 1e-3 (absolute, relative above 1).
/// </summary>
public sealed class ParityTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-3;

    [Theory]
    [MemberData(nameof(ModelCases.Ids), MemberType = typeof(ModelCases))]
    public async Task Converted_model_matches_tfjs(string id)
    {
        var model = ModelCases.Get(id);
        RepoPaths.Require(model.ModelPath);
        var dir = Directory.CreateTempSubdirectory("iris-import-parity-");
        try
        {
            var onnxPath = Path.Combine(dir.FullName, id + ".onnx");
            var result = await TfjsImporter.ImportAsync(
                model.ModelPath,
                onnxPath,
                new ImportOptions { IntermediateOutputs = model.ExtraOutputs },
                CancellationToken.None);
            Assert.True(File.Exists(onnxPath));
            Assert.Single(result.Inputs);

            var input = model.Input();
            using var runner = new OnnxRunner(onnxPath);
            var ort = runner.Run(result.Inputs[0].OnnxName, input, model.Shape);
            Assert.Equal(result.Outputs.Select(o => o.OnnxName), ort.Select(o => o.Name));
            foreach (var extra in model.ExtraOutputs)
            {
                Assert.Contains(result.Outputs, o => string.Equals(o.OnnxName, extra, StringComparison.Ordinal));
            }

            var reference = TfjsReference.Run(model.ModelPath, result.Inputs[0].SourceName, input, model.Shape, result.Outputs.Select(o => o.SourceName).ToList());
            Assert.Equal(ort.Count, reference.Outputs.Count);
            for (var i = 0; i < ort.Count; i++)
            {
                var expected = reference.Outputs[i];
                var actual = ort[i];
                Assert.Equal(expected.Shape, actual.Shape);
                Assert.Equal(expected.Data.Length, actual.Data.Length);
                double maxErr = 0;
                var worst = -1;
                for (var j = 0; j < expected.Data.Length; j++)
                {
                    var e = expected.Data[j];
                    var err = Math.Abs(actual.Data[j] - e) / Math.Max(1.0, Math.Abs(e));
                    if (!(err <= maxErr))
                    {
                        maxErr = err;
                        worst = j;
                    }
                }

                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{id} output '{actual.Name}' [{string.Join(',', actual.Shape)}]: max error {maxErr:E2} (max abs value {expected.Data.Max(MathF.Abs):G4}, tfjs {reference.FirstRunMs:F0} ms)"));
                Assert.True(
                    maxErr <= Tolerance,
                    string.Create(CultureInfo.InvariantCulture, $"{id} output '{actual.Name}': max error {maxErr:E3} at {worst} (tfjs {expected.Data[worst]}, onnx {actual.Data[worst]})"));
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
