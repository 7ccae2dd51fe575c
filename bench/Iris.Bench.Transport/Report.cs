using System.Globalization;
using System.Text;

namespace Iris.Bench.Transport;

/// <summary>The markdown of one run, and its place in docs/benchmarks.md.</summary>
internal static class Report
{
    public const string Heading = "## Transport (issue 2)";


    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Per level and transport: Iris over the bare Kestrel baseline (and, for gRPC, over the Grpc.AspNetCore reference).</summary>
    public static string RatioTable(IReadOnlyList<Measurement> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Transport | Workers | Baseline | Throughput Iris/baseline | p50 latency Iris/baseline | p99 latency Iris/baseline | Extra CPU µs/call | Extra alloc B/call |");
        sb.AppendLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var iris in results.Where(r => r.Target.IsIris))
        {
            foreach (var baseline in results.Where(r => !r.Target.IsIris && r.Concurrency == iris.Concurrency
                         && string.Equals(r.Target.Transport, iris.Target.Transport, StringComparison.Ordinal)))
            {
                sb.Append(Invariant, $"| {iris.Target.Transport} | {iris.Concurrency} | {baseline.Target.Server} ");
                sb.Append(Invariant, $"| **{iris.RequestsPerSecond / baseline.RequestsPerSecond:0.00}** ");
                sb.Append(Invariant, $"| {iris.P50 / baseline.P50:0.00} | {iris.P99 / baseline.P99:0.00} ");
                sb.Append(Invariant, $"| {iris.CpuMicrosPerCall - baseline.CpuMicrosPerCall:+0.0;-0.0} ");
                sb.AppendLine(Invariant, $"| {iris.BytesPerCall - baseline.BytesPerCall:+0;-0} |");
            }
        }

