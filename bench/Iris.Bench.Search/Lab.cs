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
/// </summary>
internal static class Lab
{
    private const int K = 10;

    public static void Run(string[] args)
    {
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

    private static void Measure(string label, float[][] queries, HashSet<string>[] truth, Func<float[], IReadOnlyList<Neighbor>> search)
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
    }

    private static string Key(int i) => "i" + i.ToString(CultureInfo.InvariantCulture);

    private static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
