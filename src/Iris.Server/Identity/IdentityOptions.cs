using Iris.Core.Configuration;

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

    public static IdentityOptions FromEnvironment()
    {
        var options = new IdentityOptions();
        if (EnvSettings.Double("IRIS_RATE_LIMIT_PER_SECOND") is { } rate)
        {
            options.RateLimitPerSecond = rate >= 0 ? rate : throw new InvalidOperationException($"IRIS_RATE_LIMIT_PER_SECOND must be a number >= 0, not '{rate}'.");
        }

        if (EnvSettings.Int("IRIS_RATE_LIMIT_BURST") is { } burst)
        {
            options.RateLimitBurst = burst >= 1 ? burst : throw new InvalidOperationException($"IRIS_RATE_LIMIT_BURST must be an integer >= 1, not '{burst}'.");
        }

        return options;
    }
}
