using System.Diagnostics;
using System.Globalization;
using System.Text;
using Clarifai.Api;
using Iris.Inference.Indexing;
using Iris.Inference.Predict;
using Iris.Search.Index;
using Iris.Search.Planning;
using Iris.Storage.Searches;
using Iris.Storage.Vectors;
using Iris.Testing;
using Microsoft.Extensions.DependencyInjection;
using Condition = Iris.Storage.Searches.InputCondition;
using Task = System.Threading.Tasks.Task;

namespace Iris.Bench.Search;

/// <summary>
/// Where a search's time goes, for tuning the walk (not a report): distance computations and QPS per query, unfiltered
/// against filtered walks (scoring every node met, or only allowed ones looking through the rest) and the exact scan of
/// the allowed vectors, each repeated and interleaved. The graph is cached as a snapshot in the temp directory.
/// Usage: dotnet run -c Release --project bench/Iris.Bench.Search -- lab [count] [dim] [queries]
/// <para>
/// <c>lab --threshold [max] [dim] [queries]</c>: where the graph's query beats the exact scan (the default of
/// <c>IRIS_SEARCH_HNSW_THRESHOLD</c>, the size at which the <c>auto</c> engine builds a graph): one graph of the server's
/// settings grown step by step beside a <see cref="QuantizedExactIndex"/>, both measured at each size.
/// </para>
/// <para>
/// <c>lab --switch [threshold] [dim]</c>: the auto engine's switch at its threshold: an <see cref="AutoIndex"/> filled to one
/// vector past it, then searched without pause on this thread while the graph builds on another; the build's wall and
/// the searches' latency before, during and after it, and managed memory before and after the switch.
/// </para>
/// Usage: dotnet run -c Release --project bench/Iris.Bench.Search -- lab [count] [dim] [queries] [--profile [--ef N] | --filtered | --kernel]
/// (and <c>lab e2e …</c>: a filtered request end to end, <see cref="FilteredEndToEnd"/>)
/// </summary>
internal static class Lab
{
    private const int K = 10;

    public static void Run(string[] args)
    {
        if (args is ["--threshold", .. var rest])
        {
            Threshold(rest);
            return;
        }

        if (args is ["--switch", .. var more])
        {
            Switch(more);
            return;
        }

        if (args is ["e2e", ..])
        {
            FilteredEndToEnd.RunAsync(args[1..]).GetAwaiter().GetResult();
            return;
        }

        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var dim = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1280;
        var queryCount = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;
        var vectors = SeededVectors.Embeddings(count, dim, seed: 20261206);
        var queries = SeededVectors.Embeddings(queryCount, dim, seed: 7);
        foreach (var v in vectors.Concat(queries))
        {
            ExactIndex.Normalize(v, v);
        }

        var cache = Path.Combine(Path.GetTempPath(), $"iris-hnsw-lab-{count}-{dim}.snap");
        var options = new HnswOptions { Int8 = true };
        HnswIndex? hnsw = null;
        if (File.Exists(cache))
        {
            using var file = File.OpenRead(cache);
            hnsw = HnswIndex.ReadSnapshot(file, options);
        }

        if (hnsw is null)
        {
            hnsw = new HnswIndex(options);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                hnsw.Upsert(Key(i), vectors[i]);
            }

            Console.WriteLine($"built in {clock.Elapsed.TotalSeconds:F1} s");
            using var file = File.Create(cache);
            hnsw.WriteSnapshot(file);
        }

        var exact = new ExactIndex();
        for (var i = 0; i < count; i++)
        {
            exact.Upsert(Key(i), vectors[i]);
        }

