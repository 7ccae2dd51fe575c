using System.CommandLine;
using Iris.Inference.Import;

namespace Iris.Cli;

/// <summary>
/// The <c>iris</c> command: the command tree (System.CommandLine) and the one place where failures become exit codes.
/// Exit codes: 0 success, 1 a failure (a Clarifai status, an import error, a server that cannot start), 2 a usage error.
/// </summary>
internal static class IrisCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Iris: a self-hosted server for the Clarifai API v2, and a client for it.")
        {
            ServeCommand.Build(),
            UsersCommand.Build(),
            ModelsCommand.Build(),
            DocsCommand.Build(),
        };
        foreach (var command in ClientCommands.Build())
        {
            root.Add(command);
        }

        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["help"])
        {
            args = ["--help"];
        }

        var parsed = Build().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync("iris: " + error.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Run 'iris --help' (or 'iris <command> --help') for usage.").ConfigureAwait(false);
            return 2;
        }

        try
        {
            var invocation = new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                // `serve` leaves SIGINT/SIGTERM to the server's host, which shuts down gracefully; the client commands get a
                // cancelled token on Ctrl+C and stop between batches (a re-run finishes what was left).
                ProcessTerminationTimeout = parsed.CommandResult.Command.Name == "serve" ? null : TimeSpan.FromSeconds(10),
            };
            return await parsed.InvokeAsync(invocation).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync("iris: " + e.Message).ConfigureAwait(false);
            return 2;
        }
        catch (TfjsImportException e)
        {
            await Console.Error.WriteLineAsync("iris: import failed: " + e.Message).ConfigureAwait(false);
            return 1;
        }
        catch (ClarifaiStatusException e)
        {
            await Console.Error.WriteLineAsync("iris: " + e.Message).ConfigureAwait(false);
            return 1;
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync("iris: " + e.Message).ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("iris: interrupted.").ConfigureAwait(false);
            return 130;
        }
    }
}

/// <summary>A command line that parses but cannot be carried out as given (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
