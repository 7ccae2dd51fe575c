using System.CommandLine;
using Iris.Server.Auth;
using Iris.Server.Hosting;

namespace Iris.Cli;

/// <summary><c>iris serve</c>: every flag of the server, and how each one lands on <see cref="IrisServerOptions"/>.</summary>
internal static class ServeCommand
{
    /// <summary>The flags of <c>iris serve</c>; a flag wins over its environment variable (<see cref="IrisServerOptions.FromEnvironment"/>).</summary>
    private sealed class Flags
    {
        public readonly Option<string?> DataDir = new("--data-dir") { Description = "State of this node (IRIS_DATA_DIR, default ~/.iris)", HelpName = "DIR" };
        public readonly Option<string?> Database = new("--database") { Description = "postgresql://user:pass@host:port/db; empty = SQLite in the data dir (IRIS_DATABASE_URL)", HelpName = "URL" };
        public readonly Option<string?> BlobDir = new("--blob-dir") { Description = "Originals and thumbnails; default <data-dir>/blobs (IRIS_BLOB_DIR)", HelpName = "DIR" };
        public readonly Option<int?> HttpPort = new("--http-port") { Description = "REST port, 0 = any free port (IRIS_HTTP_PORT, 8080)", HelpName = "N" };
        public readonly Option<int?> GrpcPort = new("--grpc-port") { Description = "gRPC port, 0 = any free port (IRIS_GRPC_PORT, 18080)", HelpName = "N" };
        public readonly Option<string?> Host = new("--host") { Description = "Address both ports bind to (IRIS_HOST, 127.0.0.1)", HelpName = "ADDR" };
        public readonly Option<string?> TlsCert = new("--tls-cert") { Description = "PEM certificate (chain): TLS on both ports, with --tls-key (IRIS_TLS_CERT)", HelpName = "PEM" };
        public readonly Option<string?> TlsKey = new("--tls-key") { Description = "PEM private key of --tls-cert (IRIS_TLS_KEY)", HelpName = "PEM" };
        public readonly Option<string?> CorsOrigins = new("--cors-origins") { Description = "Browser origins allowed by CORS, comma-separated or * (IRIS_CORS_ORIGINS; default none)", HelpName = "ORIGIN,...|*" };

        public IEnumerable<Option> All => [DataDir, Database, BlobDir, HttpPort, GrpcPort, Host, TlsCert, TlsKey, CorsOrigins];

        public IrisServerOptions Apply(ParseResult parsed, IrisServerOptions options)
        {
            options.DataDir = parsed.GetValue(DataDir) ?? options.DataDir;
            options.DatabaseUrl = parsed.GetValue(Database) ?? options.DatabaseUrl;
            options.BlobDir = parsed.GetValue(BlobDir) ?? options.BlobDir;
            options.Host = parsed.GetValue(Host) ?? options.Host;
            options.HttpPort = parsed.GetValue(HttpPort) ?? options.HttpPort;
            options.GrpcPort = parsed.GetValue(GrpcPort) ?? options.GrpcPort;
            options.TlsCertFile = parsed.GetValue(TlsCert) ?? options.TlsCertFile;
            options.TlsKeyFile = parsed.GetValue(TlsKey) ?? options.TlsKeyFile;
            options.CorsOrigins = parsed.GetValue(CorsOrigins) ?? options.CorsOrigins;
            return options;
        }
    }

    public static Command Build()
    {
        var flags = new Flags();
        var command = new Command("serve",
            "Runs the server. Environment: IRIS_DATA_DIR (default ~/.iris), IRIS_HTTP_PORT (8080), IRIS_GRPC_PORT (18080), " +
            "IRIS_HOST (127.0.0.1), IRIS_BOOTSTRAP_USER (admin), IRIS_BOOTSTRAP_PAT, IRIS_TLS_CERT / IRIS_TLS_KEY (TLS on both ports), " +
            "IRIS_CORS_ORIGINS (browser origins; default none); every setting in docs/configuration.md.");
        foreach (var option in flags.All)
        {
            command.Add(option);
        }

        command.SetAction(async (parsed, _) => await ServeAsync(flags.Apply(parsed, IrisServerOptions.FromEnvironment())).ConfigureAwait(false));
        return command;
    }

    private static async Task<int> ServeAsync(IrisServerOptions options)
    {
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
}
