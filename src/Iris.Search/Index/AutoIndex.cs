using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Iris.Search.Index;

/// <summary>
/// The engine an app gets by default: exact answers (<see cref="QuantizedExactIndex"/>) while it is small, an HNSW graph
/// once it holds more than <see cref="Threshold"/> vectors.
/// <para>
/// The switch: a write or search that finds the exact engine above the threshold starts a build on a background thread
/// (never on the caller's). The build copies the exact engine's unit vectors into a new graph a chunk at a time (one
/// short read lock per chunk), while searches go on being answered by the exact engine and writes go on into it, each
/// written key noted. The noted keys are then replayed into the graph (its current vector, or its removal) in rounds
/// until few are left; the last few and the swap happen under the write lock, so no write is lost. The swap is one
/// reference: a search already running finishes on the exact engine, the next one walks the graph. The exact engine is
/// then dropped (the graph holds the same unit vectors), so after the switch the app costs the graph alone.
/// </para>
/// <para>
/// A build that throws is logged (<see cref="LastBuildFailure"/> keeps it), leaves the exact engine serving, and is
/// retried by the first write or search after <see cref="RetryAfter"/>. Shrinking: an app that has switched stays a
/// graph (a graph of a few vectors still answers exactly in practice, and switching back and forth around the threshold
/// would rebuild each time); <see cref="Clear"/> (a reload) starts over with the exact engine.
/// </para>
/// </summary>
public sealed class AutoIndex : IVectorIndex
{
    /// <summary>
    /// Vectors above which the graph is built: at 1,280-d the graph's query (server settings, ef 128) is 1.2–1.5× the
    /// exact scan's QPS at 8,000 vectors and 4–5× at 16,000 (docs/benchmarks.md, "Exact or graph").
    /// </summary>
    public const int DefaultThreshold = 10_000;

    // Unit vectors copied from the exact engine per read lock during a build.
    private const int Chunk = 256;

    // Noted keys left for the final replay under the write lock.
    private const int FinalReplay = 64;

    private readonly Func<HnswIndex> _newGraph;
    private readonly ILogger _logger;

    // Guards writes, the noted keys and the swap; searches never take it.
    private readonly Lock _write = new();
    private volatile IVectorIndex _serving;
    private volatile QuantizedExactIndex? _exact;
    private HashSet<string>? _noted;
    private volatile Task _build = Task.CompletedTask;
    private int _generation;
    private long _retryAt;
    private int _switches;
    private int _failures;

    /// <summary>An index that answers exactly until it holds more than <paramref name="threshold"/> vectors.</summary>
    /// <param name="threshold">Vectors above which the graph is built (at least 1).</param>
    /// <param name="newGraph">A new, empty graph of the configured settings (called once per build, on the build's thread).</param>
    /// <param name="logger">Where a failed build (and a graph's failed compaction) is logged.</param>
    public AutoIndex(int threshold, Func<HnswIndex> newGraph, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        Threshold = threshold;
        _newGraph = newGraph;
        _logger = logger ?? NullLogger.Instance;
        _serving = _exact = new QuantizedExactIndex();
    }

    /// <summary>An index already past the switch, serving <paramref name="graph"/> (a restored snapshot).</summary>
    public AutoIndex(int threshold, Func<HnswIndex> newGraph, HnswIndex graph, ILogger? logger = null)
        : this(threshold, newGraph, logger)
    {
        graph.Logger = _logger;
        _serving = graph;
        _exact = null;
    }

    public int Threshold { get; }

    /// <summary>How long after a failed build the next one may start. Default 1 min.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The graph, once it serves; null while the exact engine does.</summary>
    public HnswIndex? Graph => _serving as HnswIndex;

    /// <summary>Times this index switched to a graph it built (a restored graph does not count).</summary>
    public int Switches => Volatile.Read(ref _switches);

    /// <summary>Builds that threw; the last one's exception.</summary>
    public int BuildFailures => Volatile.Read(ref _failures);

    public Exception? LastBuildFailure { get; private set; }

    /// <summary>The build under way (or the last one, completed); it never faults: failures are caught and logged.</summary>
    public Task BuildDone => _build;

    /// <summary>Whether a build is under way (tests watch it).</summary>
    public bool Building => !_build.IsCompleted;

    public int Dimensions => _serving.Dimensions;

    public int Count => _serving.Count;

    public void Upsert(string key, ReadOnlySpan<float> vector)
    {
        lock (_write)
        {
            _serving.Upsert(key, vector);
            _noted?.Add(key);
        }

        MaybeBuild(wait: true);
    }

    public bool Remove(string key)
    {
        bool removed;
        lock (_write)
        {
            removed = _serving.Remove(key);
            _noted?.Add(key);
        }

        return removed;
    }

