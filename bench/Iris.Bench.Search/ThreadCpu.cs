using System.Runtime.InteropServices;

namespace Iris.Bench.Search;

/// <summary>
/// CPU time of the calling thread (clock_gettime(CLOCK_THREAD_CPUTIME_ID)): on a machine shared with other work, QPS per
/// CPU-second of the searching thread is far steadier than per wall-clock second, which counts the time other processes
/// held the core. peers.py measures hnswlib and faiss the same way (time.thread_time).
/// </summary>
internal static partial class ThreadCpu
{
    private const int ClockThreadCpuTimeId = 3;

    public static double Seconds()
    {
        if (ClockGetTime(ClockThreadCpuTimeId, out var t) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed.");
        }

        return t.Seconds + t.Nanoseconds / 1e9;
    }

    /// <summary>Minor page faults of the calling thread so far (getrusage RUSAGE_THREAD, ru_minflt): a first touch of a fresh page.</summary>
    public static long MinorFaults()
    {
        Span<long> usage = stackalloc long[18];
        if (GetRusage(RusageThread, ref usage[0]) != 0)
        {
            throw new InvalidOperationException("getrusage(RUSAGE_THREAD) failed.");
        }

        // struct rusage: two timevals (4 longs), ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, then ru_minflt.
        return usage[8];
    }

    private const int RusageThread = 1;

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, ref long usage);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);
}
