using System.Globalization;

namespace Iris.Bench.Transport;

/// <summary>Command line of the benchmark; every default keeps one run under about two minutes on the 2-core machine.</summary>
internal sealed class BenchOptions
{
    /// <summary>Closed-loop workers per level; each level runs every target.</summary>
    public IReadOnlyList<int> Concurrency { get; private set; } = [1, 16];

    /// <summary>Warm-up per target and level, not measured.</summary>
    public TimeSpan WarmUp { get; private set; } = TimeSpan.FromSeconds(2);

    /// <summary>Measured time per target and level, split evenly over <see cref="Rounds"/>.</summary>
    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(8);

    /// <summary>Measured rounds per level; targets alternate order between rounds so drift hits them alike.</summary>
    public int Rounds { get; private set; } = 4;

    /// <summary>Writes the "## Transport (issue 2)" section of docs/benchmarks.md.</summary>
    public bool WriteDoc { get; private set; }

    /// <summary>Runs only the targets whose "transport server" contains this text (for profiling one of them).</summary>
    public string? Filter { get; private set; }

    /// <summary>Prints each measured segment's clock interval, to cut a <c>perf record -k CLOCK_MONOTONIC</c> profile per target.</summary>
    public bool Timestamps { get; private set; }

    /// <summary>Overrides the path of the benchmarks document.</summary>
    public string? DocPath { get; private set; }

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--write-doc":
                    options.WriteDoc = true;
                    break;
                case "--doc":
                    options.DocPath = Value(args, ref i);
                    break;
                case "--concurrency":
                    options.Concurrency = Value(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(v => Positive(arg, v)).ToArray();
                    break;
                case "--warmup":
                    options.WarmUp = TimeSpan.FromSeconds(Seconds(arg, Value(args, ref i)));
                    break;
                case "--duration":
                    options.Duration = TimeSpan.FromSeconds(Seconds(arg, Value(args, ref i)));
                    break;
                case "--filter":
                    options.Filter = Value(args, ref i);
                    break;
                case "--timestamps":
                    options.Timestamps = true;
                    break;
                case "--rounds":
                    options.Rounds = Positive(arg, Value(args, ref i));
                    break;
                case "-h" or "--help":
                    throw new UsageException(null);
                default:
                    throw new UsageException($"Unknown argument '{arg}'.");
            }
        }

        if (options.WriteDoc && options.Filter is not null)
        {
            throw new UsageException("--write-doc needs every target; drop --filter.");
        }

        if (options.Duration <= TimeSpan.Zero)
        {
            throw new UsageException("--duration must be above 0.");
        }

        return options;
    }

    public const string Usage = """
        Usage: dotnet run -c Release --project bench/Iris.Bench.Transport -- [options]
          --write-doc          write the "## Transport (issue 2)" section of docs/benchmarks.md
          --doc PATH           benchmarks document to write (default: docs/benchmarks.md of the repo)
          --concurrency 1,16   closed-loop workers per level (default 1,16)
          --warmup SECONDS     unmeasured warm-up per target and level (default 2)
          --duration SECONDS   measured time per target and level (default 8)
          --filter TEXT        run only targets whose "transport server" contains TEXT, e.g. "grpc iris" (profiling)
          --timestamps         print each measured segment's CLOCK_MONOTONIC interval (to cut a perf profile per target)
          --rounds N           measured rounds the duration is split over, order alternating (default 4)
        """;

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new UsageException($"{args[i - 1]} needs a value.");

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new UsageException($"{name} takes positive integers, not '{value}'.");

    private static double Seconds(string name, string value) =>
        double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var s) && s >= 0
            ? s
            : throw new UsageException($"{name} takes seconds, not '{value}'.");
}

internal sealed class UsageException(string? message) : Exception(message ?? "help");