        return sb.ToString();
    }

    public static string ResultTable(IReadOnlyList<Measurement> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Transport | Server | Workers | Calls | Requests/s | p50 µs | p99 µs | CPU µs/call | Alloc B/call | GCs gen0/gen2 | Errors |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            sb.Append(Invariant, $"| {r.Target.Transport} | {r.Target.Server} | {r.Concurrency} | {r.Calls:N0} | {r.RequestsPerSecond:N0} ");
            sb.Append(Invariant, $"| {r.P50:0} | {r.P99:0} | {r.CpuMicrosPerCall:0.0} | {r.BytesPerCall:N0} | {r.Gen0}/{r.Gen2} ");
            sb.AppendLine(Invariant, $"| {r.Errors + r.Dropped} |");
        }

        return sb.ToString();
    }

    public static string Section(IReadOnlyList<Measurement> results, BenchOptions options, string environment, IReadOnlyList<string> wire)
    {
        var levels = string.Join(" and ", options.Concurrency);
        var sb = new StringBuilder();
        sb.AppendLine(Heading);
        sb.AppendLine();
        sb.AppendLine("Unary `GetStatusCode(\"10000\")` (NoAuth, the handler only describes a code: the cheapest RPC Iris has) sent");
        sb.AppendLine("over gRPC and over REST to Iris, and to a bare Kestrel replaying the bytes Iris answered, in one run. The ratio");
        sb.AppendLine("is what Iris' pipeline (Grpc.AspNetCore or the REST gateway, request id, auth, handler registry, JSON) costs");
        sb.AppendLine("over the engine beneath it; the handler itself costs next to nothing here.");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine("dotnet run -c Release --project bench/Iris.Bench.Transport -- --write-doc");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(environment);
        sb.AppendLine();
        sb.AppendLine("### Iris ÷ baseline");
        sb.AppendLine();
        sb.AppendLine("Throughput below 1 and latency above 1 mean Iris is slower. Extra CPU and allocation are per call, for the whole");
        sb.AppendLine("process (the client's share is the same on both sides, so the difference is Iris' own).");
        sb.AppendLine();
        sb.Append(RatioTable(results));
        sb.AppendLine();
        sb.AppendLine("### All targets");
        sb.AppendLine();
        sb.Append(ResultTable(results));
        sb.AppendLine();
        sb.AppendLine("### How it is measured");
        sb.AppendLine();
        sb.AppendLine("- **Iris**: an in-process `IrisServer` on free loopback ports (temporary data directory, fixed bootstrap PAT), logging off.");
        sb.AppendLine("- **Bare Kestrel** (the baseline): `WebApplication.CreateSlimBuilder` with Kestrel set up as Iris sets it up (h2c");
        sb.AppendLine("  endpoint, HTTP/1.1 endpoint, no `Server` header) and one routed endpoint per transport. Before the run the benchmark");
        sb.AppendLine("  captures one gRPC and one REST response from Iris and the bare server replays them: for gRPC the length-prefixed");
        sb.AppendLine("  protobuf frame, response headers and the `grpc-status: 0` trailer written straight to the HTTP/2 stream (it drains");
        sb.AppendLine("  the request but decodes nothing); for REST the JSON body with the same content type and headers. Replays are");
        sb.AppendLine("  checked equal to Iris' answers (status, headers, body, trailers, with the per-request `req_id` masked) before");
        sb.AppendLine("  measuring. The `req_id` Iris generates per call is a fixed captured value in the replay. This is the raw engine");
        sb.AppendLine("  beneath Iris: the floor any server on Kestrel pays for these bytes.");
        sb.AppendLine("- **Grpc.AspNetCore, pre-built reply** (reference, gRPC only): a `V2.V2Base` service whose `GetStatusCode` returns");
        sb.AppendLine("  the captured response message, with the same Grpc.AspNetCore options as Iris. Bare Kestrel → this row is the gRPC");
        sb.AppendLine("  library's cost; this row → Iris is Iris' own pipeline.");
        sb.AppendLine("- **Clients**: Grpc.Net.Client with one shared `GrpcChannel` per server (all workers multiplex one HTTP/2");
        sb.AppendLine("  connection); `HttpClient` on `SocketsHttpHandler` with `MaxConnectionsPerServer` = workers over HTTP/1.1 keep-alive.");
        sb.AppendLine("  Every request carries `authorization: Key <PAT>`, as the official clients send it.");
        sb.AppendLine(Invariant, $"- **Load**: closed loop, {levels} workers; per target and level {options.WarmUp.TotalSeconds:0.#} s of warm-up, then");
        sb.AppendLine(Invariant, $"  {options.Duration.TotalSeconds:0.#} s measured in {options.Rounds} rounds whose target order alternates, after a full GC. Every latency");
        sb.AppendLine("  goes into a preallocated array; p50/p99 are nearest-rank over all of them. Requests/s is the median of the rounds");
        sb.AppendLine("  (a burst of outside load in one round does not decide it). CPU is the process' user+system time per call, the");
        sb.AppendLine("  figure least moved by other work on the machine.");
        sb.AppendLine("- **Caveat**: client and servers share the 2 cores, so the client's fixed cost per call dilutes the ratios; the");
        sb.AppendLine("  extra CPU µs/call column is the undiluted server-side difference. At 1 worker the CPU per call also counts the");
        sb.AppendLine("  thread pool spinning between calls and moves by tens of µs from run to run: read the 16-worker rows for CPU.");
        sb.AppendLine("  On a quiet machine a lone worker mostly waits for threads to wake up (p50 near 100 µs for every target), so");
        sb.AppendLine("  the 1-worker ratios sit near 1 and the 16-worker rows show what the pipeline costs.");
        sb.AppendLine("- **Profiling**: `--filter \"grpc iris\"` runs one target; `--timestamps` prints each measured segment's");
        sb.AppendLine("  CLOCK_MONOTONIC interval, so a `perf record -k CLOCK_MONOTONIC -g` profile of the whole run (with");
        sb.AppendLine("  `DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0`) can be cut per target and divided by its calls.");
        if (wire.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Replayed responses:");
            sb.AppendLine();
            foreach (var line in wire)
            {
                sb.AppendLine(Invariant, $"- {line}");
            }
        }

        return sb.ToString();
    }

    /// <summary>Replaces this benchmark's section (up to the next <c>## </c> heading) or appends it; other sections stay as they are.</summary>
    public static void WriteSection(string path, string section) => BenchmarkDoc.WriteSection(path, Heading, section);
}
