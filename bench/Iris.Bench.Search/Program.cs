using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Iris.Bench;
using Iris.Search.Index;
using Iris.Testing;

// Iris' vector indexes beside Debian's hnswlib and faiss on the same seeded vectors, single-threaded, in one run:
// build time, memory per vector, recall@10 / QPS / p99 over an ef sweep (float and int8 walks), filtered QPS at 10 % and
// 1 % and the exact/walk cross-over, and what the first query after a restart costs.
// Usage: dotnet run -c Release --project bench/Iris.Bench.Search -- [count] [dim] [queries] [--no-doc]
//        dotnet run -c Release --project bench/Iris.Bench.Search -- e2e …   (visual search end to end over gRPC)
//        dotnet run -c Release --project bench/Iris.Bench.Search -- lab …   (where a search's time goes: Lab.cs)
if (args is ["e2e", ..]) { await Iris.Bench.Search.EndToEnd.RunAsync(FindRoot(), args[1..]); return; }
if (args is ["lab", ..]) { Iris.Bench.Search.Lab.Run(args[1..]); return; }
var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var dim = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1280;
var queryCount = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 500;
var writeDoc = !args.Contains("--no-doc");
const int K = 10;
int[] sweep = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256];
var work = Directory.CreateTempSubdirectory("iris-bench-search-");
var outPath = Path.Combine(FindRoot(), "docs", "benchmarks.md");
try
{
    Console.WriteLine($"{count} × {dim}-d embedding-like vectors, {queryCount} fresh queries; load {Load()}");
    var vectors = SeededVectors.Embeddings(count, dim, seed: 20261206);
    var queries = SeededVectors.Embeddings(queryCount, dim, seed: 7);
    foreach (var v in vectors.Concat(queries))
    {
        ExactIndex.Normalize(v, v);
    }

    Write(Path.Combine(work.FullName, "vectors.f32"), vectors);
    Write(Path.Combine(work.FullName, "queries.f32"), queries);

    // Exact: the ground truth, and the baseline every QPS is compared with.
    var exact = new ExactIndex();
    for (var i = 0; i < count; i++)
    {
        exact.Upsert(Key(i), vectors[i]);
    }

    var truth = new int[queryCount][];
    var (exactQps, exactP99) = Time(queries, q => exact.Search(q, K, null), (i, found) => truth[i] = [.. found.Select(n => Id(n.Key))]);
    File.WriteAllBytes(Path.Combine(work.FullName, "truth.i32"), MemoryMarshal.AsBytes(truth.SelectMany(t => t).ToArray().AsSpan()).ToArray());
    Console.WriteLine($"exact: {exactQps:F0} QPS, p99 {exactP99:F2} ms");

    GC.Collect();
    var before = GC.GetTotalMemory(true);
    var hnsw = new HnswIndex(new HnswOptions { Int8 = true });
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < count; i++)
    {
        hnsw.Upsert(Key(i), vectors[i]);
    }

    var build = clock.Elapsed.TotalSeconds;
    // Int8 keeps d bytes of codes per vector beside the floats: the float-only index is that much smaller.
    var bytesInt8 = (GC.GetTotalMemory(true) - before) / (double)count;
    var bytesFloat = bytesInt8 - dim;
    Console.WriteLine($"iris hnsw: built in {build:F1} s, {bytesFloat:F0} bytes/vector float, {bytesInt8:F0} with int8 codes; load {Load()}");

    var sweeps = new Dictionary<string, List<(int Ef, double Recall, double Qps, double P99)>>();
    foreach (var int8 in new[] { false, true })
    {
        hnsw.UseInt8 = int8;
        var rows = sweeps[int8 ? "Iris HNSW int8 + re-score" : "Iris HNSW float"] = [];
        foreach (var ef in sweep)
        {
            hnsw.EfSearch = ef;
            double hits = 0;
            var (qps, p99) = Time(queries, q => hnsw.Search(q, K, null), (i, found) => hits += found.Count(n => truth[i].Contains(Id(n.Key))));
            rows.Add((ef, hits / (queryCount * K), qps, p99));
            Console.WriteLine($"  {(int8 ? "int8" : "float")} ef {ef}: recall {hits / (queryCount * K):F4}, {qps:F0} QPS, p99 {p99:F2} ms");
        }
    }

    // Filtered: the planner's allowed set (SearchAmong), walked with a bitset, at the default ef, against the exact
    // filtered scan and against the unfiltered walk at the same ef; then the walk and the exact scan of the allowed
    // vectors side by side over shares, to place the cross-over.
    hnsw.EfSearch = new HnswOptions().EfSearch;
    var filtered = new List<(string Name, bool Int8, double Recall, double Qps, double P99, double ExactQps)>();
    var crossover = new List<(double Share, double WalkQps, double WalkRecall, double ExactQps)>();
    foreach (var share in new[] { 0.2, 0.1, 0.05, 0.02, 0.01, 0.005 })
    {
        var modulo = (uint)Math.Round(1 / share);
        var allowed = Enumerable.Range(0, count).Where(i => Mix(i) % modulo == 3).Select(Key).ToHashSet();
        var filteredTruth = new HashSet<string>[queryCount];
        var (exactFilteredQps, _) = Time(queries, q => exact.SearchAmong(q, K, allowed), (i, found) => filteredTruth[i] = [.. found.Select(n => n.Key)]);
        foreach (var int8 in new[] { false, true })
        {
            hnsw.UseInt8 = int8;
            double hits = 0;
            var (qps, p99) = Time(queries, q => hnsw.SearchAmong(q, K, allowed), (i, found) => hits += found.Count(n => filteredTruth[i].Contains(n.Key)));
            filtered.Add(($"{share * 100:0.#} %", int8, hits / (queryCount * K), qps, p99, exactFilteredQps));
            Console.WriteLine($"  filter {share:P1} ({(int8 ? "int8" : "float")}): recall {hits / (queryCount * K):F4}, {qps:F0} QPS, p99 {p99:F2} ms (exact filtered scan {exactFilteredQps:F0} QPS)");
        }

        hnsw.UseInt8 = false;
        var threshold = hnsw.ExactBelowSelectivity;
        (hnsw.ExactBelowSelectivity, hnsw.ScanWhenCheaper) = (0, false);
        double walkHits = 0;
        var (walkQps, _) = Time(queries, q => hnsw.SearchAmong(q, K, allowed), (i, found) => walkHits += found.Count(n => filteredTruth[i].Contains(n.Key)));
        hnsw.ExactBelowSelectivity = 1;
        var (scanQps, _) = Time(queries, q => hnsw.SearchAmong(q, K, allowed), (_, _) => { });
        (hnsw.ExactBelowSelectivity, hnsw.ScanWhenCheaper) = (threshold, true);
        crossover.Add((share, walkQps, walkHits / (queryCount * K), scanQps));
        Console.WriteLine($"    walk forced: {walkQps:F0} QPS (recall {walkHits / (queryCount * K):F4}); exact scan of the allowed vectors: {scanQps:F0} QPS");
    }

    // A restart: the node restores the snapshot (instead of rebuilding) and answers its first query; warm queries after.
    hnsw.UseInt8 = false;
    var snapshotClock = Stopwatch.StartNew();
    var snapshot = hnsw.Snapshot();
    var snapshotS = snapshotClock.Elapsed.TotalSeconds;
    var restoreClock = Stopwatch.StartNew();
    var restored = HnswIndex.Restore(snapshot, new HnswOptions { Int8 = true })!;
    var restoreS = restoreClock.Elapsed.TotalSeconds;
    restored.UseInt8 = false;
    var firstClock = Stopwatch.StartNew();
    restored.Search(queries[^1], K, null);
    var firstMs = firstClock.Elapsed.TotalMilliseconds;
    var (warmQps, _) = Time(queries, q => restored.Search(q, K, null), (_, _) => { });
    var restart = (SnapshotMb: snapshot.Length / 1048576.0, SnapshotS: snapshotS, RestoreS: restoreS, FirstMs: firstMs, WarmMs: 1000 / warmQps);
    Console.WriteLine($"  snapshot {restart.SnapshotMb:F0} MB written in {snapshotS:F1} s, restored in {restoreS:F1} s; first query {firstMs:F2} ms, warm {restart.WarmMs:F2} ms; load {Load()}");
    snapshot = null;
    restored = null;
    exact = null;
    hnsw = null;
    vectors = null;
    GC.Collect();

    Console.WriteLine("peers: /usr/bin/python3 peers.py (hnswlib, faiss)");
    var peers = RunPeers(work.FullName, count, dim, queryCount, sweep);
    var report = Report(count, dim, queryCount, exactQps, exactP99, build, bytesFloat, bytesInt8, sweeps, filtered, crossover, restart, peers);
    if (writeDoc)
    {
        BenchmarkDoc.WriteSection(outPath, "## Search (issue 11)", report);
    }

    Console.WriteLine(report);
}
finally
{
    work.Delete(recursive: true);
}

