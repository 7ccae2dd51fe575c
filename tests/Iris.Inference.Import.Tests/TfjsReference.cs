using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Iris.Inference.Import.Tests;

/// <summary>One output of the reference TensorFlow.js run.</summary>
internal sealed record ReferenceOutput(string Name, long[] Shape, float[] Data);

internal sealed record ReferenceRun(IReadOnlyList<ReferenceOutput> Outputs, double FirstRunMs, IReadOnlyList<double> TimesMs);

/// <summary>Runs the original model under TensorFlow.js (CPU backend) through tests/parity/tfjs-run.js.</summary>
internal static class TfjsReference
{
    public static ReferenceRun Run(string modelPath, string inputName, float[] input, long[] shape, IReadOnlyList<string> outputs, int repeat = 0)
    {
        RepoPaths.Require(RepoPaths.ParityScript);
        RepoPaths.Require(Path.Combine(RepoPaths.NodeModules, "@tensorflow", "tfjs", "package.json"));
        var work = Directory.CreateTempSubdirectory("iris-tfjs-parity-");
        try
        {
            var inputFile = Path.Combine(work.FullName, "input.bin");
            File.WriteAllBytes(inputFile, MemoryMarshal.AsBytes(input.AsSpan()).ToArray());
            var request = new JsonObject
            {
                ["model"] = modelPath,
                ["input"] = new JsonObject { ["name"] = inputName, ["file"] = inputFile, ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()) },
                ["outputs"] = new JsonArray(outputs.Select(o => (JsonNode)o).ToArray()),
                ["outDir"] = Path.Combine(work.FullName, "out"),
                ["repeat"] = repeat,
            };
            var requestFile = Path.Combine(work.FullName, "request.json");
            File.WriteAllText(requestFile, request.ToJsonString());

            var psi = new ProcessStartInfo("node", [RepoPaths.ParityScript, requestFile])
            {
                WorkingDirectory = RepoPaths.Root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"tfjs reference run failed ({process.ExitCode}): {stderr.Result}\n{stdout.Result}");

            var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(work.FullName, "out", "manifest.json")))!;
            var list = new List<ReferenceOutput>();
            foreach (var o in manifest["outputs"]!.AsArray())
            {
                var bytes = File.ReadAllBytes(o!["file"]!.GetValue<string>());
                list.Add(new ReferenceOutput(
                    o["name"]!.GetValue<string>(),
                    o["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray(),
                    MemoryMarshal.Cast<byte, float>(bytes).ToArray()));
            }

            return new ReferenceRun(
                list,
                manifest["firstRunMs"]!.GetValue<double>(),
                manifest["timesMs"]!.AsArray().Select(t => t!.GetValue<double>()).ToArray());
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException("bad manifest from tfjs-run.js", e);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
