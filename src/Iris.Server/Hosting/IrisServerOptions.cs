using Iris.Core.Configuration;

namespace Iris.Server.Hosting;

/// <summary>
/// Settings of one Iris server. Each maps to an environment variable and a <c>./iris serve</c> flag
/// (see the settings table in README.md); defaults are the embedded, single-machine set-up.
/// </summary>
public sealed class IrisServerOptions
{
    /// <summary>Directory for all state (metadata, blobs, the bootstrap token). Env <c>IRIS_DATA_DIR</c>, flag <c>--data-dir</c>. Default <c>~/.iris</c>.</summary>
    public string DataDir { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".iris");

    /// <summary>
    /// The metadata database: a <c>postgresql://user:password@host:port/database</c> URI or an Npgsql connection string.
    /// Env <c>IRIS_DATABASE_URL</c>, flag <c>--database</c>. Default: none, i.e. SQLite in <c>&lt;data-dir&gt;/iris.db</c>.
    /// </summary>
    public string? DatabaseUrl { get; set; }

    /// <summary>
    /// Directory of the content-addressed blobs (originals, thumbnails). Nodes sharing one PostgreSQL database must
    /// share it too (e.g. an NFS mount). Env <c>IRIS_BLOB_DIR</c>, flag <c>--blob-dir</c>. Default <c>&lt;data-dir&gt;/blobs</c>.
    /// </summary>
    public string? BlobDir { get; set; }

    /// <summary><see cref="BlobDir"/>, or its default under the data directory.</summary>
    public string EffectiveBlobDir => string.IsNullOrWhiteSpace(BlobDir) ? Path.Combine(DataDir, "blobs") : BlobDir;

    /// <summary>Address both endpoints bind to. Env <c>IRIS_HOST</c>, flag <c>--host</c>. Default <c>127.0.0.1</c> (loopback only; use <c>0.0.0.0</c> to serve other machines).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>REST (HTTP/1.1 and h2c) port. Env <c>IRIS_HTTP_PORT</c>, flag <c>--http-port</c>. Default 8080; 0 picks a free port.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>gRPC (plaintext HTTP/2) port. Env <c>IRIS_GRPC_PORT</c>, flag <c>--grpc-port</c>. Default 18080; 0 picks a free port.</summary>
    public int GrpcPort { get; set; } = 18080;

    /// <summary>Largest gRPC message and REST body accepted, in bytes. Env <c>IRIS_MAX_MESSAGE_BYTES</c>. Default 128 MiB.</summary>
    public int MaxMessageBytes { get; set; } = 128 * 1024 * 1024;

    /// <summary>User id of the bootstrap user. Env <c>IRIS_BOOTSTRAP_USER</c>. Default <c>admin</c>.</summary>
    public string BootstrapUser { get; set; } = "admin";

    /// <summary>Bootstrap personal access token. Env <c>IRIS_BOOTSTRAP_PAT</c>. Default: generated on first start into <c>&lt;data-dir&gt;/bootstrap-pat</c>.</summary>
    public string? BootstrapPat { get; set; }

    /// <summary>
    /// PEM certificate for TLS on both ports (REST becomes HTTPS with HTTP/1.1 and HTTP/2 by ALPN; gRPC becomes TLS with
    /// ALPN h2). Env <c>IRIS_TLS_CERT</c>, flag <c>--tls-cert</c>. Default: none (plaintext). Set with <see cref="TlsKeyFile"/>.
    /// </summary>
    public string? TlsCertFile { get; set; }

    /// <summary>PEM private key of <see cref="TlsCertFile"/> (unencrypted). Env <c>IRIS_TLS_KEY</c>, flag <c>--tls-key</c>.</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>True when <see cref="TlsCertFile"/> and <see cref="TlsKeyFile"/> are set.</summary>
    public bool TlsEnabled => !string.IsNullOrWhiteSpace(TlsCertFile) && !string.IsNullOrWhiteSpace(TlsKeyFile);

    /// <summary>
    /// Origins browsers may call REST and gRPC-web from: a comma-separated list of <c>scheme://host[:port]</c>, or
    /// <c>*</c> for any. Env <c>IRIS_CORS_ORIGINS</c>, flag <c>--cors-origins</c>. Default: none (CORS off).
    /// </summary>
    public string? CorsOrigins { get; set; }

