using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using Iris.Server.Hosting;

namespace Iris.Bench.Transport;

internal static class Program
{
    private const int RecorderCapacity = 4_000_000;

    public static async Task<int> Main(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (UsageException error)
        {
            var help = string.Equals(error.Message, "help", StringComparison.Ordinal);
            await (help ? Console.Out : Console.Error).WriteLineAsync((help ? string.Empty : error.Message + "\n") + BenchOptions.Usage);
            return help ? 0 : 2;
        }

#if DEBUG
        await Console.Error.WriteLineAsync("warning: Debug build; numbers are only meaningful with -c Release.");
#endif

        var dataDir = Path.Combine(Path.GetTempPath(), "iris-bench-transport-" + Guid.NewGuid().ToString("N"));
        try
        {
            return await RunAsync(options, dataDir);
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static async Task<int> RunAsync(BenchOptions options, string dataDir)
    {
        await using var iris = IrisServer.Create(
            new IrisServerOptions { DataDir = dataDir, Host = "127.0.0.1", HttpPort = 0, GrpcPort = 0, BootstrapPat = Rpc.Pat },
            configureLogging: _ => { });
        await iris.StartAsync();
        Console.WriteLine($"Iris: gRPC 127.0.0.1:{iris.GrpcPort}, REST 127.0.0.1:{iris.HttpPort}");

        // Capture what Iris answers, and replay exactly that from the bare servers.
        var grpc = await Probe.GrpcAsync(iris.GrpcPort);
        var rest = await Probe.RestAsync(iris.HttpPort);
        var wire = new List<string>
        {
            $"gRPC ({grpc.Body.Length} bytes framed): headers `{grpc.DescribeHeaders()}`, trailers `{grpc.DescribeTrailers()}`",
            $"REST (HTTP {rest.StatusCode}): headers `{rest.DescribeHeaders()}`, body `{System.Text.Encoding.UTF8.GetString(rest.Body)}`",
        };
        foreach (var line in wire)
        {
            Console.WriteLine(line);
        }

        await using var bare = await BareKestrel.StartAsync(grpc, rest);
        await using var bareGrpc = await BareGrpcService.StartAsync(grpc);
        Console.WriteLine($"Bare Kestrel: gRPC 127.0.0.1:{bare.GrpcPort}, REST 127.0.0.1:{bare.HttpPort}; Grpc.AspNetCore reference 127.0.0.1:{bareGrpc.Port}");

        var checks = new (string Name, CapturedResponse Expected, Func<Task<CapturedResponse>> Actual)[]
        {
            ("Iris gRPC (second call)", grpc, () => Probe.GrpcAsync(iris.GrpcPort)),
            ("Iris REST (second call)", rest, () => Probe.RestAsync(iris.HttpPort)),
            ("bare Kestrel gRPC", grpc, () => Probe.GrpcAsync(bare.GrpcPort)),
            ("bare Kestrel REST", rest, () => Probe.RestAsync(bare.HttpPort)),
            ("Grpc.AspNetCore gRPC", grpc, () => Probe.GrpcAsync(bareGrpc.Port)),
        };
        foreach (var (name, expected, actual) in checks)
        {
            var difference = expected.Difference(await actual());
            if (difference is not null)
            {
                await Console.Error.WriteLineAsync($"{name} does not answer what Iris answered: {difference}");
                return 1;
            }
        }

        Console.WriteLine("Replays match Iris' responses (status, headers, body, trailers; req_id masked).");

        Target[] targets =
        [
            new GrpcTarget("Iris", isIris: true, iris.GrpcPort),
            new GrpcTarget("bare Kestrel", isIris: false, bare.GrpcPort),
            new GrpcTarget("Grpc.AspNetCore, pre-built reply", isIris: false, bareGrpc.Port),
            new RestTarget("Iris", isIris: true, iris.HttpPort, rest.Body.Length),
            new RestTarget("bare Kestrel", isIris: false, bare.HttpPort, rest.Body.Length),
        ];
        if (options.Filter is { } filter)
        {
            var selected = targets.Where(t => $"{t.Transport} {t.Server}".Contains(filter, StringComparison.OrdinalIgnoreCase)).ToArray();
            foreach (var dropped in targets.Except(selected))
            {
                dropped.Dispose();
            }

            targets = selected;
        }

        var recorders = targets.Select(_ => new LatencyRecorder(RecorderCapacity)).ToArray();
        var results = new List<Measurement>();
        var machineBefore = MachineCpu.Read();
        var total = Stopwatch.StartNew();
        try
        {
            foreach (var concurrency in options.Concurrency)
            {
                results.AddRange(await RunLevelAsync(options, targets, recorders, concurrency));
            }
        }
        finally
        {
            foreach (var target in targets)
            {
                target.Dispose();
            }
        }

        var others = MachineCpu.OthersShare(machineBefore, MachineCpu.Read(), total.Elapsed);
        Console.WriteLine($"Measured in {total.Elapsed.TotalSeconds:0} s; other processes used {others} of the machine's CPU meanwhile.");
        Console.WriteLine();
        Console.WriteLine(Report.RatioTable(results));
        Console.WriteLine(Report.ResultTable(results));

        if (results.Any(r => r.Errors > 0 || r.Dropped > 0))
        {
            await Console.Error.WriteLineAsync("Some calls failed or were not recorded; the document is not written.");
            return 1;
        }

        if (options.WriteDoc)
        {
            var path = options.DocPath ?? Path.Combine(FindRepoRoot(), "docs", "benchmarks.md");
            Report.WriteSection(path, Report.Section(results, options, DescribeEnvironment(options, others), wire));
            Console.WriteLine($"Wrote the \"{Report.Heading}\" section of {path}.");
        }

        return 0;
    }

    private static async Task<List<Measurement>> RunLevelAsync(BenchOptions options, Target[] targets, LatencyRecorder[] recorders, int concurrency)
    {
        foreach (var target in targets)
        {
            target.Prepare(concurrency);
        }

        foreach (var target in targets)
        {
            Console.WriteLine($"[{concurrency} workers] warm-up {target.Transport} {target.Server}");
            await LoadGenerator.RunAsync(target, concurrency, options.WarmUp, recorder: null);
        }

        var segments = targets.Select(_ => new List<Segment>()).ToArray();
        var slice = options.Duration / options.Rounds;
        for (var round = 0; round < options.Rounds; round++)
        {
            // Even rounds go forwards, odd rounds backwards: no target always runs first or last.
            var order = Enumerable.Range(0, targets.Length).ToArray();
            if (round % 2 == 1)
            {
                Array.Reverse(order);
            }

            foreach (var i in order)
            {
                var segment = await LoadGenerator.RunAsync(targets[i], concurrency, slice, recorders[i]);
                segments[i].Add(segment);
                var line = string.Create(CultureInfo.InvariantCulture,
                    $"[{concurrency} workers] round {round + 1}: {targets[i].Transport} {targets[i].Server}: {segment.Calls / segment.Elapsed.TotalSeconds:N0} req/s");
                Console.WriteLine(!options.Timestamps ? line : string.Create(CultureInfo.InvariantCulture,
                    $"{line} [{Seconds(segment.Start):0.000000} {Seconds(segment.End):0.000000}] {segment.Calls} calls"));
            }
        }

        var results = new List<Measurement>();
        for (var i = 0; i < targets.Length; i++)
        {
            results.Add(Measurement.From(targets[i], concurrency, segments[i], recorders[i]));
            recorders[i].Reset();
        }

        return results;
    }

    /// <summary>A Stopwatch timestamp in seconds, as perf prints sample times.</summary>
    private static double Seconds(long timestamp) => (double)timestamp / Stopwatch.Frequency;

    private static string DescribeEnvironment(BenchOptions options, string others)
    {
        var commit = Git("rev-parse --short HEAD");
        var dirty = Git("status --porcelain -- src") is { Length: > 0 } ? " with uncommitted changes in src/" : string.Empty;
        var gc = GCSettings.IsServerGC ? "server" : "workstation";
        return string.Create(CultureInfo.InvariantCulture,
            $"Run of {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on commit {commit ?? "unknown"}{dirty}: {RuntimeInformation.FrameworkDescription}, "
            + $"{RuntimeInformation.OSDescription.Trim()}, {Environment.ProcessorCount} cores, {gc} GC, Release build; "
            + $"{string.Join("/", options.Concurrency)} workers, {options.WarmUp.TotalSeconds:0.#} s warm-up and {options.Duration.TotalSeconds:0.#} s measured per target and level in {options.Rounds} rounds; "
            + $"other processes used {others} of the machine's CPU during the measurements.");
    }

    private static string? Git(string arguments)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = FindRepoRoot(),
            });
            if (git is null)
            {
                return null;
            }

            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>The directory holding Iris.slnx, from the working directory or else from the binary's location.</summary>
    private static string FindRepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (Iris.slnx); pass --doc PATH.");
    }
}
