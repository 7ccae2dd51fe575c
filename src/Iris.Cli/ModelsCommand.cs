using System.CommandLine;
using Iris.Inference.Import;

namespace Iris.Cli;

/// <summary><c>iris models import-tfjs</c> (local) and <c>iris models list</c> (a client command).</summary>
internal static class ModelsCommand
{
    public static Command Build()
    {
        var models = new Command("models", "Imports model files, lists models.");
        models.Add(BuildImportTfjs());
        models.Add(ClientCommands.BuildModelsList());
        return models;
    }

    private static Command BuildImportTfjs()
    {
        var model = new Argument<string>("model.json") { Description = "A TensorFlow.js graph or layers model.json (or nsfwjs' model.min.js)" };
        var output = new Argument<string>("out.onnx") { Description = "Where to write the ONNX model" };
        var outputs = new Option<string[]>("--output")
        {
            Description = "Adds a named intermediate output (e.g. a classifier's pooling layer, for an embedding); repeatable",
            HelpName = "LAYER_OR_TENSOR",
        };
        var cache = new Option<string?>("--cache") { Description = "Reuses conversions from this directory", HelpName = "DIR" };
        var command = new Command("import-tfjs",
            "Converts a TensorFlow.js graph or layers model (or nsfwjs' model.min.js) to ONNX.") { model, output, outputs, cache };
        command.SetAction(async (parsed, _) =>
        {
            var cacheDir = parsed.GetValue(cache);
            var result = await TfjsImporter.ImportAsync(parsed.GetRequiredValue(model), parsed.GetRequiredValue(output), new ImportOptions
            {
                IntermediateOutputs = parsed.GetValue(outputs) ?? [],
                Cache = cacheDir is null ? null : new ImportCache(cacheDir),
            }, CancellationToken.None).ConfigureAwait(false);
            Console.WriteLine($"Wrote {result.OutputPath} ({result.SourceFormat}, {result.NodeCount} nodes{(result.FromCache ? ", from cache" : string.Empty)}, sha256 {result.ContentHash})");
            foreach (var input in result.Inputs)
            {
                Console.WriteLine($"  input  {input.OnnxName} {input.DataType} [{string.Join(",", input.Shape ?? [])}]");
            }

            foreach (var o in result.Outputs)
            {
                Console.WriteLine($"  output {o.OnnxName} {o.DataType} [{string.Join(",", o.Shape ?? [])}] <- {o.SourceName}");
            }

            return 0;
        });
        return command;
    }
}
