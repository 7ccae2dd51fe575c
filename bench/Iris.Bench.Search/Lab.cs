using System.Diagnostics;
using System.Globalization;
using Iris.Search.Index;
using Iris.Testing;

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
        var hnsw = File.Exists(cache) ? HnswIndex.Restore(File.ReadAllBytes(cache), options) : null;
        if (hnsw is null)
        {
            hnsw = new HnswIndex(options);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                hnsw.Upsert(Key(i), vectors[i]);
            }

            Console.WriteLine($"built in {clock.Elapsed.TotalSeconds:F1} s");
            File.WriteAllBytes(cache, hnsw.Snapshot());
        }

        var exact = new ExactIndex();
        for (var i = 0; i < count; i++)
        {
            exact.Upsert(Key(i), vectors[i]);
        }

        var truth = queries.Select(q => exact.Search(q, K, null).Select(n => n.Key).ToHashSet()).ToArray();
        Console.WriteLine($"{count} × {dim}; load {Load()}");
        if (args.Contains("--convert"))
        {
            var allowed = Enumerable.Range(0, count).Where(i => Mix(i) % 10 == 3).Select(Key).ToHashSet();
            var filteredTruth = queries.Select(q => exact.SearchAmong(q, K, allowed).Select(n => n.Key).ToHashSet()).ToArray();
            for (var round = 0; round < 2; round++)
            {
                foreach (var int8 in new[] { false, true })
                {
                    hnsw.UseInt8 = int8;
                    hnsw.EfSearch = 64;
                    Measure($"unfiltered {(int8 ? "int8" : "float")} ef 64", queries, truth, q => hnsw.Search(q, K, null));
                    foreach (var ef in new[] { 16, 32 })
                    {
                        hnsw.EfSearch = ef;
                        Measure($"10 % {(int8 ? "int8" : "float")} ef {ef}", queries, filteredTruth, q => hnsw.SearchAmong(q, K, allowed));
                    }
                }

                var cpu = ThreadCpu.Seconds();
                for (var i = 0; i < queries.Length; i++)
                {
                    hnsw.BitsetOf(allowed);
                }

                Console.WriteLine($"10 % allowed set to bitset alone: {queries.Length / (ThreadCpu.Seconds() - cpu):F0} per CPU-second ({allowed.Count} keys)");
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
            var allowed = Enumerable.Range(0, count).Where(i => Mix(i) % modulo == 3).Select(Key).ToHashSet();
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
                var exactQps = Measure("exact (QuantizedExactIndex)", queries, truth, q => exact.Search(q, K, null));
                foreach (var ef in new[] { 16, 32, 64, 128 })
                {
                    graph.EfSearch = ef;
                    var (qps, recall) = MeasureWithRecall($"hnsw ef {ef}", queries, truth, q => graph.Search(q, K, null));
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

    private static double Measure(string label, float[][] queries, HashSet<string>[] truth, Func<float[], IReadOnlyList<Neighbor>> search) =>
        MeasureWithRecall(label, queries, truth, search).Qps;

    private static (double Qps, double Recall) MeasureWithRecall(string label, float[][] queries, HashSet<string>[] truth, Func<float[], IReadOnlyList<Neighbor>> search)
    {
        for (var i = 0; i < 10; i++)
        {
            search(queries[i]);
        }

        var scored = HnswIndex.ScoredOnThisThread;
        var found = new IReadOnlyList<Neighbor>[queries.Length];
        var cpu = ThreadCpu.Seconds();
        for (var i = 0; i < queries.Length; i++)
        {
            found[i] = search(queries[i]);
        }

        var seconds = ThreadCpu.Seconds() - cpu;
        var perQuery = (HnswIndex.ScoredOnThisThread - scored) / (double)queries.Length;
        var recall = found.Select((f, i) => f.Count(n => truth[i].Contains(n.Key))).Sum() / (double)(queries.Length * K);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label,-32} recall {recall:F4}  {queries.Length / seconds,7:F0} QPS (CPU)  {perQuery,7:F0} scores/query  load {Load()}"));
        return (queries.Length / seconds, recall);
    }

    private static string Key(int i) => "i" + i.ToString(CultureInfo.InvariantCulture);

    private static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