        var truth = queries.Select(q => exact.Search(q, K, null).Select(n => n.Key).ToHashSet()).ToArray();
        Console.WriteLine($"{count} × {dim}; load {Load()}");
        if (args.Contains("--profile"))
        {
            // Where a 10 % filtered query's time goes against an unfiltered one, each at the ef where it reaches recall@10
            // 0.99 in the full bench: the walk with the allowed set resolved once (reused, as the planner's re-asks and a
            // benchmark loop do), the same walk with a fresh set per query (the set resolved every time, as before), and
            // the resolution alone; per query: float and int8 scores, nodes expanded, filtered-out nodes looked through.
            var allowedKeys = Enumerable.Range(0, count).Where(i => Mix(i) % 10 == 3).Select(Key).ToList();
            var allowed = new AllowedSet(allowedKeys);
            var allowedLookup = allowedKeys.ToHashSet();
            var filteredTruth = queries.Select(q => exact.Search(q, K, allowedLookup.Contains).Select(n => n.Key).ToHashSet()).ToArray();
            var unfilteredEf = args.Contains("--ef") ? int.Parse(args[Array.IndexOf(args, "--ef") + 1], CultureInfo.InvariantCulture) : 64;
            for (var round = 0; round < 2; round++)
            {
                foreach (var int8 in new[] { false, true })
                {
                    hnsw.UseInt8 = int8;
                    var name = int8 ? "int8" : "float";
                    hnsw.EfSearch = unfilteredEf;
                    Measure($"unfiltered {name} ef {unfilteredEf}", queries, truth, q => hnsw.Search(q, K, null));
                    foreach (var ef in new[] { 16, 32 })
                    {
                        hnsw.EfSearch = ef;
                        Measure($"10 % {name} ef {ef} set reused", queries, filteredTruth, q => hnsw.SearchAmong(q, K, allowed));
                        Measure($"10 % {name} ef {ef} fresh set", queries, filteredTruth, q => hnsw.SearchAmong(q, K, new AllowedSet(allowedKeys)));
                    }
                }

                var cpu = ThreadCpu.Seconds();
                for (var i = 0; i < queries.Length; i++)
                {
                    hnsw.CountAmong(new AllowedSet(allowedKeys));
                }

                Console.WriteLine($"10 % allowed set resolved alone: {queries.Length / (ThreadCpu.Seconds() - cpu):F0} per CPU-second ({allowedKeys.Count} keys)");
                cpu = ThreadCpu.Seconds();
                for (var i = 0; i < queries.Length; i++)
                {
                    _ = allowedKeys.ToHashSet(StringComparer.Ordinal);
                }

                Console.WriteLine($"10 % keys into a HashSet<string> alone (what the planner built before): {queries.Length / (ThreadCpu.Seconds() - cpu):F0} per CPU-second");
                cpu = ThreadCpu.Seconds();
                for (var i = 0; i < queries.Length / 10; i++)
                {
                    _ = allowedKeys.Count(hnsw.Contains);
                }

                Console.WriteLine($"10 % keys counted by Contains (the planner's total before): {queries.Length / 10 / (ThreadCpu.Seconds() - cpu):F0} per CPU-second");
            }

            return;
        }

