using Iris.Core.Configuration;

namespace Iris.Server.Inputs;

/// <summary>
/// Settings of input ingestion (the background processing of added inputs). Each maps to an environment variable;
/// tests replace the whole object in DI.
/// </summary>
public sealed class IngestionOptions
{
    /// <summary>Concurrent ingestion workers. Env <c>IRIS_INGEST_WORKERS</c>. Default 2 (decoding is CPU-bound; one per core on small machines).</summary>
    public int Workers { get; set; } = 2;

    /// <summary>How long a claimed job stays leased without renewal, in seconds. Env <c>IRIS_INGEST_LEASE_SECONDS</c>. Default 60; a crashed process's jobs run again after this.</summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>Claims of one job before its input fails for good. Env <c>IRIS_INGEST_MAX_ATTEMPTS</c>. Default 5.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>First retry delay, in milliseconds, doubled per attempt up to 60 s. Env <c>IRIS_INGEST_RETRY_MS</c>. Default 1000.</summary>
    public int RetryBaseMs { get; set; } = 1000;

    /// <summary>TCP connect timeout of URL downloads, in seconds. Env <c>IRIS_INGEST_CONNECT_TIMEOUT_SECONDS</c>. Default 10.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>Time allowed for the response and its whole body once connected, in seconds. Env <c>IRIS_INGEST_READ_TIMEOUT_SECONDS</c>. Default 30.</summary>
    public int ReadTimeoutSeconds { get; set; } = 30;

    /// <summary>Largest image accepted, in bytes (Clarifai's limit: 20 MB). Env <c>IRIS_INGEST_MAX_BYTES</c>.</summary>
    public long MaxImageBytes { get; set; } = 20L * 1024 * 1024;

    /// <summary>Concurrent downloads from one host. Env <c>IRIS_INGEST_PER_HOST</c>. Default 4.</summary>
    public int PerHostConcurrency { get; set; } = 4;

    /// <summary>
    /// Whether URLs may point at loopback, private (RFC 1918, unique-local), link-local or cloud-metadata addresses.
    /// Env <c>IRIS_INGEST_ALLOW_PRIVATE_URLS</c> (<c>true</c>/<c>1</c>). Default false: a user could otherwise make
    /// Iris fetch from the machine's own network (SSRF).
    /// </summary>
    public bool AllowPrivateUrls { get; set; }

    /// <summary>Longest side of the <c>small</c> hosted thumbnail, in pixels. Default 320.</summary>
    public int ThumbnailSize { get; set; } = 320;

    /// <summary>
    /// Base URL clients use to reach Iris' REST port, for <c>data.image.hosted</c> (e.g. <c>https://iris.example.com</c>).
    /// Env <c>IRIS_PUBLIC_URL</c>. Default: <c>http://&lt;host&gt;:&lt;bound REST port&gt;</c>.
    /// </summary>
    public string? PublicUrl { get; set; }

    public static IngestionOptions FromEnvironment()
    {
        var o = new IngestionOptions();
        o.Workers = EnvSettings.Int("IRIS_INGEST_WORKERS") ?? o.Workers;
        o.LeaseSeconds = EnvSettings.Int("IRIS_INGEST_LEASE_SECONDS") ?? o.LeaseSeconds;
        o.MaxAttempts = EnvSettings.Int("IRIS_INGEST_MAX_ATTEMPTS") ?? o.MaxAttempts;
        o.RetryBaseMs = EnvSettings.Int("IRIS_INGEST_RETRY_MS") ?? o.RetryBaseMs;
        o.ConnectTimeoutSeconds = EnvSettings.Int("IRIS_INGEST_CONNECT_TIMEOUT_SECONDS") ?? o.ConnectTimeoutSeconds;
        o.ReadTimeoutSeconds = EnvSettings.Int("IRIS_INGEST_READ_TIMEOUT_SECONDS") ?? o.ReadTimeoutSeconds;
        o.MaxImageBytes = EnvSettings.Int("IRIS_INGEST_MAX_BYTES") ?? o.MaxImageBytes;
        o.PerHostConcurrency = EnvSettings.Int("IRIS_INGEST_PER_HOST") ?? o.PerHostConcurrency;
        o.AllowPrivateUrls = EnvSettings.Bool("IRIS_INGEST_ALLOW_PRIVATE_URLS") ?? o.AllowPrivateUrls;
        o.PublicUrl = EnvSettings.String("IRIS_PUBLIC_URL")?.TrimEnd('/');
        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (Workers is < 1 or > 64 || LeaseSeconds < 2 || MaxAttempts < 1 || RetryBaseMs < 0 || ConnectTimeoutSeconds < 1 || ReadTimeoutSeconds < 1
            || MaxImageBytes < 1024 || PerHostConcurrency < 1 || ThumbnailSize < 16)
        {
            throw new InvalidOperationException("Invalid IRIS_INGEST_* setting: workers 1–64, lease ≥ 2 s, attempts ≥ 1, timeouts ≥ 1 s, max bytes ≥ 1 KiB, per-host ≥ 1.");
        }
    }
}
