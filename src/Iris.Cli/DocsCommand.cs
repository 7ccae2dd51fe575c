using System.CommandLine;
using Iris.Contracts.Descriptors;
using Iris.Server.Api;
using Iris.Server.Compatibility;
using Iris.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Cli;

/// <summary><c>iris docs api-compatibility</c>: writes the generated compatibility table.</summary>
internal static class DocsCommand
{
    public static Command Build()
    {
        var output = new Option<string?>("--out") { Description = "Where to write it (default docs/api-compatibility.md under the current directory)", HelpName = "FILE" };
        var compatibility = new Command("api-compatibility", "Writes the generated compatibility table.") { output };
        compatibility.SetAction(async (parsed, _) => await WriteCompatibilityAsync(parsed.GetValue(output) ?? CompatibilityTable.RelativePath).ConfigureAwait(false));
        return new Command("docs", "Generated documentation.") { compatibility };
    }

    private static async Task<int> WriteCompatibilityAsync(string output)
    {
        var scratch = Directory.CreateTempSubdirectory("iris-docs-");
        try
        {
            var options = new IrisServerOptions { DataDir = scratch.FullName, HttpPort = 0, GrpcPort = 0, BootstrapPat = null };
            await using var server = IrisServer.Create(options);
            var text = CompatibilityTable.Render(ApiCatalog.Instance, server.Services.GetRequiredService<HandlerRegistry>());
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            await File.WriteAllTextAsync(output, text).ConfigureAwait(false);
            Console.WriteLine($"Wrote {output}");
            return 0;
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }
}