        if (args.Contains("--filtered"))
        {
            // Issue 11's goal on the lab's graph: filtered 10 % and 1 % against unfiltered at recall@10 0.99, float and
            // int8 walks, each swept over ef; QPS per CPU-second; the allowed set resolved once and reused (the lab's
            // --profile and the e2e section give what a request's own resolution adds).
            var report = new System.Text.StringBuilder();
            var rows = new Dictionary<string, List<(int Ef, double Recall, double Qps)>>();
            int[] efs = [10, 16, 24, 32, 48, 64, 96, 128];
            var sets = new[] { 0.1, 0.01 }.Select(share =>
            {
                var modulo = (uint)Math.Round(1 / share);
                var keys = Enumerable.Range(0, count).Where(i => Mix(i) % modulo == 3).Select(Key).ToList();
                var lookup = keys.ToHashSet();
                return (Share: share, Set: new AllowedSet(keys), Truth: queries.Select(q => exact.Search(q, K, lookup.Contains).Select(n => n.Key).ToHashSet()).ToArray());
            }).ToList();
            for (var round = 0; round < 2; round++)
            {
                foreach (var int8 in new[] { false, true })
                {
                    hnsw.UseInt8 = int8;
                    var name = int8 ? "int8" : "float";
                    foreach (var ef in efs)
                    {
                        hnsw.EfSearch = ef;
                        Add($"unfiltered {name}", ef, Measure($"unfiltered {name} ef {ef}", queries, truth, q => hnsw.Search(q, K, null)));
                        foreach (var (share, set, filteredTruth) in sets)
                        {
                            Add($"{share * 100:0} % {name}", ef, Measure($"{share * 100:0} % {name} ef {ef}", queries, filteredTruth, q => hnsw.SearchAmong(q, K, set)));
                        }
                    }
                }
            }

            void Add(string name, int ef, (double Recall, double Qps) r)
            {
                if (!rows.TryGetValue(name, out var list))
                {
                    rows[name] = list = [];
                }

                list.Add((ef, r.Recall, r.Qps));
            }

            List<(int Ef, double Recall, double Qps)> Mean(string name) =>
                [.. rows[name].GroupBy(r => r.Ef).OrderBy(g => g.Key).Select(g => (g.Key, g.Average(r => r.Recall), g.Average(r => r.Qps)))];

            report.AppendLine("## Filtered search, lab (issue 11)");
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"`nice dotnet run -c Release --project bench/Iris.Bench.Search -- lab {count} {dim} {queryCount} --filtered` (`Lab.cs`): the graph of the full bench above (same seeded {count:N0} × {dim}-d vectors, M 16, ef_construction 200,");
            report.AppendLine(CultureInfo.InvariantCulture, $"int8 codes; restored from the lab's snapshot), {queryCount} fresh queries, k = 10, single-threaded, QPS per CPU-second of the searching thread, two rounds averaged. Filtered: `SearchAmong` with the");
            report.AppendLine("allowed set (`AllowedSet`) resolved into node ids once and reused by every query (what a request pays to resolve its own set is in \"Filtered search end to end\"). Each row swept over ef; compared at the first ef reaching recall@10 ≥ 0.99.");
            report.AppendLine();
            report.AppendLine("| walk | allowed | QPS at recall ≥ 0.99 (ef, recall) | vs unfiltered |");
            report.AppendLine("|---|---|---:|---:|");
            foreach (var name in new[] { "float", "int8" })
            {
                var baseline = Mean($"unfiltered {name}").FirstOrDefault(r => r.Recall >= 0.99);
                foreach (var label in new[] { "unfiltered", "10 %", "1 %" })
                {
                    var at = Mean($"{label} {name}").FirstOrDefault(r => r.Recall >= 0.99);
                    var cell = at.Ef == 0 ? "not reached" : string.Create(CultureInfo.InvariantCulture, $"{at.Qps:F0} (ef {at.Ef}, {at.Recall:F3})");
                    var ratio = at.Ef == 0 || baseline.Ef == 0 ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{at.Qps / baseline.Qps:F2}×");
                    report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {label} | {cell} | {ratio} |");
                }
            }

            report.AppendLine();
            report.AppendLine("Sweeps (ef: recall, QPS per CPU-second):");
            foreach (var name in rows.Keys)
            {
                report.AppendLine("- " + name + ": " + string.Join("; ", Mean(name).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Ef}: {r.Recall:F3}, {r.Qps:F0}"))) + ".");
            }

            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"Load average at the end: {Load()} on {Environment.ProcessorCount} cores.");
            Console.WriteLine(report);
            if (!args.Contains("--no-doc"))
            {
                Iris.Bench.BenchmarkDoc.WriteSection(Path.Combine(FilteredEndToEnd.Root(), "docs", "benchmarks.md"), "## Filtered search, lab (issue 11)", report.ToString());
            }

