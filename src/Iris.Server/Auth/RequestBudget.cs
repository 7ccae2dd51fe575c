using System.Collections.Concurrent;
using Iris.Server.Identity;

namespace Iris.Server.Auth;

/// <summary>
/// Per-key token buckets: each key earns <see cref="IdentityOptions.RateLimitPerSecond"/> requests per second up to
/// the burst size, and a request spends one. Off when the rate is 0. Memory: one small entry per key seen since start.
/// </summary>
public sealed class RequestBudget(IdentityOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public bool Enabled => options.RateLimitPerSecond > 0;

    /// <summary>Spends one request of <paramref name="keyId"/>'s budget; returns how long to wait when none is left.</summary>
    public TimeSpan? TrySpend(string keyId)
    {
        if (!Enabled)
        {
            return null;
        }

        var rate = options.RateLimitPerSecond;
        var capacity = Math.Max(1, options.RateLimitBurst ?? (int)Math.Ceiling(rate));
        var now = time.GetTimestamp();
        var bucket = _buckets.GetOrAdd(keyId, _ => new Bucket(capacity, now));
        lock (bucket)
        {
            var elapsed = time.GetElapsedTime(bucket.Stamp, now).TotalSeconds;
            bucket.Tokens = Math.Min(capacity, bucket.Tokens + (elapsed * rate));
            bucket.Stamp = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return null;
            }

            return TimeSpan.FromSeconds((1 - bucket.Tokens) / rate);
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        public double Tokens { get; set; } = tokens;

        public long Stamp { get; set; } = stamp;
    }
}
