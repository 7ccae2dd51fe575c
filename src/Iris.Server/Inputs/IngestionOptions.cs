using Iris.Core.Configuration;

namespace Iris.Server.Inputs;

/// <summary>
/// Settings of input ingestion (the background processing of added inputs). Each maps to an environment variable;
/// tests replace the whole object in DI.
/// </summary>
public sealed class IngestionOptions
{
    /// <summary>
    /// Inputs decoded, thumbnailed and run through the base workflow at once (the CPU-bound part of ingestion; their
    /// base-workflow calls batch in the inference engine). Env <c>IRIS_INGEST_WORKERS</c>. Default 2 (one per core on
    /// small machines).
    /// </summary>
    public int Workers { get; set; } = 2;

    /// <summary>
    /// Ingest jobs one node runs at once, most of them waiting on downloads (I/O-bound, cheap: a socket and at most
    /// <see cref="MaxImageBytes"/> each) before taking one of the <see cref="Workers"/>. Env <c>IRIS_INGEST_DOWNLOADS</c>.
    /// Default 16.
    /// </summary>
    public int Downloads { get; set; } = 16;

    /// <summary>
    /// Of the <see cref="Downloads"/>, how many one app may hold on one node, so one app's backlog or slow URLs always
    /// leave room for other apps' inputs. Env <c>IRIS_INGEST_DOWNLOADS_PER_APP</c>. Default: three quarters of
    /// <see cref="Downloads"/> (12 of 16), at least 1.
    /// </summary>
    public int? DownloadsPerApp { get; set; }

    /// <summary><see cref="DownloadsPerApp"/> or its default.</summary>
    public int EffectiveDownloadsPerApp => DownloadsPerApp ?? Math.Max(1, Downloads * 3 / 4);

    /// <summary>How long a claimed job stays leased without renewal, in seconds. Env <c>IRIS_INGEST_LEASE_SECONDS</c>. Default 60; a crashed process's jobs run again after this.</summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>Claims of one job before its input fails for good. Env <c>IRIS_INGEST_MAX_ATTEMPTS</c>. Default 5.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>First retry delay, in milliseconds, doubled per attempt up to 60 s. Env <c>IRIS_INGEST_RETRY_MS</c>. Default 1000.</summary>
    public int RetryBaseMs { get; set; } = 1000;

    /// <summary>
    /// Largest image or text accepted, in bytes (Clarifai's limit: 20 MB). Env <c>IRIS_INGEST_MAX_BYTES</c>, which also
    /// bounds downloads (<see cref="Iris.Core.Fetching.UrlFetcherOptions.MaxBytes"/>, with the other download settings).
    /// </summary>
    public long MaxImageBytes { get; set; } = 20L * 1024 * 1024;

    /// <summary>Longest side of the <c>small</c> hosted thumbnail, in pixels. Default 320.</summary>
    public int ThumbnailSize { get; set; } = 320;

    /// <summary>
    /// Base URL clients use to reach Iris' REST port, for <c>data.image.hosted</c> (e.g. <c>https://iris.example.com</c>).
    /// Env <c>IRIS_PUBLIC_URL</c>. Default: <c>http://&lt;host&gt;:&lt;bound REST port&gt;</c> (<c>https</c> with TLS).
    /// </summary>
    public string? PublicUrl { get; set; }

    public static IngestionOptions FromEnvironment()
    {
        var o = new IngestionOptions();
        o.Workers = EnvSettings.Int("IRIS_INGEST_WORKERS") ?? o.Workers;
        o.Downloads = EnvSettings.Int("IRIS_INGEST_DOWNLOADS") ?? o.Downloads;
        o.DownloadsPerApp = EnvSettings.Int("IRIS_INGEST_DOWNLOADS_PER_APP");
        o.LeaseSeconds = EnvSettings.Int("IRIS_INGEST_LEASE_SECONDS") ?? o.LeaseSeconds;
        o.MaxAttempts = EnvSettings.Int("IRIS_INGEST_MAX_ATTEMPTS") ?? o.MaxAttempts;
        o.RetryBaseMs = EnvSettings.Int("IRIS_INGEST_RETRY_MS") ?? o.RetryBaseMs;
        o.MaxImageBytes = EnvSettings.Int("IRIS_INGEST_MAX_BYTES") ?? o.MaxImageBytes;
        o.PublicUrl = EnvSettings.String("IRIS_PUBLIC_URL")?.TrimEnd('/');
        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (Workers is < 1 or > 64 || Downloads is < 1 or > 1024 || DownloadsPerApp is < 1 || DownloadsPerApp > Downloads || LeaseSeconds < 2 || MaxAttempts < 1 || RetryBaseMs < 0 || MaxImageBytes < 1024 || ThumbnailSize < 16)
        {
            throw new InvalidOperationException("Invalid IRIS_INGEST_* setting: workers 1–64, downloads 1–1024, downloads per app 1–downloads, lease ≥ 2 s, attempts ≥ 1, max bytes ≥ 1 KiB.");
        }
    }
}