    public bool Contains(string key) => _serving.Contains(key);

    /// <summary>Empties the index and starts over with the exact engine; a build under way is dropped at its swap.</summary>
    public void Clear()
    {
        lock (_write)
        {
            _generation++;
            _noted = null;
            _serving = _exact = new QuantizedExactIndex();
        }
    }

    public IReadOnlyList<Neighbor> Search(ReadOnlySpan<float> query, int k, Func<string, bool>? filter)
    {
        var serving = _serving;
        MaybeBuild(wait: false);
        return serving.Search(query, k, filter);
    }

    public IReadOnlyList<Neighbor> SearchAmong(ReadOnlySpan<float> query, int k, AllowedSet allowed)
    {
        var serving = _serving;
        MaybeBuild(wait: false);
        return serving.SearchAmong(query, k, allowed);
    }

    public int CountAmong(AllowedSet allowed) => _serving.CountAmong(allowed);

    public bool TrySimilarity(ReadOnlySpan<float> query, string key, out float cosine) => _serving.TrySimilarity(query, key, out cosine);

    // Starts a build when the exact engine holds more than the threshold and none runs (nor failed within RetryAfter).
    // A search passes wait: false and gives up when a writer holds the lock: no search ever waits on the build's account.
    private void MaybeBuild(bool wait)
    {
        if (_exact is not { } exact || !_build.IsCompleted || Environment.TickCount64 < Volatile.Read(ref _retryAt) || exact.Count <= Threshold)
        {
            return;
        }

        if (!wait && !_write.TryEnter())
        {
            return;
        }

        if (wait)
        {
            _write.Enter();
        }

        try
        {
            if (!ReferenceEquals(_exact, exact) || !_build.IsCompleted)
            {
                return;
            }

            _noted = new HashSet<string>(StringComparer.Ordinal);
            var generation = _generation;
            _build = Task.Factory.StartNew(() => Build(exact, generation), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        finally
        {
            _write.Exit();
        }
    }

    private void Build(QuantizedExactIndex exact, int generation)
    {
        try
        {
            var graph = _newGraph();
            graph.Logger = _logger;
            var d = exact.Dimensions;
            var keys = new List<string>(Chunk);
            var vectors = new float[Chunk * d];

            // 1. What the exact engine held when the build started (keys written since are noted, replayed below).
            var end = exact.SlotsUsed;
            for (var slot = 0; slot < end;)
            {
                slot = exact.CopySlots(slot, end, keys, vectors);
                for (var i = 0; i < keys.Count; i++)
                {
                    graph.Upsert(keys[i], vectors.AsSpan(i * d, d));
                }

                if (Volatile.Read(ref _generation) != generation)
                {
                    return;
                }
            }

            // 2. The keys written meanwhile, in rounds, off the lock; a bulk load that writes faster than the graph
            // inserts ends up in the final replay after a few rounds.
            for (var round = 0; round < 16; round++)
            {
                HashSet<string> noted;
                lock (_write)
                {
                    if (_generation != generation || _noted!.Count <= FinalReplay)
                    {
                        break;
                    }

                    noted = _noted;
                    _noted = new HashSet<string>(StringComparer.Ordinal);
                }

                foreach (var key in noted)
                {
                    Replay(exact, graph, key, vectors);
                }
            }

            // 3. The last ones and the swap, under the write lock.
            lock (_write)
            {
                if (_generation != generation)
                {
                    return;
                }

                foreach (var key in _noted!)
                {
                    Replay(exact, graph, key, vectors);
                }

                _noted = null;
                _serving = graph;
                _exact = null;
                _switches++;
            }

            _logger.LogInformation("A vector index passed {Threshold} vectors and now answers from an HNSW graph of {Count} vectors.", Threshold, graph.Count);
        }
        catch (Exception e)
        {
            lock (_write)
            {
                if (_generation == generation)
                {
                    _noted = null;
                }

                LastBuildFailure = e;
                _failures++;
                Volatile.Write(ref _retryAt, Environment.TickCount64 + (long)RetryAfter.TotalMilliseconds);
            }

            _logger.LogError(e, "Building the HNSW graph of a vector index of {Count} vectors failed; its searches stay exact, and the build is retried in {Retry} s.", exact.Count, RetryAfter.TotalSeconds);
        }
    }

    // One noted key brought into the graph as the exact engine holds it now: its vector, or gone.
    private static void Replay(QuantizedExactIndex exact, HnswIndex graph, string key, float[] buffer)
    {
        var vector = buffer.AsSpan(0, exact.Dimensions);
        if (exact.TryCopy(key, vector))
        {
            graph.Upsert(key, vector);
        }
        else
        {
            graph.Remove(key);
        }
    }
}