            return;
        }

        if (args.Contains("--kernel"))
        {
            for (var round = 0; round < 3; round++)
            {
                foreach (var ef in new[] { 16, 24, 32, 64 })
                {
                    hnsw.EfSearch = ef;
                    foreach (var (tp, noPrefetch) in new[] { (true, true), (true, false), (false, true), (false, false) })
                    {
                        HnswIndex.LabSwitches(tp, noPrefetch);
                        Measure($"{(tp ? "TensorPrimitives" : "FMA x4")} {(noPrefetch ? "no prefetch" : "prefetch")} ef {ef}", queries, truth, q => hnsw.Search(q, K, null));
                    }

                    HnswIndex.LabSwitches(false, false);
                    hnsw.UseInt8 = true;
                    Measure($"int8 ef {ef}", queries, truth, q => hnsw.Search(q, K, null));
                    hnsw.UseInt8 = false;
                }
            }

            return;
        }

        foreach (var share in new[] { 0.1, 0.2, 0.02 })
        {
            var modulo = (uint)Math.Round(1 / share);
            var allowed = new AllowedSet(Enumerable.Range(0, count).Where(i => Mix(i) % modulo == 3).Select(Key));
            var filteredTruth = queries.Select(q => exact.SearchAmong(q, K, allowed).Select(n => n.Key).ToHashSet()).ToArray();
            for (var round = 0; round < 1; round++)
            {
                foreach (var ef in new[] { 10, 16, 24, 32, 64 })
                {
                    hnsw.EfSearch = ef;
                    foreach (var int8 in new[] { false, true })
                    {
                        hnsw.UseInt8 = int8;
                        var name = int8 ? "int8" : "float";
                        Measure($"unfiltered {name} ef {ef}", queries, truth, q => hnsw.Search(q, K, null));
                        (hnsw.ExactBelowSelectivity, hnsw.ScanWhenCheaper, hnsw.TwoHopBelowSelectivity) = (0, false, 1);
                        Measure($"{share:P0} two-hop {name} ef {ef}", queries, filteredTruth, q => hnsw.SearchAmong(q, K, allowed));

                        hnsw.TwoHopBelowSelectivity = 0;
                        Measure($"{share:P0} walk-all {name} ef {ef}", queries, filteredTruth, q => hnsw.SearchAmong(q, K, allowed));
                        (hnsw.ExactBelowSelectivity, hnsw.ScanWhenCheaper, hnsw.TwoHopBelowSelectivity) = (0.02, true, 0.5);
                    }
                }

                hnsw.ExactBelowSelectivity = 1;
                Measure($"{share:P0} exact scan", queries, filteredTruth, q => hnsw.SearchAmong(q, K, allowed));
                hnsw.ExactBelowSelectivity = 0.02;
            }
        }
    }

    // The exact scan the server answers small apps with against the graph of the server's default settings (float walk),
    // on the same vectors and queries at each size: QPS per CPU-second of each, the graph at the smallest ef with recall@10
    // ≥ 0.99 and at the server's ef 128, and the CPU time the graph of that size took to build.
    private static void Threshold(string[] args)
    {
        var max = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 32_000;
        var dim = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1280;
        var queryCount = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;
        var vectors = SeededVectors.Embeddings(max, dim, seed: 20261206);
        var queries = SeededVectors.Embeddings(queryCount, dim, seed: 7);
        var graph = new HnswIndex(new HnswOptions(M: 16, EfConstruction: 200, EfSearch: 128));
        var exact = new QuantizedExactIndex();
        var built = 0;
        var buildCpu = 0.0;
        for (var size = 500; size <= max; size *= 2)
        {
            var cpu = ThreadCpu.Seconds();
            for (; built < size; built++)
            {
                graph.Upsert(Key(built), vectors[built]);
            }

            buildCpu += ThreadCpu.Seconds() - cpu;
            for (var i = exact.Count; i < size; i++)
            {
                exact.Upsert(Key(i), vectors[i]);
            }

            var truth = queries.Select(q => exact.Search(q, K, null).Select(n => n.Key).ToHashSet()).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"--- {size} × {dim}: graph built in {buildCpu:F1} CPU-s ({buildCpu * 1000 / size:F2} ms per vector)"));
            for (var round = 0; round < 2; round++)
            {
                var exactQps = Measure("exact (QuantizedExactIndex)", queries, truth, q => exact.Search(q, K, null)).Qps;
                foreach (var ef in new[] { 16, 32, 64, 128 })
                {
                    graph.EfSearch = ef;
                    var (recall, qps) = Measure($"hnsw ef {ef}", queries, truth, q => graph.Search(q, K, null));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    ratio hnsw ef {ef} / exact: {qps / exactQps:F2} (recall {recall:F4})"));
                }
            }
        }
    }

    private static void Switch(string[] args)
    {
        var threshold = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var dim = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1280;
        var queries = SeededVectors.Embeddings(200, dim, seed: 7);
        var index = new AutoIndex(threshold, () => new HnswIndex(new HnswOptions(M: 16, EfConstruction: 200, EfSearch: 128)));
        var (truth, last) = Fill(index, threshold, dim, queries);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var exactMs = Latencies(index, queries, 200, out _);
        var (pause, gen2) = (GC.GetTotalPauseDuration(), GC.CollectionCount(2));
        var clock = Stopwatch.StartNew();
        index.Upsert(Key(threshold), last);
        var during = new List<double>();
        var searches = 0;
        while (index.Building)
        {
            during.AddRange(Latencies(index, queries, 20, out var n));
            searches += n;
        }

        var build = clock.Elapsed;
        (pause, gen2) = (GC.GetTotalPauseDuration() - pause, GC.CollectionCount(2) - gen2);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var graphMs = Latencies(index, queries, 200, out _);
        var recall = queries.Select((q, i) => index.Search(q, K, null).Count(n => truth[i].Contains(n.Key))).Sum() / (double)(queries.Length * K);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{threshold + 1} × {dim}: switched {index.Switches}× (failures {index.BuildFailures}); build {build.TotalSeconds:F1} s wall on its own thread while this one answered {searches} searches; GC paused {pause.TotalMilliseconds:F0} ms in all ({gen2} gen-2 collections) during it; load {Load()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"search latency (wall, ms) median / p99 / max: exact before {Stats(exactMs)}; during the build {Stats(during)}; graph after {Stats(graphMs)} (recall@10 {recall:F4})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"managed memory: exact engine {before / (threshold + 1.0):F0} bytes per vector before, graph {after / (threshold + 1.0):F0} after the switch (both alive during the build)"));

        static string Stats(List<double> ms)
        {
            ms.Sort();
            return string.Create(CultureInfo.InvariantCulture, $"{ms[ms.Count / 2]:F2} / {ms[(int)(ms.Count * 0.99)]:F2} / {ms[^1]:F2}");
        }
    }

    // The index filled to its threshold (the vectors die with this frame, so the memory measured after is the index's);
    // the exact top 10 of each query over those and one vector more, and that vector.
    private static (HashSet<string>[] Truth, float[] Last) Fill(AutoIndex index, int threshold, int dim, float[][] queries)
    {
        var vectors = SeededVectors.Embeddings(threshold + 1, dim, seed: 20261206);
        var exact = new ExactIndex();
        for (var i = 0; i <= threshold; i++)
        {
            if (i < threshold)
            {
                index.Upsert(Key(i), vectors[i]);
            }

            exact.Upsert(Key(i), vectors[i]);
        }

        return ([.. queries.Select(q => exact.Search(q, K, null).Select(n => n.Key).ToHashSet())], vectors[threshold]);
    }

    private static List<double> Latencies(IVectorIndex index, float[][] queries, int count, out int done)
    {
        var ms = new List<double>(count);
        for (done = 0; done < count; done++)
        {
            var start = Stopwatch.GetTimestamp();
            index.Search(queries[done % queries.Length], K, null);
            ms.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return ms;
    }

    private static (double Recall, double Qps) Measure(string label, float[][] queries, HashSet<string>[] truth, Func<float[], IReadOnlyList<Neighbor>> search)
    {
        for (var i = 0; i < 10; i++)
        {
            search(queries[i]);
        }

        var scored = HnswIndex.ScoredOnThisThread;
        var walked = HnswIndex.WalkedOnThisThread;
        var found = new IReadOnlyList<Neighbor>[queries.Length];
        var cpu = ThreadCpu.Seconds();
        for (var i = 0; i < queries.Length; i++)
        {
            found[i] = search(queries[i]);
        }

        var seconds = ThreadCpu.Seconds() - cpu;
        var perQuery = (HnswIndex.ScoredOnThisThread - scored) / (double)queries.Length;
        var after = HnswIndex.WalkedOnThisThread;
        var (codes, expanded, through) = ((after.Codes - walked.Codes) / (double)queries.Length, (after.Expanded - walked.Expanded) / (double)queries.Length, (after.LookedThrough - walked.LookedThrough) / (double)queries.Length);
        var recall = found.Select((f, i) => f.Count(n => truth[i].Contains(n.Key))).Sum() / (double)(queries.Length * K);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label,-32} recall {recall:F4}  {queries.Length / seconds,7:F0} QPS (CPU)  {perQuery,6:F0} float + {codes,5:F0} int8 scores, {expanded,5:F0} expanded, {through,5:F0} looked through /query  load {Load()}"));
        return (recall, queries.Length / seconds);
    }

    private static string Key(int i) => "i" + i.ToString(CultureInfo.InvariantCulture);

    private static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}

