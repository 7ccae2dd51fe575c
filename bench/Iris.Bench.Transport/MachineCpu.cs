using System.Globalization;

namespace Iris.Bench.Transport;

/// <summary>
/// Busy CPU time of the whole machine (Linux <c>/proc/stat</c>) beside this process' own, to tell whether other work
/// shared the cores during a run. The load average cannot: the benchmark's own threads raise it.
/// </summary>
internal readonly record struct MachineCpu(TimeSpan MachineBusy, TimeSpan Own)
{
    /// <summary>Kernel clock ticks per second of /proc/stat (USER_HZ, 100 on Linux).</summary>
    private const double UserHz = 100;

    public static MachineCpu? Read()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
            var values = fields.Skip(1).Take(8).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var busy = values.Sum() - values[3] - values[4];
            return new MachineCpu(TimeSpan.FromSeconds(busy / UserHz), Environment.CpuUsage.TotalTime);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Other processes' CPU time over the interval, as a share of all cores, e.g. "3%"; "an unknown share" off Linux.</summary>
    public static string OthersShare(MachineCpu? before, MachineCpu? after, TimeSpan elapsed)
    {
        if (before is not { } b || after is not { } a)
        {
            return "an unknown share";
        }

        var others = (a.MachineBusy - b.MachineBusy) - (a.Own - b.Own);
        var share = Math.Max(0, others.TotalSeconds) / (elapsed.TotalSeconds * Environment.ProcessorCount);
        return share.ToString("0%", CultureInfo.InvariantCulture);
    }
}
