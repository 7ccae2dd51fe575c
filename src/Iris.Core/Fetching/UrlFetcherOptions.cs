using System.Net;
using Iris.Core.Configuration;

namespace Iris.Core.Fetching;

/// <summary>
/// Settings of <see cref="UrlFetcher"/>, the one downloader of every URL Iris fetches (ingestion, predict, search,
/// workflows). The environment variables keep their <c>IRIS_INGEST_</c> names from when only ingestion downloaded.
/// </summary>
public sealed class UrlFetcherOptions
{
    /// <summary>TCP connect timeout, in seconds. Env <c>IRIS_INGEST_CONNECT_TIMEOUT_SECONDS</c>. Default 10.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// Time allowed for the answer and its whole body once connected, in seconds (redirect hops included). Env
    /// <c>IRIS_INGEST_READ_TIMEOUT_SECONDS</c>. Default 30. A download takes at most connect + read timeout.
    /// </summary>
    public int ReadTimeoutSeconds { get; set; } = 30;

    /// <summary>Largest body downloaded, in bytes (Clarifai's limit for images: 20 MB). Env <c>IRIS_INGEST_MAX_BYTES</c>.</summary>
    public long MaxBytes { get; set; } = 20L * 1024 * 1024;

    /// <summary>Concurrent downloads from one host (per redirect hop's host). Env <c>IRIS_INGEST_PER_HOST</c>. Default 4.</summary>
    public int PerHostConcurrency { get; set; } = 4;

    /// <summary>Redirects followed before the download fails (30002). Env <c>IRIS_INGEST_MAX_REDIRECTS</c>. Default 5.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>
    /// Whether URLs may reach loopback, private (RFC 1918, unique-local), CGNAT, link-local (cloud metadata) and other
    /// internal addresses. Env <c>IRIS_INGEST_ALLOW_PRIVATE_URLS</c> (<c>true</c>/<c>1</c>). Default false: a user
    /// could otherwise make Iris fetch from the machine's own network (SSRF).
    /// </summary>
    public bool AllowPrivateUrls { get; set; }

    /// <summary>
    /// Internal networks allowed even when <see cref="AllowPrivateUrls"/> is off, e.g. one image server on the LAN
    /// (<c>10.0.5.7/32</c>). Env <c>IRIS_INGEST_ALLOW_NETWORKS</c>: CIDR ranges separated by commas. Default none.
    /// </summary>
    public IReadOnlyList<IPNetwork> AllowedNetworks { get; set; } = [];

    public static UrlFetcherOptions FromEnvironment()
    {
        var o = new UrlFetcherOptions();
        o.ConnectTimeoutSeconds = EnvSettings.Int("IRIS_INGEST_CONNECT_TIMEOUT_SECONDS") ?? o.ConnectTimeoutSeconds;
        o.ReadTimeoutSeconds = EnvSettings.Int("IRIS_INGEST_READ_TIMEOUT_SECONDS") ?? o.ReadTimeoutSeconds;
        o.MaxBytes = EnvSettings.Long("IRIS_INGEST_MAX_BYTES") ?? o.MaxBytes;
        o.PerHostConcurrency = EnvSettings.Int("IRIS_INGEST_PER_HOST") ?? o.PerHostConcurrency;
        o.MaxRedirects = EnvSettings.Int("IRIS_INGEST_MAX_REDIRECTS") ?? o.MaxRedirects;
        o.AllowPrivateUrls = EnvSettings.Bool("IRIS_INGEST_ALLOW_PRIVATE_URLS") ?? o.AllowPrivateUrls;
        if (EnvSettings.String("IRIS_INGEST_ALLOW_NETWORKS") is { } networks)
        {
            var parsed = new List<IPNetwork>();
            foreach (var part in networks.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                parsed.Add(IPNetwork.TryParse(part, out var network)
                    ? network
                    : throw new InvalidOperationException($"IRIS_INGEST_ALLOW_NETWORKS must be CIDR ranges separated by commas, not '{part}'."));
            }

            o.AllowedNetworks = parsed;
        }

        o.Validate();
        return o;
    }

    public void Validate()
    {
        if (ConnectTimeoutSeconds < 1 || ReadTimeoutSeconds < 1 || MaxBytes < 1024 || PerHostConcurrency < 1 || MaxRedirects is < 0 or > 20)
        {
            throw new InvalidOperationException("Invalid IRIS_INGEST_* download setting: timeouts ≥ 1 s, max bytes ≥ 1 KiB, per-host ≥ 1, redirects 0–20.");
        }
    }
}
