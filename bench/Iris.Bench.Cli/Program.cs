using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Iris.Bench;
using Iris.Server.Hosting;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Task = System.Threading.Tasks.Task;

// Usage: nice dotnet run -c Release --project bench/Iris.Bench.Cli [-- <output.md> [photos] [rounds] [base-workflow]]
// One run, one machine: an in-process Iris server (SQLite, real gRPC on loopback) receives the same 1,000 photo files
// (real photographs from tests/photos.sh, repeated under distinct paths) from `iris upload` (the built CLI, a separate
// process, as a user runs it) and from a bare gRPC client in this process sending the same PostInputs batches of 128,
// alternating, each into a fresh app. Measured: the upload (first byte to the last PostInputs answer; for the CLI the
// whole process, start-up included) and end-to-end (until GetInputCount shows every input processed).
var root = FindRoot();
var outPath = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(root, "docs", "benchmarks.md");
var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
var baseWorkflow = args.Length > 3 ? args[3] : "Empty";
const string Pat = "benchcli0pat000000000000000000001";
const int Batch = 128;

string[] names =
[
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "china.jpg", "flower.jpg", "motorcycle_left.png", "motorcycle_right.png",
    "horse.png", "camera.png", "coins.png", "brick.png", "grass.png", "gravel.png", "moon.png", "retina.jpg", "hubble_deep_field.jpg",
    "page.png", "text.png", "clock_motion.png", "cell.png", "color.png", "logo.png", "ihc.png",
];
var photos = names.Select(n => Path.Combine(root, "artifacts/photos", n)).ToArray();
if (!photos.All(File.Exists))
{
    Console.Error.WriteLine("artifacts/photos is missing: run tests/photos.sh first.");
    return 1;
}

var cli = Path.Combine(root, "src/Iris.Cli/bin/Release/net10.0/iris.dll");
if (!File.Exists(cli))
{
    Console.Error.WriteLine($"{cli} is missing: dotnet build src/Iris.Cli -c Release");
    return 1;
}

