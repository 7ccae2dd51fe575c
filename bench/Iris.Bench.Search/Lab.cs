using System.Diagnostics;
using System.Globalization;
using Iris.Search.Index;
using Iris.Testing;

namespace Iris.Bench.Search;

/// <summary>
/// Where a search's time goes, for tuning the walk (not a report): distance computations and QPS per query, unfiltered
/// against filtered walks (scoring every node met, or only allowed ones looking through the rest) and the exact scan of
/// the allowed vectors, each repeated and interleaved. The graph is cached as a snapshot in the temp directory.
/// Usage: dotnet run -c Release --project bench/Iris.Bench.Search -- lab [count] [dim] [queries] [--profile [--ef N] | --kernel]
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

    private static void Measure(string label, float[][] queries, HashSet<string>[] truth, Func<float[], IReadOnlyList<Neighbor>> search)
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
    }

    private static string Key(int i) => "i" + i.ToString(CultureInfo.InvariantCulture);

    private static uint Mix(int i) => unchecked((uint)i * 2654435761u) >> 7;

    private static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