    /// <summary><see cref="CorsOrigins"/> as a list (empty when CORS is off); each origin is checked by <see cref="Validate"/>.</summary>
    public IReadOnlyList<string> CorsOriginList =>
        string.IsNullOrWhiteSpace(CorsOrigins) ? [] : CorsOrigins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Reads the <c>IRIS_*</c> environment variables over the defaults.</summary>
    public static IrisServerOptions FromEnvironment()
    {
        var options = new IrisServerOptions();
        options.DataDir = EnvSettings.String("IRIS_DATA_DIR") ?? options.DataDir;
        options.Host = EnvSettings.String("IRIS_HOST") ?? options.Host;
        options.DatabaseUrl = EnvSettings.String("IRIS_DATABASE_URL");
        options.BlobDir = EnvSettings.String("IRIS_BLOB_DIR");
        options.HttpPort = EnvSettings.Int("IRIS_HTTP_PORT") ?? options.HttpPort;
        options.GrpcPort = EnvSettings.Int("IRIS_GRPC_PORT") ?? options.GrpcPort;
        options.MaxMessageBytes = EnvSettings.Int("IRIS_MAX_MESSAGE_BYTES") ?? options.MaxMessageBytes;
        options.BootstrapUser = EnvSettings.String("IRIS_BOOTSTRAP_USER") ?? options.BootstrapUser;
        options.BootstrapPat = EnvSettings.String("IRIS_BOOTSTRAP_PAT");
        options.TlsCertFile = EnvSettings.String("IRIS_TLS_CERT");
        options.TlsKeyFile = EnvSettings.String("IRIS_TLS_KEY");
        options.CorsOrigins = EnvSettings.String("IRIS_CORS_ORIGINS");
        return options;
    }

    /// <summary>Throws with a message naming the setting when a value cannot work.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DataDir))
        {
            throw new InvalidOperationException("The data directory (IRIS_DATA_DIR / --data-dir) must be set.");
        }

        if (!string.IsNullOrWhiteSpace(DatabaseUrl))
        {
            try
            {
                _ = Iris.Storage.Db.PostgresDatabase.ToConnectionString(DatabaseUrl);
            }
            catch (Exception e) when (e is ArgumentException or UriFormatException or KeyNotFoundException)
            {
                throw new InvalidOperationException($"--database / IRIS_DATABASE_URL is neither a postgresql:// URI nor an Npgsql connection string: {e.Message}");
            }
        }

        if (HttpPort is < 0 or > 65535 || GrpcPort is < 0 or > 65535)
        {
            throw new InvalidOperationException("Ports must be between 0 and 65535.");
        }

        if (HttpPort != 0 && HttpPort == GrpcPort)
        {
            throw new InvalidOperationException("The HTTP and gRPC ports must differ.");
        }

        if (!System.Net.IPAddress.TryParse(Host, out _) && !string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"--host must be an IP address or localhost, not '{Host}'.");
        }

        if (MaxMessageBytes < 4 * 1024 * 1024)
        {
            throw new InvalidOperationException("IRIS_MAX_MESSAGE_BYTES must be at least 4 MiB.");
        }

        if (string.IsNullOrWhiteSpace(BootstrapUser))
        {
            throw new InvalidOperationException("IRIS_BOOTSTRAP_USER must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(TlsCertFile) != string.IsNullOrWhiteSpace(TlsKeyFile))
        {
            throw new InvalidOperationException("TLS needs both --tls-cert (IRIS_TLS_CERT) and --tls-key (IRIS_TLS_KEY); only one is set.");
        }

        foreach (var origin in CorsOriginList)
        {
            if (origin != "*" && !IsOrigin(origin))
            {
                throw new InvalidOperationException(
                    $"--cors-origins / IRIS_CORS_ORIGINS: '{origin}' is not an origin; use scheme://host[:port] without a path (e.g. https://portal.example.com), or *.");
            }
        }
    }

    private static bool IsOrigin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && !value.EndsWith('/')
        && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment) && string.IsNullOrEmpty(uri.UserInfo);
}