var scratch = Directory.CreateTempSubdirectory("iris-bench-cli-");
try
{
    // 1,000 files as symbolic links to the photographs (no disk used), 100 per folder.
    var folder = Directory.CreateDirectory(Path.Combine(scratch.FullName, "photos")).FullName;
    var files = new List<string>();
    for (var i = 0; i < count; i++)
    {
        var dir = Directory.CreateDirectory(Path.Combine(folder, $"part{i / 100:00}")).FullName;
        var source = photos[i % photos.Length];
        var file = Path.Combine(dir, $"photo{i:0000}{Path.GetExtension(source)}");
        File.CreateSymbolicLink(file, source);
        files.Add(file);
    }

    files.Sort(StringComparer.Ordinal);
    var bytesTotal = files.Sum(f => new FileInfo(photos[files.IndexOf(f) % photos.Length]).Length);

    var options = new IrisServerOptions { DataDir = Path.Combine(scratch.FullName, "data"), HttpPort = 0, GrpcPort = 0, BootstrapPat = Pat };
    await using var server = IrisServer.Create(options);
    await server.StartAsync();
    var address = $"http://127.0.0.1:{server.GrpcPort}";
    using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxSendMessageSize = 128 << 20, MaxReceiveMessageSize = 128 << 20 });
    var client = new V2.V2Client(channel);
    var auth = new Metadata { { "authorization", "Key " + Pat } };

    async Task CreateAppAsync(string appId)
    {
        var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        request.Apps.Add(new App { Id = appId, DefaultWorkflow = new Workflow { Id = baseWorkflow, AppId = "main", UserId = "clarifai" } });
        var answer = await client.PostAppsAsync(request, auth);
        if (answer.Status.Code != StatusCode.Success)
        {
            throw new InvalidOperationException($"PostApps: {answer.Status}");
        }
    }

    async Task<double> WaitProcessedAsync(string appId, Stopwatch clock)
    {
        while (true)
        {
            var counts = (await client.GetInputCountAsync(new GetInputCountRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = appId } }, auth)).Counts;
            if (counts.Processed + counts.Errors >= count && counts.ToProcess == 0 && counts.Processing == 0)
            {
                if (counts.Processed != count)
                {
                    throw new InvalidOperationException($"{appId}: {counts.Errors} inputs failed");
                }

                return clock.Elapsed.TotalSeconds;
            }

            await Task.Delay(50);
        }
    }

    // The bare client: the same files, read once each, PostInputs batches of 128 in order, nothing else.
    async Task<(double Upload, double EndToEnd, double Internal)> BareAsync(string appId)
    {
        await CreateAppAsync(appId);
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < files.Count; start += Batch)
        {
            var request = new PostInputsRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = appId } };
            for (var i = start; i < Math.Min(start + Batch, files.Count); i++)
            {
                request.Inputs.Add(new Input { Id = $"bare-{i}", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(await File.ReadAllBytesAsync(files[i])) } } });
            }

            var answer = await client.PostInputsAsync(request, auth);
            if (answer.Status.Code != StatusCode.Success)
            {
                throw new InvalidOperationException($"PostInputs: {answer.Status}");
            }
        }

        var upload = clock.Elapsed.TotalSeconds;
        return (upload, await WaitProcessedAsync(appId, clock), upload);
    }

    // `iris upload <folder> --app A --no-wait` as a process; then the same wait as the bare client.
    async Task<(double Upload, double EndToEnd, double Internal)> CliAsync(string appId)
    {
        await CreateAppAsync(appId);
        var start = new ProcessStartInfo("dotnet", ["exec", cli, "upload", folder, "--app", appId, "--no-wait", "--no-color"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CLARIFAI_PAT"] = Pat;
        start.Environment["CLARIFAI_API_BASE"] = address;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var upload = clock.Elapsed.TotalSeconds;
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"iris upload exited {process.ExitCode}: {output}\n{await stderr}");
        }

        var match = Regex.Match(output, @"Uploaded (\d+) inputs in ([0-9.]+) s .*: (\d+) added");
        if (!match.Success || match.Groups[3].Value != count.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"unexpected iris upload output: {output}");
        }

        return (upload, await WaitProcessedAsync(appId, clock), double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    // Warm-up: one small batch each way (JIT, connections, the CLI binary in the page cache).
    await CreateAppAsync("warmup");
    var warm = new PostInputsRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = "warmup" } };
    warm.Inputs.Add(new Input { Id = "w", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(File.ReadAllBytes(photos[0])) } } });
    await client.PostInputsAsync(warm, auth);
    using (var help = Process.Start(new ProcessStartInfo("dotnet", ["exec", cli, "--help"]) { RedirectStandardOutput = true, UseShellExecute = false })!)
    {
        await help.StandardOutput.ReadToEndAsync();
        await help.WaitForExitAsync();
    }

    var results = new List<(string Client, int Round, double Upload, double EndToEnd, double Internal)>();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var round = 1; round <= rounds; round++)
    {
        // Alternate which goes first, so neither always meets the other's leftover work.
        foreach (var kind in round % 2 == 1 ? new[] { "bare", "cli" } : ["cli", "bare"])
        {
            var r = kind == "bare" ? await BareAsync($"bare{round}") : await CliAsync($"cli{round}");
            results.Add((kind == "bare" ? "bare gRPC client" : "iris upload (process)", round, r.Upload, r.EndToEnd, r.Internal));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind} round {round}: upload {r.Upload:F2} s (internal {r.Internal:F2} s), end-to-end {r.EndToEnd:F2} s"));
        }
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    var bare = results.Where(r => r.Client.StartsWith("bare", StringComparison.Ordinal)).ToList();
    var cliRuns = results.Where(r => r.Client.StartsWith("iris", StringComparison.Ordinal)).ToList();
    var uploadRatio = Median(bare.Select(r => r.Upload)) / Median(cliRuns.Select(r => r.Upload));
    var internalRatio = Median(bare.Select(r => r.Upload)) / Median(cliRuns.Select(r => r.Internal));
    var endToEndRatio = Median(bare.Select(r => r.EndToEnd)) / Median(cliRuns.Select(r => r.EndToEnd));

    var commit = Git(root, "rev-parse", "--short", "HEAD");
    var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
    var doc = new StringBuilder();
    var inv = CultureInfo.InvariantCulture;
    doc.AppendLine("## CLI upload (issue 15)");
    doc.AppendLine();
    doc.AppendLine(inv, $"`iris upload` of {count:N0} photo files beside the same `PostInputs` batches of {Batch} sent by a bare gRPC client, in one run.");
    doc.AppendLine();
    doc.AppendLine("```");
    doc.AppendLine("bash tests/photos.sh && dotnet build src/Iris.Cli -c Release && nice dotnet run -c Release --project bench/Iris.Bench.Cli");
    doc.AppendLine("```");
    doc.AppendLine();
    doc.AppendLine(inv, $"Run of {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on commit {commit}: .NET {Environment.Version}, {Environment.ProcessorCount} cores, Release build; {rounds} rounds, alternating which client goes first; base workflow `{baseWorkflow}`; load average {load} when the run ended (the machine is shared).");
    doc.AppendLine();
    doc.AppendLine("### iris upload ÷ bare client");
    doc.AppendLine();
    doc.AppendLine("Throughput of the CLI over the bare client's (medians; above 0.95 meets the goal).");
    doc.AppendLine();
    doc.AppendLine("| Measure | Ratio |");
    doc.AppendLine("| --- | ---: |");
    doc.AppendLine(inv, $"| Upload, whole `iris upload` process (start-up included) | **{uploadRatio:F2}** |");
    doc.AppendLine(inv, $"| Upload, as the CLI reports it (its batches only) | **{internalRatio:F2}** |");
    doc.AppendLine(inv, $"| End-to-end (upload + processing until GetInputCount shows all {count:N0}) | **{endToEndRatio:F2}** |");
    doc.AppendLine();
    doc.AppendLine("### All runs");
    doc.AppendLine();
    doc.AppendLine("| Client | Round | Upload s | Inputs/s | MB/s | CLI-reported upload s | End-to-end s |");
    doc.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    foreach (var r in results)
    {
        doc.AppendLine(inv, $"| {r.Client} | {r.Round} | {r.Upload:F2} | {count / r.Upload:F1} | {bytesTotal / 1e6 / r.Upload:F1} | {(r.Client.StartsWith("iris", StringComparison.Ordinal) ? r.Internal.ToString("F2", inv) : "")} | {r.EndToEnd:F2} |");
    }

    doc.AppendLine();
    doc.AppendLine("### How it is measured");
    doc.AppendLine();
    doc.AppendLine(inv, $"- **Files**: {count:N0} symbolic links, 100 per folder, to {photos.Length} photographs of `tests/photos.sh` (skimage / sklearn samples; {bytesTotal / 1e6:F0} MB sent by each client), so both clients read and send the same bytes; Iris stores each distinct content once (content-addressed blobs), the same for both.");
    doc.AppendLine("- **Server**: an in-process `IrisServer` (SQLite, temporary data directory) on loopback; each client uploads into a fresh app.");
    doc.AppendLine(inv, $"- **Bare client**: in this process, one `GrpcChannel`; for each batch of {Batch} files in path order it reads them, sends one `PostInputs`, and checks 10000 — no ids derived from content, no retries, no progress.");
    doc.AppendLine("- **iris upload**: `dotnet exec src/Iris.Cli/bin/Release/net10.0/iris.dll upload <folder> --app A --no-wait --no-color`, timed from process start to exit (runtime start-up, parsing, the folder walk, SHA-256 of each file for its id, the progress output); \"CLI-reported\" is the time it prints for its batches.");
    doc.AppendLine("- **End-to-end**: both are then followed by the same `GetInputCount` poll (every 50 ms) until every input is processed; all must succeed.");
    doc.AppendLine("- **Reading the ratios**: the machine is shared with other builds (see the load average), so single rounds vary by ±30 % for both clients alike; the medians over alternating rounds are what to compare. The gap between the whole process and the CLI-reported upload is the .NET start-up of a separate process (about 1 s here), paid once per command.");
    BenchmarkDoc.WriteSection(outPath, "## CLI upload (issue 15)", doc.ToString());
    Console.WriteLine($"Wrote the CLI upload section of {outPath} (cpu {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:F0} s in this process)");
    return 0;
}
finally
{
    scratch.Delete(recursive: true);
}

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
    {
        dir = dir.Parent;
    }

    return dir?.FullName ?? throw new InvalidOperationException("Iris.slnx not found above " + AppContext.BaseDirectory);
}

static string Git(string root, params string[] args)
{
    using var git = Process.Start(new ProcessStartInfo("git", args) { WorkingDirectory = root, RedirectStandardOutput = true, UseShellExecute = false })!;
    var text = git.StandardOutput.ReadToEnd().Trim();
    git.WaitForExit();
    return text;
}
