using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Iris.Bench;
using Iris.Bench.Search;
using Iris.Search.Index;
using Iris.Testing;

// Iris' vector indexes beside Debian's hnswlib and faiss on the same seeded vectors, single-threaded, in one run:
// build time, memory per vector, recall@10 / QPS / p99 over an ef sweep (float and int8 walks), filtered QPS at 10 % and
// 1 % and the exact/walk cross-over, and what the first query after a restart costs.
// Usage: dotnet run -c Release --project bench/Iris.Bench.Search -- [count] [dim] [queries] [--no-doc] [--cache DIR [--stage prepare|iris|peers]]
//        [--fill Always|Never|…] [--seed N] (the level draws of Iris' graph and hnswlib's random_seed; 42 as a server's)
//        [--upper-ef A,B,…] (after the restore: the unfiltered sweeps for each HnswIndex.UpperEf, then stop)
//        dotnet run -c Release --project bench/Iris.Bench.Search -- e2e …   (visual search end to end over gRPC)
//        dotnet run -c Release --project bench/Iris.Bench.Search -- lab …   (where a search's time goes: Lab.cs)
// --cache DIR keeps what is slow to make in DIR and reuses it: the vectors and queries, the exact ground truth and
// exact QPS, Iris' graph (its snapshot) and hnswlib's and faiss' saved indexes with their build measures. A re-run
// then costs the query phase only. --stage runs one step: prepare (vectors, ground truth), iris (Iris' build and
// snapshot, from the vectors alone) or peers (hnswlib's and faiss' builds), so the builds can run side by side.
if (args is ["e2e", ..]) { await Iris.Bench.Search.EndToEnd.RunAsync(FindRoot(), args[1..]); return; }
if (args is ["lab", ..]) { Iris.Bench.Search.Lab.Run(args[1..]); return; }
int Flag(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
string? Text(string name) => Array.IndexOf(args, name) is var i and >= 0 ? args[i + 1] : null;
var numbers = new List<int>();
for (var a = 0; a < args.Length; a++)
{
    if (args[a].StartsWith("--", StringComparison.Ordinal))
    {
        a += args[a] is "--ef-construction" or "--rounds" or "--cache" or "--stage" or "--fill" or "--seed" or "--upper-ef" ? 1 : 0;
        continue;
    }

    numbers.Add(int.Parse(args[a], CultureInfo.InvariantCulture));
}

var count = numbers.Count > 0 ? numbers[0] : 100_000;
var dim = numbers.Count > 1 ? numbers[1] : 1280;
var queryCount = numbers.Count > 2 ? numbers[2] : 500;
var efConstruction = Flag("--ef-construction", 200);
var rounds = Flag("--rounds", 2);
var writeDoc = !args.Contains("--no-doc");
var withFaiss = !args.Contains("--no-faiss");
var withRestart = !args.Contains("--no-restart");
var cacheDir = Text("--cache");
var stage = Text("--stage");
const int K = 10;
int[] sweep = count > 100_000 ? [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048] : [10, 16, 24, 32, 48, 64, 96, 128, 192, 256];
int[] filteredSweep = count > 100_000 ? [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512] : [10, 16, 24, 32, 48, 64, 128];
var work = cacheDir is null ? Directory.CreateTempSubdirectory("iris-bench-search-") : Directory.CreateDirectory(cacheDir);
var outPath = Path.Combine(FindRoot(), "docs", "benchmarks.md");
var options = new HnswOptions(EfConstruction: efConstruction, Seed: Flag("--seed", new HnswOptions().Seed)) { Int8 = true, KeepPrunedConnections = Text("--fill") is { } fill ? Enum.Parse<PrunedFill>(fill, ignoreCase: true) : PrunedFill.Always };
var shares = new[] { 0.1, 0.05, 0.02, 0.01 };
string InWork(string name) => Path.Combine(work.FullName, name);
try
{
    Console.WriteLine($"{count} × {dim}-d embedding-like vectors, {queryCount} fresh queries, ef_construction {efConstruction}, {rounds} round(s){(cacheDir is null ? "" : ", cache " + cacheDir)}; load {Load()}");
    if (cacheDir is not null && File.Exists(InWork("shape.json")) && File.ReadAllText(InWork("shape.json")) != Shape())
    {
        throw new InvalidOperationException($"{cacheDir} holds another run ({File.ReadAllText(InWork("shape.json"))}); use another directory.");
    }

    File.WriteAllText(InWork("shape.json"), Shape());

    // The vectors go to a file as they are drawn (normalised), and every engine reads them from there one at a time:
    // at 1,000,000 × 1,280-d one copy is 5.1 GB, so the benchmark never holds a second one beside an index.
    if (!File.Exists(InWork("queries.f32")))
    {
        WriteRows(InWork("vectors.f32"), SeededVectors.EmbeddingStream(count, dim, seed: 20261206));
        WriteRows(InWork("queries.f32"), SeededVectors.EmbeddingStream(queryCount, dim, seed: 7));
    }

    var queries = ReadRows(InWork("queries.f32"), dim).ToArray();

    // Exact: the ground truth, and the baseline every QPS is compared with; filtered ground truth too. Then it is dropped.
    // The unfiltered truth is scored in blocks of vectors against every query at once (the same Dot, so the same
    // top 10): at 1M a scan reads 5.1 GB per query, ~0.5 s, so the exact index's QPS is timed on the first 50 queries.
    if (stage is null or "prepare" && !File.Exists(InWork("exact.json")))
    {
        var exact = new ExactIndex();
        var heaps = queries.Select(_ => new PriorityQueue<int, float>(K + 1)).ToArray();
        var block = new List<float[]>(256);
        var i = 0;
        void Score()
        {
            for (var q = 0; q < queries.Length; q++)
            {
                for (var b = 0; b < block.Count; b++)
                {
                    var id = i - block.Count + b;
                    var cosine = System.Numerics.Tensors.TensorPrimitives.Dot(block[b], queries[q]);
                    if (heaps[q].Count < K)
                    {
                        heaps[q].Enqueue(id, cosine);
                    }
                    else if (heaps[q].TryPeek(out _, out var worst) && cosine > worst)
                    {
                        heaps[q].DequeueEnqueue(id, cosine);
                    }
                }
            }

            block.Clear();
        }

        foreach (var v in ReadRows(InWork("vectors.f32"), dim))
        {
            exact.Upsert(Key(i++), v);
            block.Add(v);
            if (block.Count == 256)
            {
                Score();
            }
        }

        Score();
        var blockTruth = heaps.Select(h => { var top = new int[K]; for (var r = K - 1; r >= 0; r--) { top[r] = h.Dequeue(); } return top; }).ToArray();
        WriteIds(InWork("truth.i32"), blockTruth);
        var timed = queries.Take(Math.Min(50, queries.Length)).ToArray();
        var exactMatches = 0;
        var exactTimed = Time(timed, q => exact.Search(q, K, null), (i, found) => exactMatches += found.Count(n => blockTruth[i].Contains(Id(n.Key))));
        Console.WriteLine($"exact: {exactTimed.Qps:F1} QPS per CPU-second ({exactTimed.WallQps:F1} wall), p99 {exactTimed.P99:F2} ms, {exactMatches}/{timed.Length * K} of the block-scored truth; load {Load()}");
        var filteredQps = new Dictionary<string, double>();
        foreach (var share in shares)
        {
            var allowed = Allowed(count, share);
            var ft = new int[queryCount][];
            filteredQps[ShareName(share)] = Time(queries, q => exact.SearchAmong(q, K, allowed), (i, found) => ft[i] = [.. found.Select(n => Id(n.Key))]).Qps;
            WriteIds(InWork($"truth-{ShareName(share)}.i32"), ft);
        }

        File.WriteAllText(InWork("exact.json"), JsonSerializer.Serialize(new ExactRun(exactTimed.Qps, exactTimed.WallQps, exactTimed.P99, filteredQps)));
    }

    GC.Collect();
    if (stage == "prepare")
    {
        return;
    }

    if (stage == "peers")
    {
        Console.WriteLine("peers: /usr/bin/python3 peers.py save (hnswlib" + (withFaiss ? ", faiss)" : ")"));
        RunPeers(work.FullName, count, dim, queryCount, sweep, efConstruction, "save", withFaiss, options.Seed);
        return;
    }

    // Iris' graph, built single-threaded from the vector file and written as a snapshot (what a node writes to its blob store).
    if (!File.Exists(InWork("iris-build.json")))
    {
        var built = new HnswIndex(options);
        var clock = Stopwatch.StartNew();
        var builtCpu = ThreadCpu.Seconds();
        var i = 0;
        foreach (var v in ReadRows(InWork("vectors.f32"), dim))
        {
            built.Upsert(Key(i++), v);
        }

        var builtS = clock.Elapsed.TotalSeconds;
        builtCpu = ThreadCpu.Seconds() - builtCpu;
        Console.WriteLine($"iris hnsw: built in {builtS:F1} s ({builtCpu:F1} s CPU); load {Load()}");
        var snapshotClock = Stopwatch.StartNew();
        using (var file = new FileStream(InWork("iris.hnsw.tmp"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            built.WriteSnapshot(file);
        }

        File.Move(InWork("iris.hnsw.tmp"), InWork("iris.hnsw"), overwrite: true);
        File.WriteAllText(InWork("iris-build.json"), JsonSerializer.Serialize(new IrisBuild(builtS, builtCpu, snapshotClock.Elapsed.TotalSeconds)));
        Console.WriteLine($"  snapshot written in {snapshotClock.Elapsed.TotalSeconds:F1} s");
    }

    var irisBuild = JsonSerializer.Deserialize<IrisBuild>(File.ReadAllText(InWork("iris-build.json")))!;
    GC.Collect();
    if (stage == "iris")
    {
        return;
    }

    var exactRun = JsonSerializer.Deserialize<ExactRun>(File.ReadAllText(InWork("exact.json")))!;
    var truthIds = ReadIds(InWork("truth.i32"), queryCount);

    var allowedSets = shares.ToDictionary(s => s, s => Allowed(count, s));

    // A restart: the node restores the snapshot (instead of rebuilding) and answers its first query; warm queries after.
    // The restored graph then serves every sweep below.
    // The search code is compiled first on a small graph of its own, so the first query measures the restored graph
    // (its memory cold), not the JIT — as in a node that restarts while its other apps are already answering.
    var jitWarm = new HnswIndex(options);
    for (var i = 0; i < 2 * HnswIndex.QuantizeAfter; i++)
    {
        jitWarm.Upsert(Key(i), queries[i % queries.Length].Select((x, d) => x + (0.01f * ((i + d) % 7))).ToArray());
    }

    foreach (var int8 in new[] { false, true })
    {
        jitWarm.UseInt8 = int8;
        Time(queries, q => jitWarm.Search(q, K, null), (_, _) => { });
        Time(queries, q => jitWarm.SearchAmong(q, K, allowedSets[0.1]), (_, _) => { });
    }

    jitWarm = null;
    // Memory per vector is measured on the restored graph: its arrays are sized to the vectors it holds, as a restarted
    // node's (a graph grown by inserts carries up to 2× slack from doubling), like hnswlib's index sized to n.
    var heapBefore = GC.GetTotalMemory(true);
    var restoreClock = Stopwatch.StartNew();
    HnswIndex hnsw;
    using (var file = new FileStream(InWork("iris.hnsw"), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
    {
        hnsw = HnswIndex.ReadSnapshot(file, options) ?? throw new InvalidOperationException("iris.hnsw is not a snapshot of this graph's options.");
    }

    var restoreS = restoreClock.Elapsed.TotalSeconds;
    var restoredBytes = (GC.GetTotalMemory(true) - heapBefore) / (double)count;
    Console.WriteLine($"  restored graph: {restoredBytes:F0} bytes/vector on the managed heap with int8 codes, {restoredBytes - dim:F0} without");
    hnsw.UseInt8 = false;
    var (fullBefore, allocatedBefore, faultsBefore) = (GC.CollectionCount(2), GC.GetAllocatedBytesForCurrentThread(), ThreadCpu.MinorFaults());
    var firstClock = Stopwatch.StartNew();
    hnsw.Search(queries[^1], K, null);
    var firstMs = firstClock.Elapsed.TotalMilliseconds;
    var (fullCollections, allocatedKb, faults) = (GC.CollectionCount(2) - fullBefore, (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / 1024.0, ThreadCpu.MinorFaults() - faultsBefore);
    var secondClock = Stopwatch.StartNew();
    hnsw.Search(queries[^2], K, null);
    Console.WriteLine($"  first query: {fullCollections} full collection(s), {allocatedKb:F0} KB allocated and {faults} minor page fault(s) on its thread; second query {secondClock.Elapsed.TotalMilliseconds:F2} ms");
    var warm = Time(queries, q => hnsw.Search(q, K, null), (_, _) => { });
    (double SnapshotMb, double SnapshotS, double RestoreS, double FirstMs, double WarmMs)? restart =
        withRestart ? (new FileInfo(InWork("iris.hnsw")).Length / 1048576.0, irisBuild.SnapshotS, restoreS, firstMs, 1000 / warm.WallQps) : null;
    Console.WriteLine($"  snapshot {new FileInfo(InWork("iris.hnsw")).Length / 1048576.0:F0} MB restored in {restoreS:F1} s; first query {firstMs:F2} ms, warm {1000 / warm.WallQps:F2} ms; load {Load()}");
    // --upper-ef: the unfiltered int8 and float sweeps again for each UpperEf (layer 1 walked best-first with that many
    // candidates to find the layer-0 entry), then stop.
    if (Text("--upper-ef") is { } uppers)
    {
        foreach (var upper in uppers.Split(',').Select(u => int.Parse(u, CultureInfo.InvariantCulture)))
        {
            hnsw.UpperEf = upper;
            foreach (var int8 in new[] { true, false })
            {
                hnsw.UseInt8 = int8;
                foreach (var ef in sweep.Where(e => e is >= 64 and <= 768))
                {
                    hnsw.EfSearch = ef;
                    double hits = 0;
                    var t = Time(queries, q => hnsw.Search(q, K, null), (i, found) => hits += found.Count(n => truthIds[i].Contains(Id(n.Key))));
                    Console.WriteLine($"  upper ef {upper} {(int8 ? "int8" : "float")} ef {ef}: recall {hits / (queryCount * K):F4}, {t.Qps:F0} QPS/CPU-s ({t.WallQps:F0} wall); load {Load()}");
                }
            }
        }

        return;
    }

    var exactTime = (exactRun.Qps, exactRun.WallQps, exactRun.P99);
    var build = irisBuild.BuildS;
    var buildCpu = irisBuild.BuildCpuS;
    var bytesFloat = restoredBytes - dim;
    var bytesInt8 = restoredBytes;
    var truth = truthIds;
    var filteredTruths = shares.ToDictionary(s => s, s => ReadIds(InWork($"truth-{ShareName(s)}.i32"), queryCount).Select(t => t.Select(Key).ToHashSet()).ToArray());
    var exactFilteredQps = shares.ToDictionary(s => s, s => exactRun.FilteredQps[ShareName(s)]);

    // Unfiltered sweeps, interleaved with the peers' when there are several rounds: Iris, peers, Iris, peers …
    var sweeps = new Dictionary<string, List<Row>>();
    var peerRuns = new List<List<JsonElement>>();
    var exactQps = exactTime.Qps;
    for (var round = 0; round < rounds; round++)
    {
        foreach (var int8 in new[] { false, true })
        {
            hnsw.UseInt8 = int8;
            var name = int8 ? "Iris HNSW int8 + re-score" : "Iris HNSW float";
            var rows = sweeps.TryGetValue(name, out var r) ? r : sweeps[name] = [];
            foreach (var ef in sweep)
            {
                hnsw.EfSearch = ef;
                double hits = 0;
                var t = Time(queries, q => hnsw.Search(q, K, null), (i, found) => hits += found.Count(n => truth[i].Contains(Id(n.Key))));
                rows.Add(new Row(ef, hits / (queryCount * K), t.Qps, t.WallQps, t.P99));
                Console.WriteLine($"  round {round + 1} {(int8 ? "int8" : "float")} ef {ef}: recall {hits / (queryCount * K):F4}, {t.Qps:F0} QPS/CPU-s ({t.WallQps:F0} wall), p99 {t.P99:F2} ms; load {Load()}");
            }
        }

        if (rounds > 1)
        {
            peerRuns.Add(RunPeers(work.FullName, count, dim, queryCount, sweep, efConstruction, round == 0 ? "build" : "query", withFaiss, options.Seed));
        }
    }

    // Filtered: the planner's allowed set (SearchAmong) at each share, swept over ef with the index's own choice of walk
    // or scan, against the unfiltered sweep above; then the two walks and the scan forced, at the default ef.
    hnsw.EfSearch = new HnswOptions().EfSearch;
    var filtered = new List<(double Share, bool Int8, List<Row> Rows, double ExactQps)>();
    var forced = new List<(double Share, string Walk, double Recall, double Qps)>();
    foreach (var share in shares)
    {
        var allowed = allowedSets[share];
        var ft = filteredTruths[share];
        foreach (var int8 in new[] { false, true })
        {
            hnsw.UseInt8 = int8;
            var rows = new List<Row>();
            foreach (var ef in filteredSweep)
            {
                hnsw.EfSearch = ef;
                double hits = 0;
                var t = Time(queries, q => hnsw.SearchAmong(q, K, allowed), (i, found) => hits += found.Count(n => ft[i].Contains(n.Key)));
                rows.Add(new Row(ef, hits / (queryCount * K), t.Qps, t.WallQps, t.P99));
                Console.WriteLine($"  filter {share:P0} ({(int8 ? "int8" : "float")}) ef {ef}: recall {hits / (queryCount * K):F4}, {t.Qps:F0} QPS/CPU-s, p99 {t.P99:F2} ms");
            }

            filtered.Add((share, int8, rows, exactFilteredQps[share]));
        }

        hnsw.UseInt8 = false;
        hnsw.EfSearch = new HnswOptions().EfSearch;
        foreach (var (walk, exactBelow, twoHopBelow) in new[] { ("two-hop walk", 0.0, 1.0), ("walk scoring every node", 0.0, 0.0), ("exact scan of the allowed", 1.0, 0.5) })
        {
            (hnsw.ExactBelowSelectivity, hnsw.ScanWhenCheaper, hnsw.TwoHopBelowSelectivity) = (exactBelow, false, twoHopBelow);
            double hits = 0;
            var t = Time(queries, q => hnsw.SearchAmong(q, K, allowed), (i, found) => hits += found.Count(n => ft[i].Contains(n.Key)));
            forced.Add((share, walk, hits / (queryCount * K), t.Qps));
            Console.WriteLine($"    forced {walk}: {t.Qps:F0} QPS/CPU-s (recall {hits / (queryCount * K):F4})");
        }

        (hnsw.ExactBelowSelectivity, hnsw.ScanWhenCheaper, hnsw.TwoHopBelowSelectivity) = (new HnswOptions().ExactBelowSelectivity, true, 0.5);
    }

    hnsw.Clear();
    GC.Collect();
    if (rounds <= 1)
    {
        Console.WriteLine("peers: /usr/bin/python3 peers.py (hnswlib" + (withFaiss ? ", faiss)" : ")"));
        peerRuns.Add(RunPeers(work.FullName, count, dim, queryCount, sweep, efConstruction, "build", withFaiss, options.Seed));
    }

    var heading = count == 100_000 ? "## Search (issue 11)" : $"## Search at {count:N0} vectors (issue 11)";
    var report = Report(heading, count, dim, queryCount, efConstruction, options.Seed, rounds, exactQps, exactTime.P99, build, buildCpu, bytesFloat, bytesInt8, sweeps, filtered, forced, restart, peerRuns);
    if (writeDoc)
    {
        BenchmarkDoc.WriteSection(outPath, heading, report);
    }

    Console.WriteLine(report);
}
finally
{
    if (cacheDir is null)
    {
        work.Delete(recursive: true);
    }
}

// What the cached vectors and ground truth depend on; the graphs also depend on ef_construction, which their
// snapshots and build files carry (a snapshot of another ef_construction is not restored).
string Shape() => string.Create(CultureInfo.InvariantCulture, $"{count} {dim} {queryCount}");

static string Key(int i) => "i" + i.ToString(CultureInfo.InvariantCulture);

static int Id(string key) => int.Parse(key.AsSpan(1), CultureInfo.InvariantCulture);

static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

// QPS per CPU-second of the searching thread (steady on a shared machine) and per wall-clock second, and the wall p99.
static (double Qps, double WallQps, double P99) Time(float[][] queries, Func<float[], IReadOnlyList<Neighbor>> search, Action<int, IReadOnlyList<Neighbor>> check)
{
    for (var i = 0; i < Math.Min(20, queries.Length); i++)
    {
        search(queries[i]); // warm-up (JIT, caches), not timed
    }

    var latencies = new double[queries.Length];
    var results = new IReadOnlyList<Neighbor>[queries.Length];
    var cpu = ThreadCpu.Seconds();
    for (var i = 0; i < queries.Length; i++)
    {
        var t = Stopwatch.GetTimestamp();
        results[i] = search(queries[i]);
        latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
    }

    cpu = ThreadCpu.Seconds() - cpu;
    for (var i = 0; i < queries.Length; i++)
    {
        check(i, results[i]);
    }

    Array.Sort(latencies);
    return (queries.Length / cpu, queries.Length / (latencies.Sum() / 1000), latencies[(int)(0.99 * (latencies.Length - 1))]);
}

// Rows of float32, L2-normalised as they are written.
static void WriteRows(string path, IEnumerable<float[]> rows)
{
    using (var file = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
    {
        foreach (var row in rows)
        {
            ExactIndex.Normalize(row, row);
            file.Write(MemoryMarshal.AsBytes(row.AsSpan()));
        }
    }

    File.Move(path + ".tmp", path, overwrite: true);
}

static IEnumerable<float[]> ReadRows(string path, int dim)
{
    using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
    while (file.Position < file.Length)
    {
        var row = new float[dim];
        file.ReadExactly(MemoryMarshal.AsBytes(row.AsSpan()));
        yield return row;
    }
}

static void WriteIds(string path, int[][] ids) => File.WriteAllBytes(path, MemoryMarshal.AsBytes(ids.SelectMany(t => t).ToArray().AsSpan()).ToArray());

static int[][] ReadIds(string path, int queries)
{
    var all = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(path).AsSpan()).ToArray();
    return [.. Enumerable.Range(0, queries).Select(q => all[(q * K)..((q + 1) * K)])];
}

// The filtered benchmark's allowed set: keys whose hashed id falls in one residue class (peers.py draws the same).
static AllowedSet Allowed(int count, double share)
{
    var modulo = (uint)Math.Round(1 / share);
    return new AllowedSet(Enumerable.Range(0, count).Where(i => Mix(i) % modulo == 3).Select(Key));
}

static string ShareName(double share) => string.Create(CultureInfo.InvariantCulture, $"{share * 100:0.#}%");

static List<JsonElement> RunPeers(string work, int count, int dim, int queries, int[] sweep, int efConstruction, string mode, bool withFaiss, int seed)
{
    var script = Path.Combine(FindRoot(), "bench", "Iris.Bench.Search", "peers.py");
    string[] arguments = [script, work, count.ToString(CultureInfo.InvariantCulture), dim.ToString(CultureInfo.InvariantCulture), queries.ToString(CultureInfo.InvariantCulture), string.Join(',', sweep),
        efConstruction.ToString(CultureInfo.InvariantCulture), mode, withFaiss ? "hnswlib,faiss" : "hnswlib", seed.ToString(CultureInfo.InvariantCulture)];
    var start = new ProcessStartInfo("/usr/bin/python3", arguments)
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

static string Report(string heading, int count, int dim, int queries, int efConstruction, int seed, int rounds, double exactQps, double exactP99, double build, double buildCpu, double bytesFloat, double bytesInt8,
    Dictionary<string, List<Row>> iris, List<(double Share, bool Int8, List<Row> Rows, double ExactQps)> filtered, List<(double Share, string Walk, double Recall, double Qps)> forced,
    (double SnapshotMb, double SnapshotS, double RestoreS, double FirstMs, double WarmMs)? restart, List<List<JsonElement>> peerRuns)
{
    // Rounds averaged per ef (recall is the same every round; QPS and p99 are the means).
    static List<Row> Mean(IEnumerable<Row> rows) => [.. rows.GroupBy(r => r.Ef).OrderBy(g => g.Key).Select(g => new Row(g.Key, g.Average(r => r.Recall), g.Average(r => r.Qps), g.Average(r => r.WallQps), g.Average(r => r.P99)))];
    static Row? First(List<Row> rows, double recall) => rows.FirstOrDefault(r => r.Recall >= recall);
    static string At(List<Row> rows, double recall) =>
        First(rows, recall) is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r.Qps:F0} (ef {r.Ef}; wall {r.WallQps:F0}, p99 {r.P99:F2} ms)") : "not reached";
    static IEnumerable<Row> PeerRows(JsonElement peer) =>
        peer.GetProperty("sweep").EnumerateArray().Select(r => new Row(r.GetProperty("ef").GetInt32(), r.GetProperty("recall").GetDouble(), r.GetProperty("qps").GetDouble(), r.GetProperty("qps_wall").GetDouble(), r.GetProperty("p99_ms").GetDouble()));

    var irisRows = iris.ToDictionary(p => p.Key, p => Mean(p.Value));
    var builds = peerRuns[0];
    var peerNames = builds.Select(p => p.GetProperty("engine").GetString()!).ToList();
    var peerRows = peerNames.ToDictionary(n => n, n => Mean(peerRuns.SelectMany(run => run.Where(p => p.GetProperty("engine").GetString() == n)).SelectMany(PeerRows)));

    var b = new StringBuilder();
    b.AppendLine(heading);
    b.AppendLine();
    b.AppendLine(CultureInfo.InvariantCulture, $"`bench/Iris.Bench.Search/setup.sh && nice dotnet run -c Release --project bench/Iris.Bench.Search -- {count} {dim} {queries}{(efConstruction != 200 ? $" --ef-construction {efConstruction}" : "")}{(rounds != 2 ? $" --rounds {rounds}" : "")}`: {count:N0} seeded embedding-like vectors of {dim} dimensions");
    b.AppendLine("(`SeededVectors.Embeddings`: a 48-d latent mixture of 64 clusters mapped to the output dimension, small noise, rectified, L2-normalised),");
    b.AppendLine(CultureInfo.InvariantCulture, $"{queries} fresh queries from the same distribution (not copies of indexed vectors), k = 10, every engine single-threaded on the same vectors in one run; recall is");
    b.AppendLine(CultureInfo.InvariantCulture, $"against the exact top 10. hnswlib and faiss are Debian's `python3-hnswlib` and `python3-faiss`, built with M = 16 and ef_construction = {efConstruction} like Iris; hnswlib's levels drawn with random_seed {seed}, Iris' with `HnswOptions.Seed` {seed} (`--seed`).");
    b.AppendLine(CultureInfo.InvariantCulture, $"QPS is queries per CPU-second of the searching thread (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)` in Iris, `time.thread_time()` in peers.py), which other processes on this shared machine disturb far less than wall-clock time; wall-clock QPS and p99 beside it. {(rounds > 1 ? $"The sweeps ran {rounds} times, Iris and the peers in turn (Iris, peers, Iris, peers), and are averaged." : "One round: Iris first, then the peers.")}");
    b.AppendLine("Memory per vector: Iris's restored graph on the managed heap (`GC.GetTotalMemory` around `ReadSnapshot`: arrays sized to the vectors, keys and their map included; the float row without the int8 codes' d bytes); the peers' resident anonymous memory grown by their build (RssAnon).");
    b.AppendLine();
    b.AppendLine("| engine | build (s) | memory / vector (bytes) | QPS at recall@10 ≥ 0.95 | QPS at recall@10 ≥ 0.99 |");
    b.AppendLine("|---|---:|---:|---:|---:|");
    b.AppendLine(CultureInfo.InvariantCulture, $"| Iris exact (SIMD scan) | 0 | {dim * 4} + key | {exactQps:F0} (recall 1, p99 {exactP99:F2} ms) | same |");
    foreach (var (name, rows) in irisRows)
    {
        var bytes = name.Contains("int8", StringComparison.Ordinal) ? bytesInt8 : bytesFloat;
        b.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {build:F1} ({buildCpu:F1} CPU) | {bytes:F0} | {At(rows, 0.95)} | {At(rows, 0.99)} |");
    }

    foreach (var peer in builds)
    {
        var name = peer.GetProperty("engine").GetString()!;
        b.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {peer.GetProperty("build_s").GetDouble():F1} ({peer.GetProperty("build_cpu_s").GetDouble():F1} CPU) | {peer.GetProperty("bytes_per_vector").GetDouble():F0} | {At(peerRows[name], 0.95)} | {At(peerRows[name], 0.99)} |");
    }

    b.AppendLine();
    if (peerRows.Keys.FirstOrDefault(n => n.StartsWith("hnswlib", StringComparison.Ordinal)) is { } hnswlib)
    {
        var ratios = new List<string>();
        foreach (var (name, rows) in irisRows)
        {
            foreach (var recall in new[] { 0.95, 0.99 })
            {
                if (First(rows, recall) is { } mine && First(peerRows[hnswlib], recall) is { } theirs)
                {
                    ratios.Add(string.Create(CultureInfo.InvariantCulture, $"{name} at ≥ {recall}: {mine.Qps / theirs.Qps:F2}× (wall {mine.WallQps / theirs.WallQps:F2}×)"));
                }
            }
        }

        b.AppendLine("Against hnswlib at equal recall (QPS ratio, CPU time): " + string.Join("; ", ratios) + ".");
        b.AppendLine();
    }

    if (First(irisRows["Iris HNSW float"], 0.99) is { } at99)
    {
        b.AppendLine(CultureInfo.InvariantCulture, $"Against exact search: Iris float at recall@10 ≥ 0.99 answers {at99.Qps / exactQps:F1}× the exact scan's QPS{(irisRows.TryGetValue("Iris HNSW int8 + re-score", out var i8) && First(i8, 0.99) is { } i899 ? string.Create(CultureInfo.InvariantCulture, $", int8 {i899.Qps / exactQps:F1}×") : "")}.");
        b.AppendLine();
    }

    b.AppendLine("One graph serves both Iris rows (built once with int8 codes; the float row walks the float vectors). Sweeps (ef: recall, QPS per CPU-second):");
    foreach (var (name, rows) in irisRows.Concat(peerRows))
    {
        b.AppendLine("- " + name + ": " + string.Join("; ", rows.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Ef}: {s.Recall:F3}, {s.Qps:F0}"))) + ".");
    }

    b.AppendLine();
    b.AppendLine(CultureInfo.InvariantCulture, $"Filtered (`SearchAmong`: the allowed set as a bitset over node ids, resolved once and reused by every query of the sweep as long as the graph does not change; a request resolves its own set once, which the section \"Filtered search end to end\" measures; the index picks the walk or the exact scan of the allowed vectors by its cost model), swept over ef like the unfiltered rows and compared at equal recall with the unfiltered walk of the same kind:");
    b.AppendLine();
    b.AppendLine("| allowed share | walk | QPS at recall ≥ 0.95 | QPS at recall ≥ 0.99 | vs unfiltered at ≥ 0.99 | at the default ef 128: recall, QPS, p99 | Iris exact filtered scan QPS | faiss HNSW + IDSelector at ef 128: QPS (recall) |");
    b.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
    var faiss = builds.FirstOrDefault(p => p.TryGetProperty("filtered", out _));
    foreach (var f in filtered)
    {
        var unfiltered = irisRows[f.Int8 ? "Iris HNSW int8 + re-score" : "Iris HNSW float"];
        var ratio = First(f.Rows, 0.99) is { } fr && First(unfiltered, 0.99) is { } ur ? string.Create(CultureInfo.InvariantCulture, $"{fr.Qps / ur.Qps:F2}×") : "n/a";
        var atDefault = f.Rows.First(r => r.Ef == 128);
        var key = string.Create(CultureInfo.InvariantCulture, $"{f.Share * 100:0.#}%");
        var peer = !f.Int8 && faiss.ValueKind == JsonValueKind.Object && faiss.GetProperty("filtered").TryGetProperty(key, out var pf) && pf.TryGetProperty("qps", out var pq)
            ? string.Create(CultureInfo.InvariantCulture, $"{pq.GetDouble():F0} ({pf.GetProperty("recall").GetDouble():F3})") : "";
        b.AppendLine(CultureInfo.InvariantCulture, $"| {f.Share * 100:0.#} % | {(f.Int8 ? "int8" : "float")} | {At(f.Rows, 0.95)} | {At(f.Rows, 0.99)} | {ratio} | {atDefault.Recall:F3}, {atDefault.Qps:F0}, {atDefault.P99:F2} ms | {f.ExactQps:F0} | {peer} |");
    }

    b.AppendLine();
    b.AppendLine("Filtered sweeps (ef: recall, QPS per CPU-second):");
    foreach (var f in filtered)
    {
        b.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- {f.Share * 100:0.#} % {(f.Int8 ? "int8" : "float")}: ") + string.Join("; ", f.Rows.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Ef}: {s.Recall:F3}, {s.Qps:F0}"))) + ".");
    }

    b.AppendLine();
    b.AppendLine("Each filtered strategy forced at ef 128 (float): " + string.Join("; ", forced.GroupBy(f => f.Share).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key * 100:0.#} %: ") + string.Join(", ", g.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Walk} {f.Qps:F0} QPS (recall {f.Recall:F3})"))))) + ".");
    b.AppendLine();
    if (restart is { } r)
    {
        b.AppendLine(CultureInfo.InvariantCulture, $"First query after a restart: a restarted node restores the HNSW snapshot from the blob store instead of rebuilding ({r.SnapshotMb:F0} MB, written in {r.SnapshotS:F1} s, restored in {r.RestoreS:F1} s against {build:F1} s to rebuild, {HnswIndex.WarmSearches} warming searches at its end included); the first query on the restored graph took {r.FirstMs:F2} ms, a warm one {r.WarmMs:F2} ms on average (wall clock, ef 128).");
        b.AppendLine();
    }

    b.AppendLine(CultureInfo.InvariantCulture, $"Load average at the end of the run: {Load()} on {Environment.ProcessorCount} cores.");
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

/// <summary>The exact scan's measures (cached with the ground truth): QPS per CPU-second and wall, p99, filtered QPS per share.</summary>
internal sealed record ExactRun(double Qps, double WallQps, double P99, Dictionary<string, double> FilteredQps);

/// <summary>Iris' build measures (cached with its snapshot).</summary>
internal sealed record IrisBuild(double BuildS, double BuildCpuS, double SnapshotS);

/// <summary>One point of a sweep: recall@10 and QPS per CPU-second and per wall-clock second, wall p99 in ms.</summary>
internal sealed record Row(int Ef, double Recall, double Qps, double WallQps, double P99);
