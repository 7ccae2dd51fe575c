using System.Globalization;

namespace Iris.Server.Identity;

/// <summary>Settings of identity and access. Each is read from an <c>IRIS_*</c> environment variable.</summary>
public sealed class IdentityOptions
{
    /// <summary>
    /// Sustained requests per second each key (PAT or API key) may make. Env <c>IRIS_RATE_LIMIT_PER_SECOND</c>.
    /// Default 0: no budget (throttling off). Over budget a request answers 11005 (HTTP 429 with <c>Retry-After</c>).
    /// </summary>
    public double RateLimitPerSecond { get; set; }

    /// <summary>Requests a key may make in a burst above the sustained rate (bucket size). Env <c>IRIS_RATE_LIMIT_BURST</c>. Default: one second's worth, at least 1.</summary>
    public int? RateLimitBurst { get; set; }

    /// <summary>How often the deletion worker looks for apps marked for deletion by another process (e.g. <c>iris users delete</c>), in seconds. Env <c>IRIS_APP_DELETION_POLL_SECONDS</c>. Default 10.</summary>
    public int DeletionPollSeconds { get; set; } = 10;

    public static IdentityOptions FromEnvironment()
    {
        var options = new IdentityOptions();
        if (Environment.GetEnvironmentVariable("IRIS_RATE_LIMIT_PER_SECOND") is { Length: > 0 } rate)
        {
            options.RateLimitPerSecond = double.TryParse(rate, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r >= 0
                ? r : throw new InvalidOperationException($"IRIS_RATE_LIMIT_PER_SECOND must be a number >= 0, not '{rate}'.");
        }

        if (Environment.GetEnvironmentVariable("IRIS_RATE_LIMIT_BURST") is { Length: > 0 } burst)
        {
            options.RateLimitBurst = int.TryParse(burst, CultureInfo.InvariantCulture, out var b) && b >= 1
                ? b : throw new InvalidOperationException($"IRIS_RATE_LIMIT_BURST must be an integer >= 1, not '{burst}'.");
        }

        if (Environment.GetEnvironmentVariable("IRIS_APP_DELETION_POLL_SECONDS") is { Length: > 0 } poll)
        {
            options.DeletionPollSeconds = int.TryParse(poll, CultureInfo.InvariantCulture, out var p) && p >= 1
                ? p : throw new InvalidOperationException($"IRIS_APP_DELETION_POLL_SECONDS must be an integer >= 1, not '{poll}'.");
        }

        return options;
    }
}