static string Key(int i) => "i" + i.ToString(CultureInfo.InvariantCulture);

static int Id(string key) => int.Parse(key.AsSpan(1), CultureInfo.InvariantCulture);

static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

static (double Qps, double P99) Time(float[][] queries, Func<float[], IReadOnlyList<Neighbor>> search, Action<int, IReadOnlyList<Neighbor>> check)
{
    for (var i = 0; i < Math.Min(20, queries.Length); i++)
    {
        search(queries[i]); // warm-up (JIT, caches), not timed
    }

    var latencies = new double[queries.Length];
    var results = new IReadOnlyList<Neighbor>[queries.Length];
    for (var i = 0; i < queries.Length; i++)
    {
        var t = Stopwatch.GetTimestamp();
        results[i] = search(queries[i]);
        latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
    }

    for (var i = 0; i < queries.Length; i++)
    {
        check(i, results[i]);
    }

    Array.Sort(latencies);
    return (queries.Length / (latencies.Sum() / 1000), latencies[(int)(0.99 * (latencies.Length - 1))]);
}

static void Write(string path, float[][] rows)
{
    using var file = File.Create(path);
    foreach (var row in rows)
    {
        file.Write(MemoryMarshal.AsBytes(row.AsSpan()));
    }
}

static List<JsonElement> RunPeers(string work, int count, int dim, int queries, int[] sweep)
{
    var script = Path.Combine(FindRoot(), "bench", "Iris.Bench.Search", "peers.py");
    var start = new ProcessStartInfo("/usr/bin/python3", [script, work, count.ToString(CultureInfo.InvariantCulture), dim.ToString(CultureInfo.InvariantCulture), queries.ToString(CultureInfo.InvariantCulture), string.Join(',', sweep)])
    {
        RedirectStandardOutput = true,
    };
    start.Environment["OMP_NUM_THREADS"] = "1";
    using var process = Process.Start(start)!;
    var lines = new List<JsonElement>();
    while (process.StandardOutput.ReadLine() is { } line)
    {
        Console.WriteLine("  " + line);
        lines.Add(JsonDocument.Parse(line).RootElement.Clone());
    }

    process.WaitForExit();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"peers.py exited with {process.ExitCode}; run bench/Iris.Bench.Search/setup.sh first.");
    }

    return lines;
}

