namespace Iris.Bench.Transport;

/// <summary>
/// One target at one concurrency level, all measured rounds together. <see cref="RequestsPerSecond"/> is the median of
/// the rounds, so a burst of outside load during one round does not decide the ratio; percentiles are over every call.
/// </summary>
internal sealed record Measurement(
    Target Target,
    int Concurrency,
    long Calls,
    long Errors,
    TimeSpan Elapsed,
    TimeSpan Cpu,
    long Allocated,
    int Gen0,
    int Gen2,
    double P50,
    double P99,
    int Dropped,
    double RequestsPerSecond)
{
    /// <summary>Calls over the whole measured time of all rounds.</summary>
    public double MeanRequestsPerSecond => Calls / Elapsed.TotalSeconds;

    /// <summary>Process CPU (client and server together) per completed call.</summary>
    public double CpuMicrosPerCall => Cpu.TotalMicroseconds / Calls;

    /// <summary>Bytes allocated in the process (client and server together) per completed call.</summary>
    public double BytesPerCall => (double)Allocated / Calls;

    public static Measurement From(Target target, int concurrency, IReadOnlyList<Segment> segments, LatencyRecorder recorder)
    {
        var percentiles = recorder.Percentiles(0.50, 0.99);
        return new Measurement(
            target,
            concurrency,
            segments.Sum(s => s.Calls),
            segments.Sum(s => s.Errors),
            TimeSpan.FromTicks(segments.Sum(s => s.Elapsed.Ticks)),
            TimeSpan.FromTicks(segments.Sum(s => s.Cpu.Ticks)),
            segments.Sum(s => s.Allocated),
            segments.Sum(s => s.Gen0),
            segments.Sum(s => s.Gen2),
            percentiles[0],
            percentiles[1],
            recorder.Dropped,
            Median(segments.Select(s => s.Calls / s.Elapsed.TotalSeconds)));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
