using System.Diagnostics;

namespace Iris.Bench.Transport;

/// <summary>Every latency of one target at one level, in Stopwatch ticks, in an array allocated before the run.</summary>
internal sealed class LatencyRecorder(int capacity)
{
    private readonly long[] _ticks = new long[capacity];
    private int _next;

    public int Count => Math.Min(Volatile.Read(ref _next), _ticks.Length);

    /// <summary>Calls past the capacity are counted but not kept (reported, never expected at these durations).</summary>
    public int Dropped => Math.Max(0, Volatile.Read(ref _next) - _ticks.Length);

    public void Add(long ticks)
    {
        var i = Interlocked.Increment(ref _next) - 1;
        if (i < _ticks.Length)
        {
            _ticks[i] = ticks;
        }
    }

    public void Reset() => _next = 0;

    /// <summary>Sorts the kept latencies in place and returns the nearest-rank percentiles, in microseconds.</summary>
    public double[] Percentiles(params double[] ranks)
    {
        var count = Count;
        Array.Sort(_ticks, 0, count);
        var result = new double[ranks.Length];
        for (var i = 0; i < ranks.Length; i++)
        {
            result[i] = count == 0 ? double.NaN
                : _ticks[Math.Clamp((int)Math.Ceiling(ranks[i] * count) - 1, 0, count - 1)] * 1_000_000.0 / Stopwatch.Frequency;
        }

        return result;
    }
}

/// <summary>Totals of one measured segment: calls, errors, wall time, process CPU time and bytes allocated.</summary>
/// <remarks><see cref="Start"/> and <see cref="End"/> are raw Stopwatch timestamps (CLOCK_MONOTONIC on Linux, the clock
/// <c>perf record -k CLOCK_MONOTONIC</c> stamps samples with), so a profile can be cut per target.</remarks>
internal readonly record struct Segment(long Calls, long Errors, TimeSpan Elapsed, TimeSpan Cpu, long Allocated, int Gen0, int Gen2, long Start, long End);

/// <summary>
/// Closed loop: N workers each send one call, wait for its answer, record the latency, and send the next, until the
/// deadline. Same generator, same client settings for every target.
/// </summary>
internal static class LoadGenerator
{
    public static async Task<Segment> RunAsync(Target target, int concurrency, TimeSpan duration, LatencyRecorder? recorder)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        var gen0 = GC.CollectionCount(0);
        var gen2 = GC.CollectionCount(2);
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var cpu = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);

        var workers = new Task<(long Calls, long Errors)>[concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(target, deadline, recorder));
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        var end = Stopwatch.GetTimestamp();
        var elapsed = Stopwatch.GetElapsedTime(start, end);
        var cpuUsed = Environment.CpuUsage.TotalTime - cpu;
        var allocatedNow = GC.GetTotalAllocatedBytes(precise: false);
        return new Segment(
            workers.Sum(w => w.Result.Calls),
            workers.Sum(w => w.Result.Errors),
            elapsed,
            cpuUsed,
            allocatedNow - allocated,
            GC.CollectionCount(0) - gen0,
            GC.CollectionCount(2) - gen2,
            start,
            end);
    }

    private static async Task<(long Calls, long Errors)> WorkAsync(Target target, long deadline, LatencyRecorder? recorder)
    {
        long calls = 0;
        long errors = 0;
        Exception? first = null;
        while (true)
        {
            var begin = Stopwatch.GetTimestamp();
            if (begin >= deadline)
            {
                break;
            }

            try
            {
                await target.CallAsync().ConfigureAwait(false);
            }
            catch (Exception error)
            {
                errors++;
                first ??= error;
                continue;
            }

            recorder?.Add(Stopwatch.GetTimestamp() - begin);
            calls++;
        }

        if (first is not null)
        {
            await Console.Error.WriteLineAsync($"  {target.Transport} {target.Server}: {errors} failed calls, first: {first.GetType().Name}: {first.Message}").ConfigureAwait(false);
        }

        return (calls, errors);
    }
}