static string Report(int count, int dim, int queries, double exactQps, double exactP99, double build, double bytesFloat, double bytesInt8,
    Dictionary<string, List<(int Ef, double Recall, double Qps, double P99)>> iris, List<(string Name, bool Int8, double Recall, double Qps, double P99, double ExactQps)> filtered,
    List<(double Share, double WalkQps, double WalkRecall, double ExactQps)> crossover,
    (double SnapshotMb, double SnapshotS, double RestoreS, double FirstMs, double WarmMs) restart, List<JsonElement> peers)
{
    static string At(IEnumerable<(int Ef, double Recall, double Qps, double P99)> sweep, double recall) =>
        sweep.FirstOrDefault(s => s.Recall >= recall) is { Ef: > 0 } s ? $"{s.Qps:F0} (ef {s.Ef}, p99 {s.P99:F2} ms)" : "not reached";
    static IEnumerable<(int Ef, double Recall, double Qps, double P99)> Sweep(JsonElement peer) =>
        peer.GetProperty("sweep").EnumerateArray().Select(r => (r.GetProperty("ef").GetInt32(), r.GetProperty("recall").GetDouble(), r.GetProperty("qps").GetDouble(), r.GetProperty("p99_ms").GetDouble()));

    var b = new StringBuilder();
    b.AppendLine("## Search (issue 11)");
    b.AppendLine();
    b.AppendLine(CultureInfo.InvariantCulture, $"`bench/Iris.Bench.Search/setup.sh && nice dotnet run -c Release --project bench/Iris.Bench.Search -- {count} {dim} {queries}`: {count:N0} seeded embedding-like vectors of {dim} dimensions");
    b.AppendLine("(`SeededVectors.Embeddings`: a 48-d latent mixture of 64 clusters mapped to the output dimension, small noise, rectified, L2-normalised),");
    b.AppendLine(CultureInfo.InvariantCulture, $"{queries} fresh queries from the same distribution (not copies of indexed vectors), k = 10, every engine single-threaded on the same vectors in one run; recall is");
    b.AppendLine("against the exact top 10. hnswlib and faiss are Debian's `python3-hnswlib` and `python3-faiss`, both built with M = 16 and ef_construction = 200 like Iris.");
    b.AppendLine();
    b.AppendLine("| engine | build (s) | memory / vector (bytes) | QPS at recall@10 ≥ 0.95 | QPS at recall@10 ≥ 0.99 |");
    b.AppendLine("|---|---:|---:|---:|---:|");
    b.AppendLine(CultureInfo.InvariantCulture, $"| Iris exact (SIMD scan) | 0 | {dim * 4} + key | {exactQps:F0} (recall 1, p99 {exactP99:F2} ms) | same |");
    foreach (var (name, rows) in iris)
    {
        var bytes = name.Contains("int8", StringComparison.Ordinal) ? bytesInt8 : bytesFloat;
        b.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {build:F1} | {bytes:F0} | {At(rows, 0.95)} | {At(rows, 0.99)} |");
    }

    foreach (var peer in peers)
    {
        b.AppendLine(CultureInfo.InvariantCulture, $"| {peer.GetProperty("engine").GetString()} | {peer.GetProperty("build_s").GetDouble():F1} | {peer.GetProperty("bytes_per_vector").GetDouble():F0} | {At(Sweep(peer), 0.95)} | {At(Sweep(peer), 0.99)} |");
    }

    b.AppendLine();
    b.AppendLine("One graph serves both Iris rows (built once with int8 codes; the float row walks the float vectors). Sweeps (ef: recall, QPS):");
    foreach (var (name, rows) in iris)
    {
        b.AppendLine("- " + name + ": " + string.Join("; ", rows.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Ef}: {s.Recall:F3}, {s.Qps:F0}"))) + ".");
    }

    foreach (var peer in peers)
    {
        b.AppendLine("- " + peer.GetProperty("engine").GetString() + ": " + string.Join("; ", Sweep(peer).Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Ef}: {s.Recall:F3}, {s.Qps:F0}"))) + ".");
    }

    b.AppendLine();
    var unfiltered = iris.First().Value.First(r => r.Ef == new HnswOptions().EfSearch);
    b.AppendLine(CultureInfo.InvariantCulture, $"Filtered (`SearchAmong`: the allowed set as a bitset over node ids), default ef {new HnswOptions().EfSearch}; the unfiltered float walk at that ef: {unfiltered.Qps:F0} QPS, recall {unfiltered.Recall:F3}. The walk keeps a list of 2·s·ef allowed nodes (at least 2·k); the allowed vectors are scored exactly at or below {new HnswOptions().ExactBelowSelectivity:P0}, or when that costs fewer distance computations than the walk (about 6·list / s).");
    b.AppendLine();
    b.AppendLine("| allowed share | walk | Iris QPS | recall@10 | p99 (ms) | Iris exact filtered scan QPS | faiss HNSW with IDSelector QPS (recall) |");
    b.AppendLine("|---|---|---:|---:|---:|---:|---:|");
    var faiss = peers.FirstOrDefault(p => p.TryGetProperty("filtered", out _));
    foreach (var f in filtered)
    {
        var peer = faiss.ValueKind == JsonValueKind.Object && faiss.GetProperty("filtered").TryGetProperty(f.Name.Replace(" ", "", StringComparison.Ordinal), out var pf) && pf.TryGetProperty("qps", out var pq)
            ? string.Create(CultureInfo.InvariantCulture, $"{pq.GetDouble():F0} ({pf.GetProperty("recall").GetDouble():F3})") : "n/a";
        b.AppendLine(CultureInfo.InvariantCulture, $"| {f.Name} | {(f.Int8 ? "int8" : "float")} | {f.Qps:F0} | {f.Recall:F3} | {f.P99:F2} | {f.ExactQps:F0} | {(f.Int8 ? "" : peer)} |");
    }

    b.AppendLine();
    b.AppendLine("Cross-over (float): the filtered graph walk forced, against scoring just the allowed vectors: " + string.Join("; ", crossover.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Share:P1}: walk {c.WalkQps:F0} QPS (recall {c.WalkRecall:F3}), scan {c.ExactQps:F0} QPS"))) + ".");
    b.AppendLine();
    b.AppendLine(CultureInfo.InvariantCulture, $"First query after a restart: a restarted node restores the HNSW snapshot from the blob store instead of rebuilding ({restart.SnapshotMb:F0} MB, written in {restart.SnapshotS:F1} s, restored in {restart.RestoreS:F1} s against {build:F1} s to rebuild); the first query on the restored graph took {restart.FirstMs:F2} ms, a warm one {restart.WarmMs:F2} ms on average. hnswlib with a filter is not measured: Debian's 0.6.2 has no filter in its Python API.");
    b.AppendLine();
    b.AppendLine(CultureInfo.InvariantCulture, $"Load average at the end of the run: {Load()} on {Environment.ProcessorCount} cores; on a shared machine absolute numbers are noisy and engines measured minutes apart see different load.");
    return b.ToString();
}

static string FindRoot()
{
    var dir = AppContext.BaseDirectory;
    while (!File.Exists(Path.Combine(dir, "Iris.slnx")))
    {
        dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("Run from inside the repository.");
    }

    return dir;
}