/// <summary>
/// What a filtered visual search costs end to end against an unfiltered one (issue 11, "filtered search no slower than
/// unfiltered at 10 % selectivity", seen from a request): one in-process Iris server (SQLite, gRPC on loopback) with an
/// app of text inputs carrying seeded embedding-like 1,280-d vectors in the store, a tenth of them labelled with the
/// concept <c>tenth</c>. Searches by a stored input (top 10), unfiltered and filtered by that label, alternate call by
/// call: over gRPC (the server's engine, <c>exact</c> unless <c>IRIS_SEARCH_INDEX</c> says otherwise), through the
/// planner on the server's indexes and on HNSW indexes loaded from the same store, and phase by phase (the SQL candidates,
/// the allowed set's resolution, the index search). Usage: <c>dotnet run -c Release --project bench/Iris.Bench.Search -- lab e2e [inputs] [calls] [--no-doc]</c>.
/// </summary>
internal static class FilteredEndToEnd
{
    private const string AppId = "filtered";
    private const int K = 10;

    public static async Task RunAsync(string[] args)
    {
        var numbers = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToList();
        var count = numbers.Count > 0 ? numbers[0] : 20_000;
        var calls = numbers.Count > 1 ? numbers[1] : 100;
        await using var bench = await BenchServer.StartAsync("iris-bench-filtered-e2e-", AppId);
        var (grpc, auth, ids, app, services) = (bench.Grpc, bench.Auth, bench.Ids, bench.App, bench.Server.Services);
        {
            var clock = Stopwatch.StartNew();
            var labelled = 0;
            await bench.AddTextInputsAsync("in", count, (i, data) =>
            {
                if (Mix(i) % 10 == 3)
                {
                    data.Concepts.Add(new Concept { Id = "tenth", Value = 1 });
                    labelled++;
                }
            });
            Console.WriteLine($"{count} inputs ({labelled} labelled) added and processed in {clock.Elapsed.TotalSeconds:F0} s; load {Load()}");
            var vectors = SeededVectors.Embeddings(count, 1280, seed: 20261206);
            var embedder = await bench.SaveVectorsAsync("in", count, i => vectors[i]);
            var workflows = services.GetRequiredService<IBaseWorkflows>();
            var store = services.GetRequiredService<IInputIndexStore>();
            var searches = services.GetRequiredService<ISearchStore>();
            var database = services.GetRequiredService<Iris.Storage.Db.Database>();
            var planner = services.GetRequiredService<SearchPlanner>();
            var indexes = services.GetRequiredService<VectorIndexes>();
            var hnswIndexes = new VectorIndexes(store) { Factory = () => new HnswIndex(new HnswOptions()) };
            var hnswPlanner = new SearchPlanner(workflows, hnswIndexes, store, searches, services.GetRequiredService<ImagePredictor>());
            clock.Restart();
            var serving = await indexes.GetAsync(app, embedder.Descriptor.VersionId, default);
            var loadServing = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var hnsw = (HnswIndex)await hnswIndexes.GetAsync(app, embedder.Descriptor.VersionId, default);
            Console.WriteLine($"vectors saved; the server's index ({serving.GetType().Name}) loaded in {loadServing:F1} s, the HNSW one built in {clock.Elapsed.TotalSeconds:F0} s; load {Load()}");

            Condition[] conditions = [new InputCondition.Label("tenth", string.Empty, true, false)];
            var filter = new Filter { Annotation = new Annotation { Data = new Data { Concepts = { new Concept { Id = "tenth", Value = 1 } } } } };
            PostInputsSearchesRequest Request(string inputId, bool filtered)
            {
                var request = new PostInputsSearchesRequest { UserAppId = ids, Pagination = new Pagination { Page = 1, PerPage = K } };
                var query = new Query { Ranks = { new Clarifai.Api.Rank { Annotation = new Annotation { InputId = inputId } } } };
                if (filtered)
                {
                    query.Filters.Add(filter);
                }

                request.Searches.Add(new Clarifai.Api.Search { Query = query });
                return request;
            }

            SearchQuery Planned(string inputId, bool filtered) =>
                new([new Iris.Search.Planning.Rank.SimilarTo(inputId, false)], filtered ? conditions : [], [], 0);

            var timings = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            var cpuTimings = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            async Task<T> Time<T>(string phase, Func<Task<T>> run)
            {
                // CPU time of the calling thread too, when the call completed on it (SQLite's async calls run synchronously;
                // a gRPC call's work runs on the server's threads, so only its wall time is kept).
                var thread = Environment.CurrentManagedThreadId;
                var cpu = ThreadCpu.Seconds();
                var watch = Stopwatch.StartNew();
                var result = await run();
                var ms = watch.Elapsed.TotalMilliseconds;
                var cpuMs = (ThreadCpu.Seconds() - cpu) * 1000;
                if (!timings.TryGetValue(phase, out var list))
                {
                    timings[phase] = list = [];
                    cpuTimings[phase] = [];
                }

                list.Add(ms);
                if (thread == Environment.CurrentManagedThreadId && !phase.StartsWith("gRPC", StringComparison.Ordinal))
                {
                    cpuTimings[phase].Add(cpuMs);
                }

                return result;
            }

            var loadBefore = Load();
            var candidateCount = 0;
            for (var call = -10; call < calls; call++)
            {
                var n = (int)(Mix(call + 1000) % (uint)count);
                var inputId = Key(n);
                var q = vectors[n];
                foreach (var filtered in call % 2 == 0 ? new[] { false, true } : [true, false])
                {
                    var name = filtered ? "filtered 10 %" : "unfiltered";
                    var response = await Time($"gRPC PostInputsSearches, server's engine: {name}", async () => await grpc.PostInputsSearchesAsync(Request(inputId, filtered), auth));
                    BenchServer.Check(response.Status);
                    if (response.Hits.Count != K)
                    {
                        throw new InvalidOperationException($"{name}: {response.Hits.Count} hits");
                    }

                    await Time($"planner (SearchPlanner.RunAsync), server's engine: {name}", () => planner.RunAsync(app, Planned(inputId, filtered), K, false, default));
                    await Time($"planner (SearchPlanner.RunAsync), HNSW: {name}", () => hnswPlanner.RunAsync(app, Planned(inputId, filtered), K, false, default));
                }

                // What a filtered request costs when nothing is cached (the first after any write on SQLite; every one on
                // PostgreSQL): a store and a planner of their own, so the ids are read and the set resolved again.
                var cold = new SearchPlanner(workflows, hnswIndexes, store, new SqlSearchStore(database), services.GetRequiredService<ImagePredictor>());
                await Time("planner (SearchPlanner.RunAsync), HNSW: filtered 10 %, nothing cached (a new store and planner)", () => cold.RunAsync(app, Planned(inputId, true), K, false, default));

                var candidates = await Time("phase: SQL candidates with queryable columns, newest first (ISearchStore.CandidatesAsync; metadata and geo filters)", () => searches.CandidatesAsync(app, conditions, default));
                await Time("phase: SQL ids of the filter, read (ISearchStore.MatchingIdsAsync on a new store)", () => new SqlSearchStore(database).MatchingIdsAsync(app, conditions, default));
                await Time("phase: SQL ids of the filter, store unchanged (MatchingIdsAsync answered from the SQLite cache)", () => searches.MatchingIdsAsync(app, conditions, default));
                candidateCount = candidates.Count;
                var keys = candidates.Select(c => c.InputId).ToList();
                await Time("phase: HashSet<string> of the candidates (what the planner built before)", () => Task.FromResult(keys.ToHashSet(StringComparer.Ordinal)));
                await Time("phase: resolve a new AllowedSet, server's engine (CountAmong)", () => Task.FromResult(serving.CountAmong(new AllowedSet(keys))));
                var allowed = new AllowedSet(keys);
                await Time("phase: resolve a new AllowedSet, HNSW (CountAmong)", () => Task.FromResult(hnsw.CountAmong(allowed)));
                await Time("phase: HNSW SearchAmong top 11, set resolved", () => Task.FromResult(hnsw.SearchAmong(q, K + 1, allowed)));
                await Time("phase: HNSW Search top 11, unfiltered", () => Task.FromResult(hnsw.Search(q, K + 1, null)));
                var serveAllowed = new AllowedSet(keys);
                serving.CountAmong(serveAllowed);
                await Time("phase: server's engine SearchAmong top 11, set resolved", () => Task.FromResult(serving.SearchAmong(q, K + 1, serveAllowed)));
                await Time("phase: server's engine Search top 11, unfiltered", () => Task.FromResult(serving.Search(q, K + 1, null)));
                await Time("phase: visibility of 11 unfiltered hits (ISearchStore.VisibleAsync)", () => searches.VisibleAsync(app, [.. keys.Take(K + 1)], default));
                if (call == -1)
                {
                    timings.Clear();
                    cpuTimings.Clear();
                }
                else if (call % 10 == 9)
                {
                    Console.WriteLine($"  {call + 1} of {calls} calls; load {Load()}");
                }
            }

            var text = new StringBuilder();
            text.AppendLine("## Filtered search end to end (issue 11)");
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"`nice dotnet run -c Release --project bench/Iris.Bench.Search -- lab e2e {count} {calls}` (`bench/Iris.Bench.Search/Lab.cs`, `FilteredEndToEnd`; `IRIS_MODELS_DIR` set to a warm models cache): one in-process Iris");
            text.AppendLine(CultureInfo.InvariantCulture, $"(SQLite, gRPC on loopback) with an app of {count:N0} text inputs carrying seeded embedding-like 1,280-d vectors in the store, {labelled:N0} of them ({candidateCount:N0} candidates) labelled `tenth`.");
            text.AppendLine(CultureInfo.InvariantCulture, $"{calls} searches by a stored input (top 10) without and with the filter `tenth` (10 %), alternating which goes first: over gRPC on the server's engine (`{serving.GetType().Name}`), through the planner on the server's indexes and on");
            text.AppendLine("HNSW indexes (M 16, ef_construction 200, ef 128, float walk) loaded from the same store, then each phase of a filtered request on its own. Wall-clock milliseconds, and the calling thread's CPU time where the call completed on that thread (the machine is shared and was heavily loaded: the CPU column is the steadier one).");
            text.AppendLine();
            text.AppendLine("| call or phase | wall median (ms) | wall p90 (ms) | CPU median (ms; samples on one thread) |");
            text.AppendLine("|---|---:|---:|---:|");
            string Cpu(string phase) => cpuTimings[phase].Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{Percentile(cpuTimings[phase], 0.5):F3} ({cpuTimings[phase].Count})");
            foreach (var (phase, list) in timings)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {phase} | {Percentile(list, 0.5):F3} | {Percentile(list, 0.9):F3} | {Cpu(phase)} |");
            }

