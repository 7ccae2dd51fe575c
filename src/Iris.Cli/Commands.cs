using Iris.Contracts.Descriptors;
using Iris.Inference.Import;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Compatibility;
using Iris.Server.Hosting;
using Iris.Server.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Cli;

/// <summary>The <c>iris</c> command: a thin shell over the server library.</summary>
internal static class Commands
{
    private const string Usage = """
        Usage:
          iris serve [--data-dir DIR] [--database URL] [--blob-dir DIR] [--http-port N] [--grpc-port N] [--host ADDR]
                     [--tls-cert PEM --tls-key PEM] [--cors-origins ORIGIN,...|*]
              Runs the server. Environment: IRIS_DATA_DIR (default ~/.iris), IRIS_HTTP_PORT (8080),
              IRIS_GRPC_PORT (18080), IRIS_HOST (127.0.0.1), IRIS_BOOTSTRAP_USER (admin), IRIS_BOOTSTRAP_PAT,
              IRIS_TLS_CERT / IRIS_TLS_KEY (TLS on both ports), IRIS_CORS_ORIGINS (browser origins; default none).
          iris models import-tfjs <model.json> <out.onnx> [--output LAYER_OR_TENSOR]... [--cache DIR]
              Converts a TensorFlow.js graph or layers model (or nsfwjs' model.min.js) to ONNX; --output adds a named
              intermediate output (e.g. a classifier's pooling layer, for an embedding), --cache reuses conversions.
          iris users create <user-id> [--first-name NAME] [--last-name NAME] [--email ADDRESS] [--data-dir DIR | --database URL]
          iris users list [--data-dir DIR | --database URL]
          iris users delete <user-id> [--data-dir DIR | --database URL]
          iris users token <user-id> [--description TEXT] [--data-dir DIR | --database URL]
              Manages users on the data directory (IRIS_DATA_DIR, default ~/.iris), also while the server runs. `token`
              prints a new personal access token once; deleting a user removes their tokens at once and their apps.
          iris docs api-compatibility [--out FILE]
              Writes the generated compatibility table (default docs/api-compatibility.md under the current directory).
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            return args switch
            {
                ["serve", .. var rest] => await ServeAsync(rest).ConfigureAwait(false),
                ["models", "import-tfjs", var model, var output, .. var rest] => await ImportTfjsAsync(model, output, rest).ConfigureAwait(false),
                ["docs", "api-compatibility", .. var rest] => await WriteCompatibilityAsync(rest).ConfigureAwait(false),
                ["users", var verb, .. var rest] => await UsersAsync(verb, rest).ConfigureAwait(false),
                ["--help" or "-h" or "help"] => PrintUsage(0),
                _ => PrintUsage(2),
            };
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
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync("iris: " + e.Message).ConfigureAwait(false);
            return 1;
        }
    }

    private static int PrintUsage(int code)
    {
        (code == 0 ? Console.Out : Console.Error).WriteLine(Usage);
        return code;
    }

    private static async Task<int> ServeAsync(string[] args)
    {
        var options = IrisServerOptions.FromEnvironment();
        var flags = Flags.Parse(args, "--data-dir", "--http-port", "--grpc-port", "--host", "--database", "--blob-dir", "--tls-cert", "--tls-key", "--cors-origins");
        options.DataDir = flags.GetValueOrDefault("--data-dir") ?? options.DataDir;
        options.DatabaseUrl = flags.GetValueOrDefault("--database") ?? options.DatabaseUrl;
        options.BlobDir = flags.GetValueOrDefault("--blob-dir") ?? options.BlobDir;
        options.Host = flags.GetValueOrDefault("--host") ?? options.Host;
        options.HttpPort = Flags.Int(flags, "--http-port") ?? options.HttpPort;
        options.GrpcPort = Flags.Int(flags, "--grpc-port") ?? options.GrpcPort;
        options.TlsCertFile = flags.GetValueOrDefault("--tls-cert") ?? options.TlsCertFile;
        options.TlsKeyFile = flags.GetValueOrDefault("--tls-key") ?? options.TlsKeyFile;
        options.CorsOrigins = flags.GetValueOrDefault("--cors-origins") ?? options.CorsOrigins;

        await using var server = IrisServer.Create(options);
        await server.StartAsync().ConfigureAwait(false);
        Console.WriteLine($"Iris is serving REST on {(options.TlsEnabled ? "https" : "http")}://{options.Host}:{server.HttpPort} and gRPC on {options.Host}:{server.GrpcPort}{(options.TlsEnabled ? " over TLS" : string.Empty)} (data: {Path.GetFullPath(options.DataDir)}; metadata: {server.Storage})");
        if (server.Bootstrap.Generated)
        {
            Console.WriteLine($"Bootstrap personal access token for user '{server.Bootstrap.UserId}' (shown once; also in {Path.Combine(options.DataDir, BootstrapCredentials.FileName)}):");
            Console.WriteLine(server.Bootstrap.Token);
        }

        await server.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> UsersAsync(string verb, string[] args)
    {
        var positional = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var flags = Flags.Parse(args[positional.Length..], "--data-dir", "--database", "--first-name", "--last-name", "--email", "--description");
        var environment = IrisServerOptions.FromEnvironment();
        var dataDir = flags.GetValueOrDefault("--data-dir") ?? environment.DataDir;
        await using var admin = await UserAdministration.OpenAsync(dataDir, flags.GetValueOrDefault("--database") ?? environment.DatabaseUrl).ConfigureAwait(false);
        switch (verb, positional)
        {
            case ("create", [var user]):
                await admin.CreateUserAsync(user, flags.GetValueOrDefault("--first-name") ?? string.Empty, flags.GetValueOrDefault("--last-name") ?? string.Empty,
                    flags.GetValueOrDefault("--email") ?? string.Empty).ConfigureAwait(false);
                Console.WriteLine($"Created user '{user}'. Give them a token with: iris users token {user}");
                return 0;
            case ("list", []):
                Console.WriteLine("USER\tNAME\tEMAIL\tTOKENS\tCREATED");
                foreach (var u in await admin.ListUsersAsync().ConfigureAwait(false))
                {
                    Console.WriteLine(string.Join('\t', u.Id, u.Name, u.PrimaryEmail, u.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        u.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)));
                }

                return 0;
            case ("delete", [var user]):
                await admin.DeleteUserAsync(user).ConfigureAwait(false);
                Console.WriteLine($"Deleted user '{user}': their tokens no longer work; their apps are being deleted.");
                return 0;
            case ("token", [var user]):
                var (keyId, secret) = await admin.CreateTokenAsync(user, flags.GetValueOrDefault("--description") ?? "created by iris users token").ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"Personal access token {keyId} for user '{user}' (shown once; store it now):").ConfigureAwait(false);
                Console.WriteLine(secret);
                return 0;
            default:
                throw new UsageException($"unknown or incomplete command 'users {verb} {string.Join(' ', positional)}'.");
        }
    }

    private static async Task<int> ImportTfjsAsync(string model, string output, string[] args)
    {
        var outputs = new List<string>();
        string? cache = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--output" when i + 1 < args.Length:
                    outputs.Add(args[++i]);
                    break;
                case "--cache" when i + 1 < args.Length:
                    cache = args[++i];
                    break;
                default:
                    throw new UsageException($"unknown or incomplete option '{args[i]}'.");
            }
        }

        var result = await TfjsImporter.ImportAsync(model, output, new ImportOptions
        {
            IntermediateOutputs = outputs,
            Cache = cache is null ? null : new ImportCache(cache),
        }).ConfigureAwait(false);
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
    }

    private static async Task<int> WriteCompatibilityAsync(string[] args)
    {
        var flags = Flags.Parse(args, "--out");
        var output = flags.GetValueOrDefault("--out") ?? CompatibilityTable.RelativePath;
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

internal sealed class UsageException(string message) : Exception(message);

internal static class Flags
{
    public static Dictionary<string, string> Parse(string[] args, params string[] known)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string name, value;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                name = arg;
                if (i + 1 >= args.Length)
                {
                    throw new UsageException($"{name} needs a value.");
                }

                value = args[++i];
            }

            if (!known.Contains(name, StringComparer.Ordinal))
            {
                throw new UsageException($"unknown option '{name}'.");
            }

            result[name] = value;
        }

        return result;
    }

    public static int? Int(Dictionary<string, string> flags, string name) =>
        flags.TryGetValue(name, out var v)
            ? int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : throw new UsageException($"{name} must be an integer.")
            : null;
}