            text.AppendLine();
            foreach (var engine in new[] { "gRPC PostInputsSearches, server's engine", "planner (SearchPlanner.RunAsync), server's engine", "planner (SearchPlanner.RunAsync), HNSW" })
            {
                var (u, f) = (Percentile(timings[$"{engine}: unfiltered"], 0.5), Percentile(timings[$"{engine}: filtered 10 %"], 0.5));
                var (cu, cf) = (cpuTimings[$"{engine}: unfiltered"], cpuTimings[$"{engine}: filtered 10 %"]);
                var cpuRatio = cu.Count > 0 && cf.Count > 0
                    ? string.Create(CultureInfo.InvariantCulture, $"; CPU {Percentile(cf, 0.5):F2} / {Percentile(cu, 0.5):F2} ms = {Percentile(cf, 0.5) / Percentile(cu, 0.5):F2}×")
                    : "";
                text.AppendLine(CultureInfo.InvariantCulture, $"- {engine}: filtered 10 % / unfiltered median = {f:F2} / {u:F2} ms = {f / u:F2}× wall{cpuRatio}.");
            }

            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Load average {loadBefore} before the calls, {Load()} at the end, on {Environment.ProcessorCount} cores.");
            Console.WriteLine(text);
            if (!args.Contains("--no-doc"))
            {
                Iris.Bench.BenchmarkDoc.WriteSection(Path.Combine(Root(), "docs", "benchmarks.md"), "## Filtered search end to end (issue 11)", text.ToString());
            }
        }
    }

    private static string Key(int i) => "in" + i.ToString(CultureInfo.InvariantCulture);

    private static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }


    internal static string Root()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Iris.slnx")))
        {
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("Run from inside the repository.");
        }

        return dir;
    }
}
