using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Iris.Search.Index;

/// <summary>Settings of an <see cref="HnswIndex"/>.</summary>
/// <param name="M">Links per node on the upper layers (layer 0 keeps 2·M). Memory: 4·(2·M + 1) bytes of layer-0 links per vector, plus about 4·(M + 1)/(M − 1) for the upper layers, beside its 4·d bytes (and d more with <see cref="Int8"/>).</param>
/// <param name="EfConstruction">Candidates kept while linking a new node: build time grows linearly with it, recall with diminishing returns.</param>
/// <param name="EfSearch">Candidates kept while searching (at least k): the recall/speed knob.</param>
/// <param name="Seed">Seed of the level draws: the same inserts in the same order build the same graph.</param>
public sealed record HnswOptions(int M = 16, int EfConstruction = 200, int EfSearch = 128, int Seed = 42)
{
    /// <summary>
    /// A filter letting through at most this share of the live vectors is answered by an exact scan of the vectors it
    /// lets through, which is then both exact and cheaper than a graph walk that must skip most of what it meets
    /// (see docs/benchmarks.md for the measured cross-over).
    /// </summary>
    public double ExactBelowSelectivity { get; init; } = 0.02;

    /// <summary>
    /// Walk the graph with 8-bit codes of the vectors (one byte per dimension, per-dimension min/max fitted on the
    /// first <see cref="HnswIndex.QuantizeAfter"/> vectors) and re-score the ef best with the float vectors: a quarter
    /// of the memory traffic per visited node, at the cost of d bytes more per vector.
    /// </summary>
    public bool Int8 { get; init; }

    /// <summary>
    /// When deleted nodes (tombstones) exceed this share of the graph's nodes, the index compacts: the live
    /// neighbours of every deleted node are re-linked among themselves and the deleted nodes' memory is reclaimed.
    /// </summary>
    public double CompactAbove { get; init; } = 0.2;

    /// <summary>
    /// Candidates a search keeps on layer 1, the last upper layer, while it looks for its entry into layer 0; 0 = the
    /// search's ef ÷ 8 (at least 1). 1 is the greedy descent of the paper and hnswlib, whose entry depends on which nodes
    /// the level draw lifted: at 1,000,000 vectors one draw reached recall 0.9896 at most where another reached 1.0000
    /// with the same construction, and walking layer 1 best-first with ef ÷ 8 brought the first to 0.9996
    /// (docs/benchmarks.md, "Search at 1,000,000 vectors"). Upper layers above 1 stay greedy.
    /// </summary>
    public int UpperEf { get; init; }

    /// <summary>
    /// When a link list, after the diversity heuristic has chosen, is filled up to its limit with the closest candidates
    /// the heuristic pruned ("keepPrunedConnections" in the paper; hnswlib never fills). See docs/benchmarks.md, "Search
    /// at 1,000,000 vectors", for what each choice measured.
    /// </summary>
    public PrunedFill KeepPrunedConnections { get; init; } = PrunedFill.Always;
}

/// <summary>When a link list is filled with the candidates the diversity heuristic pruned (<see cref="HnswOptions.KeepPrunedConnections"/>).</summary>
public enum PrunedFill
{
    /// <summary>Every list: a new node's own, and an existing node's when a new link overflows it.</summary>
    Always,

    /// <summary>Never (hnswlib's choice): lists hold only the heuristic's picks (all candidates when fewer than a list holds, as hnswlib).</summary>
    Never,

    /// <summary>Only an existing node's list when a new link overflows it; a new node's own list holds the heuristic's picks.</summary>
    OnOverflow,

    /// <summary>Only a new node's own list; an existing node's list pruned on overflow keeps the heuristic's picks.</summary>
    OnInsert,
}

/// <summary>
/// A hierarchical navigable small-world graph (Malkov and Yashunin, 2016) over L2-normalised vectors, written for Iris
/// on <see cref="TensorPrimitives"/>. Storage is flat: every vector in one contiguous float array (and, with
/// <see cref="HnswOptions.Int8"/>, one contiguous byte array of codes), layer-0 links in one int array of 2·M + 1
/// slots per node (a count, then the links), upper layers in one small int array per node that has them. A search
/// uses a per-thread scratch (visited epochs, two binary heaps) and allocates only its result.
/// <para>
/// Filters apply during the walk. An allowed set of keys (<see cref="SearchAmong"/>) becomes a bitset over node ids,
/// built once and kept in the <see cref="AllowedSet"/> until the graph changes; below half of the vectors allowed, the
/// walk scores only allowed nodes and looks through filtered-out ones to their links (two hops, after ACORN), so it
/// scores about as many vectors as an unfiltered walk; a
/// set letting through at most <see cref="HnswOptions.ExactBelowSelectivity"/> of the vectors, or small enough that
/// scoring it costs less than the walk, is answered by scoring just those vectors. A key callback (<see cref="Search"/>)
/// navigates through every node and lets only passing ones into the results. Deletes leave tombstones that still route
/// searches but never appear in results; above <see cref="HnswOptions.CompactAbove"/> of the nodes the graph is
/// compacted. Readers run concurrently; inserts and deletes take a write lock (one at a time). Snapshots
/// (<see cref="WriteSnapshot"/>, <see cref="ReadSnapshot"/>), streamed and of any size, let a restarted node skip the rebuild.
/// </para>
/// </summary>
public sealed class HnswIndex : IVectorIndex
{
    /// <summary>Vectors inserted before the int8 codes are fitted (searches use the float vectors until then).</summary>
    public const int QuantizeAfter = 1024;

    private const string SnapshotMagic = "IRIS-HNSW-2";

    private readonly HnswOptions _options;
    private readonly int _maxUpper;
    private readonly int _max0;
    private readonly int _stride0;
    private readonly int _strideUp;

    // Whether a new node's own list, and an existing list a new link overflows, are filled with pruned candidates (HnswOptions.KeepPrunedConnections).
    private readonly bool _fillInserted;
    private readonly bool _fillOverflowed;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    // While a compaction builds its graph off the lock: the keys inserted or deleted since it copied the graph, replayed
    // into the new graph before the swap. Guarded by the write lock (writers add) and the compactor's own lock.
    private HashSet<string>? _dirty;
    private readonly Lock _dirtyLock = new();
    private Task? _compaction;
    private int _generation;
    private Random _random;
    private float[] _vectors = [];
    private byte[] _codes = [];
    private float[]? _lo;
    private float[]? _step;
    private string[] _keys = [];
    private bool[] _deleted = [];
    private int[] _levels = [];
    private int[] _links0 = [];
    private int[]?[] _upper = [];
    private int _count;
    private int _tombstones;
    private int _dimensions;
    private int _entry = -1;
    private int _maxLevel = -1;

    // Moves on every change of the key → node id map (insert, replacement, delete, clear, compaction), under the write
    // lock: an AllowedSet's resolution into node ids is reused only at the version it was built at.
    private long _mutations;

    // A visited array for this graph's size, made when a snapshot is restored: the first search after a restart takes
    // it instead of allocating one itself. At 1,000,000 nodes it is 8 MB, and its allocation (zeroed, on fresh pages,
    // the first large one after gigabytes of restored arrays) made the first query several times slower than a warm one.
    private int[]? _spareVisited;

    [ThreadStatic]
    private static Scratch? t_scratch;

    [ThreadStatic]
    private static long t_scored;

    [ThreadStatic]
    private static long t_scoredCodes;

    [ThreadStatic]
    private static long t_expanded;

    [ThreadStatic]
    private static long t_lookedThrough;

    // Lab switches (bench/Iris.Bench.Search/Lab.cs compares the variants in one run): the walk's float kernel, and
    // whether the unfiltered walk gathers a node's unvisited neighbours and prefetches their vectors before scoring.
    [ThreadStatic]
    private static bool t_tensorPrimitives;

    [ThreadStatic]
    private static bool t_noPrefetch;

    internal static void LabSwitches(bool tensorPrimitives, bool noPrefetch) => (t_tensorPrimitives, t_noPrefetch) = (tensorPrimitives, noPrefetch);

    /// <summary>Float distance computations this thread has made in graph walks (a measure for the benchmark).</summary>
    internal static long ScoredOnThisThread => t_scored;

    /// <summary>Int8 code distance computations, nodes expanded (their links read) and filtered-out nodes looked through on layer 0 by this thread's walks (benchmark measures).</summary>
    internal static (long Codes, long Expanded, long LookedThrough) WalkedOnThisThread => (t_scoredCodes, t_expanded, t_lookedThrough);

    /// <summary>
    /// Allowed share below which a filtered walk scores only allowed nodes and looks through filtered-out ones to their
    /// links (see SearchFiltered); at or above it, the walk scores every node it meets. Benchmarks sweep it.
    /// </summary>
    public double TwoHopBelowSelectivity { get; set; } = 0.5;

    /// <summary>Allowed neighbours a filtered walk gathers per node before it stops looking through filtered-out ones (M by default).</summary>
    internal int TwoHopTarget { get; set; }

    public HnswIndex(HnswOptions? options = null)
    {
        _options = options ?? new HnswOptions();
        _maxUpper = _options.M;
        _max0 = 2 * _options.M;
        _stride0 = _max0 + 1;
        _strideUp = _maxUpper + 1;
        _fillInserted = _options.KeepPrunedConnections is PrunedFill.Always or PrunedFill.OnInsert;
        _fillOverflowed = _options.KeepPrunedConnections is PrunedFill.Always or PrunedFill.OnOverflow;
        _random = new Random(_options.Seed);
        EfSearch = _options.EfSearch;
        TwoHopTarget = _options.M;
        UseInt8 = _options.Int8;
        ExactBelowSelectivity = _options.ExactBelowSelectivity;
        UpperEf = _options.UpperEf;
    }

    public int Dimensions => _dimensions;

    /// <summary>How many links <paramref name="key"/>'s node holds on <paramref name="level"/> (tests read the graph's shape).</summary>
    internal int LinkCount(string key, int level)
    {
        _lock.EnterReadLock();
        try
        {
            return Links(_ids[key], level)[0];
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Candidates kept while searching (starts at <see cref="HnswOptions.EfSearch"/>); benchmarks sweep it.</summary>
    public int EfSearch { get; set; }

    /// <summary>Whether searches walk with the int8 codes (starts at <see cref="HnswOptions.Int8"/>); codes are kept only when the option is on.</summary>
    public bool UseInt8 { get; set; }

    /// <summary>Allowed share at or below which a filtered search scores the allowed vectors exactly (starts at <see cref="HnswOptions.ExactBelowSelectivity"/>); benchmarks sweep it.</summary>
    public double ExactBelowSelectivity { get; set; }

    /// <summary>
    /// Whether a filtered search scores the allowed vectors exactly when that costs fewer distance computations than the
    /// walk would (about 6·list / s for a share s); on by default, benchmarks turn it off to time the walk itself.
    /// </summary>
    public bool ScanWhenCheaper { get; set; } = true;

    /// <summary>Candidates kept on layer 1 while a search finds its layer-0 entry (starts at <see cref="HnswOptions.UpperEf"/>; 0 = ef ÷ 8); benchmarks sweep it.</summary>
    public int UpperEf { get; set; }

    /// <summary>Where a background compaction that fails is logged (the graph goes on serving with its deleted nodes).</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>How long after a failed background compaction the next one may start. Default 1 min.</summary>
    public TimeSpan CompactionRetryAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Background compactions that threw (each logged); the last one's exception.</summary>
    public int CompactionFailures => Volatile.Read(ref _compactionFailures);

    public Exception? LastCompactionFailure { get; private set; }

    private int _compactionFailures;
    private long _compactionRetryAt;

    /// <summary>Test seam: runs at the start of a compaction's off-lock build, so a test can make it throw.</summary>
    internal Action? CompactionFault { get; set; }

    /// <summary>Nodes the graph holds, deleted ones (not yet compacted away) included.</summary>
    public int NodeCount => _count;

    public int Count
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _ids.Count;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    public void Upsert(string key, ReadOnlySpan<float> vector)
    {
        IndexDimensions.RequireNonEmpty(vector);
        _lock.EnterWriteLock();
        try
        {
            IndexDimensions.Adopt(ref _dimensions, vector);
            MarkDirty(key);
            _mutations++;
            if (_ids.Remove(key, out var old))
            {
                _deleted[old] = true;
                _tombstones++;
            }

            Insert(key, vector);
            CompactIfNeeded();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public bool Remove(string key)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_ids.Remove(key, out var id))
            {
                return false;
            }

            MarkDirty(key);
            _mutations++;
            _deleted[id] = true;
            _tombstones++;
            CompactIfNeeded();
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public bool Contains(string key)
    {
        _lock.EnterReadLock();
        try
        {
            return _ids.ContainsKey(key);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public void Clear()
    {
        _lock.EnterWriteLock();
        try
        {
            _generation++; // a compaction under way is dropped at its swap
            _mutations++;
            _ids.Clear();
            (_vectors, _codes, _keys, _deleted, _levels, _links0, _upper) = ([], [], [], [], [], [], []);
            (_lo, _step) = (null, null);
            (_count, _tombstones, _dimensions, _entry, _maxLevel) = (0, 0, 0, -1, -1);
            _random = new Random(_options.Seed);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public bool TrySimilarity(ReadOnlySpan<float> query, string key, out float cosine)
    {
        _lock.EnterReadLock();
        try
        {
            if (!_ids.TryGetValue(key, out var id))
            {
                cosine = 0;
                return false;
            }

            IndexDimensions.RequireQuery(_dimensions, query);
            var norm = TensorPrimitives.Norm(query);
            cosine = norm == 0 ? 0 : Cosine(id, query) / norm;
            return true;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public IReadOnlyList<Neighbor> Search(ReadOnlySpan<float> query, int k, Func<string, bool>? filter)
    {
        if (k <= 0)
        {
            return [];
        }

        _lock.EnterReadLock();
        try
        {
            if (_ids.Count == 0)
            {
                return [];
            }

            var s = Prepare(query);
            var ef = Math.Max(EfSearch, k);
            if (filter is null)
            {
                return Walk(s, k, ef, new LiveOnly(_deleted));
            }

            // The filter's share, from a sample of at most 2,048 nodes spread over the graph (a full count would cost a
            // call per node on every query); callers that know the allowed set use SearchAmong, which counts it exactly.
            int sampled = 0, passing = 0;
            var stride = Math.Max(1, _count / 2048);
            for (var id = 0; id < _count; id += stride)
            {
                if (!_deleted[id])
                {
                    sampled++;
                    passing += filter(_keys[id]) ? 1 : 0;
                }
            }

            var selectivity = sampled == 0 ? 1 : (double)passing / sampled;
            var efWalk = FilteredEf(ef, k, selectivity);
            if (selectivity <= ExactBelowSelectivity || selectivity * _ids.Count <= ef || (ScanWhenCheaper && selectivity * _ids.Count <= WalkCost(efWalk, selectivity)))
            {
                var heap = s.Results;
                heap.Clear();
                foreach (var (key, id) in _ids)
                {
                    if (filter(key))
                    {
                        Offer(heap, id, Cosine(id, s.Query), k);
                    }
                }

                return Drain(heap, k);
            }

            return Walk(s, k, efWalk, new ByKey(_deleted, _keys, filter));
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public IReadOnlyList<Neighbor> SearchAmong(ReadOnlySpan<float> query, int k, AllowedSet allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        if (k <= 0)
        {
            return [];
        }

        _lock.EnterReadLock();
        try
        {
            if (_ids.Count == 0 || allowed.Keys.Count == 0)
            {
                return [];
            }

            var s = Prepare(query);
            var ef = Math.Max(EfSearch, k);
            var resolved = allowed.Resolve(this, _mutations, _ids, _count);
            var (bits, passing) = (resolved.Bits, resolved.Count);
            if (passing == 0)
            {
                return [];
            }

            var share = (double)passing / _ids.Count;
            var twoHop = share < TwoHopBelowSelectivity;
            var efWalk = twoHop ? TwoHopEf(ef, k) : FilteredEf(ef, k, share);
            var walkCost = twoHop ? TwoHopCost(efWalk) : WalkCost(efWalk, share);
            if (passing <= ExactBelowSelectivity * _ids.Count || passing <= ef || (ScanWhenCheaper && passing <= walkCost))
            {
                var heap = s.Results;
                heap.Clear();
                var q = s.Query.AsSpan(0, _dimensions);
                for (var w = 0; w < bits.Length; w++)
                {
                    for (var word = bits[w]; word != 0; word &= word - 1)
                    {
                        var id = (w << 6) + BitOperations.TrailingZeroCount(word);
                        Offer(heap, id, Cosine(id, q), k);
                    }
                }

                return Drain(heap, k);
            }

            return Walk(s, k, efWalk, new InSet(bits), twoHop);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public int CountAmong(AllowedSet allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        _lock.EnterReadLock();
        try
        {
            return allowed.Resolve(this, _mutations, _ids, _count).Count;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Writes the whole graph (options, keys, tombstones, links, int8 ranges, normalised vectors) to
    /// <paramref name="destination"/>, for the blob store: a restarted node restores it instead of rebuilding. About
    /// 4·d + 4·(2·M + 1) + key bytes per node, written in slices, so a snapshot has no size limit (a million 1,280-d
    /// vectors write about 5.3 GB). Searches go on while it is written; inserts and deletes wait for it (read lock).
    /// </summary>
    public void WriteSnapshot(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        _lock.EnterReadLock();
        try
        {
            using var w = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
            w.Write(SnapshotMagic);
            w.Write(_options.M);
            w.Write(_options.EfConstruction);
            w.Write(_dimensions);
            w.Write(_count);
            w.Write(_tombstones);
            w.Write(_entry);
            w.Write(_maxLevel);
            w.Write(_lo is not null);
            w.Flush();
            if (_lo is not null)
            {
                WriteSlices(destination, _lo, _lo.Length);
                WriteSlices(destination, _step!, _step!.Length);
            }

            for (var id = 0; id < _count; id++)
            {
                w.Write(_keys[id]);
                w.Write(_deleted[id]);
                w.Write(_levels[id]);
            }

            w.Flush();
            WriteSlices(destination, _links0, (long)_count * _stride0);
            for (var id = 0; id < _count; id++)
            {
                if (_upper[id] is { } up)
                {
                    WriteSlices(destination, up, up.Length);
                }
            }

            WriteSlices(destination, _vectors, (long)_count * _dimensions);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// The index a <see cref="WriteSnapshot"/> wrote, read from <paramref name="source"/>; null when the stream does not
    /// hold a snapshot of these options' graph shape. A stream that ends early throws <see cref="EndOfStreamException"/>.
    /// </summary>
    public static HnswIndex? ReadSnapshot(Stream source, HnswOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var index = new HnswIndex(options);
        using var r = new BinaryReader(source, System.Text.Encoding.UTF8, leaveOpen: true);
        if (r.ReadString() != SnapshotMagic || r.ReadInt32() != index._options.M || r.ReadInt32() != index._options.EfConstruction)
        {
            return null;
        }

        (index._dimensions, index._count, index._tombstones, index._entry, index._maxLevel) = (r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        var d = index._dimensions;
        if (d < 0 || index._count < 0 || (long)index._count * Math.Max(d, index._stride0) > Array.MaxLength)
        {
            throw new InvalidDataException($"An HNSW snapshot of {index._count} vectors of {d} dimensions does not fit one index.");
        }

        if (r.ReadBoolean())
        {
            (index._lo, index._step) = (new float[d], new float[d]);
            ReadSlices(source, index._lo, d);
            ReadSlices(source, index._step, d);
        }

        index.Grow(Math.Max(1024, index._count));
        for (var id = 0; id < index._count; id++)
        {
            index._keys[id] = r.ReadString();
            index._deleted[id] = r.ReadBoolean();
            index._levels[id] = r.ReadInt32();
            if (!index._deleted[id])
            {
                index._ids[index._keys[id]] = id;
            }
        }

        ReadSlices(source, index._links0, (long)index._count * index._stride0);
        for (var id = 0; id < index._count; id++)
        {
            if (index._levels[id] > 0)
            {
                var up = index._upper[id] = new int[index._levels[id] * index._strideUp];
                ReadSlices(source, up, up.Length);
            }
        }

        ReadSlices(source, index._vectors, (long)index._count * d);
        if (index._options.Int8)
        {
            if (index._lo is null && index._count >= QuantizeAfter)
            {
                index.FitCodes();
            }
            else if (index._lo is not null)
            {
                for (var id = 0; id < index._count; id++)
                {
                    index.Encode(id);
                }
            }
        }
        else
        {
            (index._lo, index._step) = (null, null);
        }

        // New levels after a restore come from a seed that depends on the size, so they stay reproducible.
        index._random = new Random(index._options.Seed + index._count);
        index._spareVisited = new int[Scratch.VisitedLength(index._count)];
        index.Warm(index._spareVisited);
        return index;
    }

    /// <summary>Searches a restore runs before it hands the graph out (<see cref="Warm"/>).</summary>
    internal const int WarmSearches = 8;

    // A restored graph's arrays are resident but cold: neither the CPU's caches nor its address-translation caches hold
    // the upper layers and the hubs of layer 0 that every search passes through, so the first search after a restart
    // took 3× a warm one at 100,000 nodes and 4–10× at 1,000,000, and the next few 1.4–2×. A restore therefore ends with
    // a few searches of its own (from stored vectors spread over the graph), on the visited array it hands to the first
    // searching thread, which is cleared again afterwards.
    private void Warm(int[] visited)
    {
        if (_count == 0)
        {
            return;
        }

        var s = new Scratch();
        s.TakeVisited(visited);
        s.Ensure(_count, _dimensions);
        var stride = Math.Max(1, _count / WarmSearches);
        for (var id = stride / 2; id < _count; id += stride)
        {
            if (!_deleted[id])
            {
                Vector(id).CopyTo(s.Query);
                Walk(s, 1, Math.Max(EfSearch, 1), new LiveOnly(_deleted));
            }
        }

        Array.Clear(visited);
    }

    // The first `count` elements of an array as bytes, in slices: one span of bytes holds at most int.MaxValue, and
    // the vectors of a large graph are more (1,000,000 × 1,280 floats are 5.1 GB).
    private const int SliceBytes = 1 << 24;

    private static void WriteSlices<T>(Stream destination, T[] array, long count)
        where T : unmanaged
    {
        var step = SliceBytes / Unsafe.SizeOf<T>();
        for (long at = 0; at < count; at += step)
        {
            destination.Write(MemoryMarshal.AsBytes(array.AsSpan((int)at, (int)Math.Min(step, count - at))));
        }
    }

    private static void ReadSlices<T>(Stream source, T[] array, long count)
        where T : unmanaged
    {
        var step = SliceBytes / Unsafe.SizeOf<T>();
        for (long at = 0; at < count; at += step)
        {
            source.ReadExactly(MemoryMarshal.AsBytes(array.AsSpan((int)at, (int)Math.Min(step, count - at))));
        }
    }

    // ---- search ----

    /// <summary>
    /// The result list of a filtered walk. The walk stops once its list holds ef allowed nodes and nothing closer is
    /// left, so with a share s allowed it covers about ef / s nodes of the graph: an unfiltered walk with ef covers ef.
    /// A list of 2·s·ef (at least 2·k, at most ef) covers about twice what the unfiltered walk covers, which keeps the
    /// filtered top k as complete as the unfiltered one (the recall gate) at about the same cost.
    /// </summary>
    private static int FilteredEf(int ef, int k, double share) => Math.Clamp((int)Math.Ceiling(2 * share * ef), Math.Min(2 * k, ef), ef);

    /// <summary>
    /// Distance computations a filtered walk with list <paramref name="efWalk"/> costs, in units of one exact score:
    /// about 6·list / s, fitted on the cross-over measured at 20,000 × 1,280-d (docs/benchmarks.md: the forced walk took
    /// 5–8 × list / s scores' time at shares from 20 % to 2 %).
    /// </summary>
    private static double WalkCost(int efWalk, double share) => 6.0 * efWalk / Math.Max(share, 1e-9);

    /// <summary>
    /// The list of a two-hop filtered walk: half the unfiltered ef (at least 2·k). The walk moves on the allowed
    /// subgraph, a graph a share s the size of the whole, whose filtered top k are also farther apart than the
    /// unfiltered top k, so a shorter list reaches the same recall (measured at 20,000 × 1,280-d, 10 % allowed: ef 10
    /// gave recall@10 1.000 where the unfiltered walk needed ef 24 for 0.995; docs/benchmarks.md).
    /// </summary>
    private static int TwoHopEf(int ef, int k) => Math.Min(ef, Math.Max(2 * k, ef / 2));

    /// <summary>
    /// A two-hop walk's cost in units of one exact score: it scores about 7·list + 150 vectors and reads the link lists of
    /// the filtered-out nodes it looks through, about 1.5× the time of its scores (measured at 20,000 × 1,280-d).
    /// </summary>
    private static double TwoHopCost(int efWalk) => 1.5 * (7.0 * efWalk + 150);

    private Scratch Prepare(ReadOnlySpan<float> query)
    {
        IndexDimensions.RequireQuery(_dimensions, query);
        var s = t_scratch ??= new Scratch();
        if (s.Visited.Length < _count && Interlocked.Exchange(ref _spareVisited, null) is { } spare && spare.Length >= _count)
        {
            s.TakeVisited(spare);
        }

        s.Ensure(_count, _dimensions);
        ExactIndex.Normalize(query, s.Query.AsSpan(0, _dimensions));
        return s;
    }

    private IReadOnlyList<Neighbor> Walk<TAccept>(Scratch s, int k, int ef, TAccept accept, bool twoHop = false)
        where TAccept : struct, IAccept
    {
        if (UseInt8 && _lo is not null)
        {
            var scorer = PrepareCodes(s);
            Descend(s, ref scorer, ef, ref accept, twoHop);

            // Re-score the ef best by code with the float vectors: the order (and the cosine reported) is exact.
            var q = s.Query.AsSpan(0, _dimensions);
            var found = s.Results;
            var rescored = s.Candidates;
            rescored.Clear();
            for (var i = 0; i < found.Count; i++)
            {
                Offer(rescored, found.Ids[i], Cosine(found.Ids[i], q), k);
            }

            return Drain(rescored, k);
        }

        var floats = new FloatScorer(_vectors, _dimensions, s.Query);
        Descend(s, ref floats, ef, ref accept, twoHop);
        var results = s.Results;
        while (results.Count > k)
        {
            results.Pop();
        }

        return Drain(results, k);
    }

    private void Descend<TScorer, TAccept>(Scratch s, ref TScorer scorer, int ef, ref TAccept accept, bool twoHop)
        where TScorer : struct, IScorer
        where TAccept : struct, IAccept
    {
        var (entry, sim) = Entry(s, ref scorer, ef);
        if (twoHop)
        {
            SearchFiltered(s, ref scorer, ref accept, entry, sim, ef);
        }
        else
        {
            SearchLayer(s, ref scorer, ref accept, entry, sim, ef, 0);
        }
    }

    /// <summary>Test hook: the node a float search with list <paramref name="ef"/> enters layer 0 at, and its similarity to <paramref name="query"/> (normalised here).</summary>
    internal (string Key, float Similarity) LayerZeroEntry(float[] query, int ef)
    {
        _lock.EnterReadLock();
        try
        {
            var s = Prepare(query);
            var floats = new FloatScorer(_vectors, _dimensions, s.Query);
            var (entry, sim) = Entry(s, ref floats, ef);
            return (_keys[entry], sim);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    // Down the upper layers to the node layer 0 starts from: greedy above layer 1, and on layer 1 best-first with UpperEf
    // candidates (0: ef ÷ 8), the best found.
    private (int Entry, float Sim) Entry<TScorer>(Scratch s, ref TScorer scorer, int ef)
        where TScorer : struct, IScorer
    {
        var entry = _entry;
        var sim = scorer.Score(entry);
        for (var level = _maxLevel; level > 1; level--)
        {
            (entry, sim) = Greedy(ref scorer, entry, sim, level);
        }

        var upperEf = UpperEf > 0 ? UpperEf : Math.Max(1, ef / 8);
        if (_maxLevel >= 1 && upperEf > 1)
        {
            // Best-first on layer 1 with upperEf candidates; layer 0 starts from the best found.
            var all = new Everything();
            SearchLayer(s, ref scorer, ref all, entry, sim, upperEf, 1);
            var beam = s.Results;
            for (var i = 0; i < beam.Count; i++)
            {
                if (beam.ScoreAt(i) > sim)
                {
                    (entry, sim) = (beam.Ids[i], beam.ScoreAt(i));
                }
            }
        }
        else if (_maxLevel >= 1)
        {
            (entry, sim) = Greedy(ref scorer, entry, sim, 1);
        }

        return (entry, sim);
    }

    /// <summary>
    /// The filtered best-first walk of layer 0 (after ACORN, Patel et al. 2024): only nodes <paramref name="accept"/>
    /// lets through are scored and enter the candidates; a neighbour it filters out is not scored but looked through, so
    /// its own links (two hops from the current node) are offered instead, until the current node has gathered
    /// <see cref="TwoHopTarget"/> allowed neighbours. The walk thus moves on the subgraph of the allowed nodes, densified
    /// by their two-hop links, and scores about as many vectors as an unfiltered walk with the same ef. What it pays
    /// instead is reading the link lists of filtered-out nodes (random memory accesses), so those are prefetched together
    /// before they are read, and so are the vectors about to be scored.
    /// </summary>
    private void SearchFiltered<TScorer, TAccept>(Scratch s, ref TScorer scorer, ref TAccept accept, int entry, float entrySim, int ef)
        where TScorer : struct, IScorer
        where TAccept : struct, IAccept
    {
        var visited = s.Visited;
        var stamp = s.NextStamp();
        var candidates = s.Candidates;
        var results = s.Results;
        var gathered = s.Gathered(_max0 * (_max0 + 1));
        var through = s.Through(_max0);
        var target = TwoHopTarget;
        candidates.Clear();
        results.Clear();
        visited[entry] = stamp;
        candidates.Push(-entrySim, entry);
        if (accept.Accept(entry))
        {
            results.Push(entrySim, entry);
        }

        while (candidates.Count > 0)
        {
            var currentSim = -candidates.TopScore;
            if (results.Count >= ef && currentSim < results.TopScore)
            {
                break;
            }

            var current = candidates.Pop();
            var links = Links(current, 0);
            var count = links[0];
            int gatheredCount = 0, throughCount = 0;
            for (var i = 1; i <= count; i++)
            {
                var n = links[i];
                if (visited[n] == stamp)
                {
                    continue;
                }

                if (accept.Accept(n))
                {
                    visited[n] = stamp;
                    gathered[gatheredCount++] = n;
                    scorer.Prefetch(n);
                }
                else
                {
                    // Marked visited only once looked through, so one left out here can still be looked through later.
                    through[throughCount++] = n;
                    Prefetch(ref _links0[n * _stride0]);
                }
            }

            var lookedThrough = 0;
            for (var t = 0; t < throughCount && gatheredCount < target; t++, lookedThrough++)
            {
                var n = through[t];
                visited[n] = stamp;
                var second = Links(n, 0);
                var count2 = second[0];
                for (var j = 1; j <= count2; j++)
                {
                    var m = second[j];
                    if (visited[m] != stamp && accept.Accept(m))
                    {
                        visited[m] = stamp;
                        gathered[gatheredCount++] = m;
                        scorer.Prefetch(m);
                    }
                }
            }

            for (var g = 0; g < gatheredCount; g++)
            {
                Consider(ref scorer, candidates, results, gathered[g], ef);
            }

            t_expanded++;
            t_lookedThrough += lookedThrough;
        }
    }

    private static void Consider<TScorer>(ref TScorer scorer, Heap candidates, Heap results, int n, int ef)
        where TScorer : struct, IScorer
    {
        var sim = scorer.Score(n);
        if (results.Count < ef)
        {
            candidates.Push(-sim, n);
            results.Push(sim, n);
        }
        else if (sim > results.TopScore)
        {
            candidates.Push(-sim, n);
            results.ReplaceTop(sim, n);
        }
    }

    private Int8Scorer PrepareCodes(Scratch s)
    {
        // score(q, x) ≈ Σ q·lo + Σ (q·step)·code; q·step is quantised symmetrically to int8 with one scale t, so the
        // second sum is t · (an integer dot product of bytes).
        var d = _dimensions;
        var q = s.Query.AsSpan(0, d);
        var w = s.Weights.AsSpan(0, d);
        TensorPrimitives.Multiply(q, _step, w);
        var offset = TensorPrimitives.Dot(q, _lo);
        var max = TensorPrimitives.MaxMagnitude(w);
        var t = max == 0 ? 1 : MathF.Abs(max) / 127f;
        var code = s.Code;
        for (var i = 0; i < d; i++)
        {
            code[i] = (sbyte)Math.Clamp(MathF.Round(w[i] / t), -127, 127);
        }

        return new Int8Scorer(_codes, d, code, t, offset);
    }

    private (int Id, float Sim) Greedy<TScorer>(ref TScorer scorer, int entry, float entrySim, int level)
        where TScorer : struct, IScorer
    {
        var (best, bestSim) = (entry, entrySim);
        for (var changed = true; changed;)
        {
            changed = false;
            var links = Links(best, level);
            for (var i = 1; i <= links[0]; i++)
            {
                var n = links[i];
                var sim = scorer.Score(n);
                if (sim > bestSim)
                {
                    (best, bestSim, changed) = (n, sim, true);
                }
            }
        }

        return (best, bestSim);
    }

    /// <summary>
    /// Best-first walk of one layer from <paramref name="entry"/>; leaves in <c>s.Results</c> (a min-heap) up to
    /// <paramref name="ef"/> nodes that <paramref name="accept"/> lets through. Every node is walked through.
    /// </summary>
    private void SearchLayer<TScorer, TAccept>(Scratch s, ref TScorer scorer, ref TAccept accept, int entry, float entrySim, int ef, int level)
        where TScorer : struct, IScorer
        where TAccept : struct, IAccept
    {
        var visited = s.Visited;
        var stamp = s.NextStamp();
        var candidates = s.Candidates; // min-heap of −similarity: the most similar first
        var results = s.Results;       // min-heap of similarity: the one to beat at the root
        var gathered = s.Gathered(_max0 + 1);
        candidates.Clear();
        results.Clear();
        visited[entry] = stamp;
        candidates.Push(-entrySim, entry);
        if (accept.Accept(entry))
        {
            results.Push(entrySim, entry);
        }

        while (candidates.Count > 0)
        {
            var currentSim = -candidates.TopScore;
            if (results.Count >= ef && currentSim < results.TopScore)
            {
                break;
            }

            var current = candidates.Pop();
            t_expanded++;
            var links = Links(current, level);
            var count = links[0];

            // The unvisited neighbours first, their vectors' heads prefetched together (their loads overlap instead of
            // each stalling its score), then scored.
            var fresh = 0;
            for (var i = 1; i <= count; i++)
            {
                var n = links[i];
                if (visited[n] != stamp)
                {
                    visited[n] = stamp;
                    gathered[fresh++] = n;
                    if (!t_noPrefetch)
                    {
                        scorer.Prefetch(n);
                    }
                }
            }

            for (var i = 0; i < fresh; i++)
            {
                var n = gathered[i];
                var sim = scorer.Score(n);
                var full = results.Count >= ef;
                if (full && sim <= results.TopScore)
                {
                    continue;
                }

                candidates.Push(-sim, n);
                if (accept.Accept(n))
                {
                    if (full)
                    {
                        results.ReplaceTop(sim, n);
                    }
                    else
                    {
                        results.Push(sim, n);
                    }
                }
            }
        }
    }

    private static void Offer(Heap heap, int id, float sim, int k)
    {
        if (heap.Count < k)
        {
            heap.Push(sim, id);
        }
        else if (sim > heap.TopScore)
        {
            heap.ReplaceTop(sim, id);
        }
    }

    // The heap's nodes, most similar first (the heap is emptied).
    private Neighbor[] Drain(Heap heap, int k)
    {
        while (heap.Count > k)
        {
            heap.Pop();
        }

        var result = new Neighbor[heap.Count];
        for (var i = result.Length - 1; i >= 0; i--)
        {
            var sim = heap.TopScore;
            result[i] = new Neighbor(_keys[heap.Pop()], sim);
        }

        return result;
    }

    // ---- build ----

    private ReadOnlySpan<float> Vector(int id) => _vectors.AsSpan(id * _dimensions, _dimensions);

    /// <summary>
    /// Node <paramref name="id"/>'s stored (unit) vector dotted with <paramref name="q"/> (at least d long) by the walk's
    /// own kernel: every score the index reports comes from it, so an input scores the same bits whichever path found it
    /// (the walk, the scan of an allowed set, the re-scoring of int8 candidates, TrySimilarity).
    /// </summary>
    private float Cosine(int id, ReadOnlySpan<float> q) =>
        FloatDot.Dot(ref _vectors[id * _dimensions], ref MemoryMarshal.GetReference(q), _dimensions);

    // A node's links on a layer: slot 0 holds the count, the links follow.
    private Span<int> Links(int id, int level) =>
        level == 0 ? _links0.AsSpan(id * _stride0, _stride0) : _upper[id].AsSpan((level - 1) * _strideUp, _strideUp);

    /// <summary>
    /// The capacity to grow to for <paramref name="needed"/> nodes: <paramref name="wanted"/> (doubling, or a compaction's
    /// headroom) capped at what one array holds — the vectors are one float array of capacity × d, so at most
    /// <see cref="Array.MaxLength"/> / d nodes (1,677,721 of 1,280-d; doubling alone would stop at 1,048,576). More is
    /// refused with an error naming the limit.
    /// </summary>
    internal static int NextCapacity(int needed, long wanted, int dimensions, int stride0)
    {
        var most = Array.MaxLength / Math.Max(Math.Max(dimensions, 1), stride0);
        if (needed > most)
        {
            throw new InvalidOperationException($"An HNSW index holds at most {most:N0} vectors of {dimensions} dimensions (its vectors are one array).");
        }

        return (int)Math.Min(Math.Max(wanted, needed), most);
    }

    private void Grow(int capacity)
    {
        Array.Resize(ref _keys, capacity);
        Array.Resize(ref _deleted, capacity);
        Array.Resize(ref _levels, capacity);
        Array.Resize(ref _upper, capacity);
        Array.Resize(ref _links0, capacity * _stride0);
        Array.Resize(ref _vectors, capacity * _dimensions);
        if (_options.Int8)
        {
            Array.Resize(ref _codes, capacity * _dimensions);
        }
    }

    private void Insert(string key, ReadOnlySpan<float> vector)
    {
        var id = _count;
        if (id >= _keys.Length)
        {
            Grow(NextCapacity(id + 1, Math.Max(1024, _keys.Length * 2L), _dimensions, _stride0));
        }

        _count++;
        ExactIndex.Normalize(vector, _vectors.AsSpan(id * _dimensions, _dimensions));
        _keys[id] = key;
        _deleted[id] = false;
        _ids[key] = id;
        var level = (int)(-Math.Log(1 - _random.NextDouble()) / Math.Log(_options.M));
        _levels[id] = level;
        _upper[id] = level > 0 ? new int[level * _strideUp] : null;
        _links0[id * _stride0] = 0;
        if (_options.Int8)
        {
            if (_lo is not null)
            {
                Encode(id);
            }
            else if (_count >= QuantizeAfter)
            {
                FitCodes();
            }
        }

        if (_entry < 0)
        {
            (_entry, _maxLevel) = (id, level);
            return;
        }

        var s = t_scratch ??= new Scratch();
        s.Ensure(_count, _dimensions);
        Vector(id).CopyTo(s.Query);
        var scorer = new FloatScorer(_vectors, _dimensions, s.Query);
        var entry = _entry;
        var sim = scorer.Score(entry);
        for (var l = _maxLevel; l > level; l--)
        {
            (entry, sim) = Greedy(ref scorer, entry, sim, l);
        }

        var all = new Everything();
        for (var l = Math.Min(level, _maxLevel); l >= 0; l--)
        {
            SearchLayer(s, ref scorer, ref all, entry, sim, _options.EfConstruction, l);
            var found = s.SortedResults(out var ids, out var sims);
            (entry, sim) = (ids[0], sims[0]);
            var links = Links(id, l);
            links[0] = SelectNeighbors(ids.AsSpan(0, found), sims.AsSpan(0, found), _options.M, links[1..], _fillInserted);
            for (var i = 1; i <= links[0]; i++)
            {
                Link(links[i], id, l);
            }
        }

        if (level > _maxLevel)
        {
            (_entry, _maxLevel) = (id, level);
        }
    }

    // Adds id to n's links on a layer; over the limit, n keeps the diverse subset the heuristic picks.
    private void Link(int n, int id, int level)
    {
        var links = Links(n, level);
        var max = level == 0 ? _max0 : _maxUpper;
        var count = links[0];
        for (var i = 1; i <= count; i++)
        {
            if (links[i] == id)
            {
                return;
            }
        }

        if (count < max)
        {
            links[count + 1] = id;
            links[0] = count + 1;
            return;
        }

        var own = Vector(n);
        var ids = new int[count + 1];
        var scores = new float[count + 1];
        ids[0] = id;
        scores[0] = TensorPrimitives.Dot(own, Vector(id));
        for (var i = 1; i <= count; i++)
        {
            ids[i] = links[i];
            scores[i] = TensorPrimitives.Dot(own, Vector(links[i]));
        }

        // Most similar first.
        Array.Sort(scores, ids);
        Array.Reverse(scores);
        Array.Reverse(ids);
        links[0] = SelectNeighbors(ids, scores, max, links[1..], _fillOverflowed);
    }

    /// <summary>
    /// The heuristic of the paper (algorithm 4): walking the candidates most similar first, one is kept when it is closer
    /// to the base than to any kept one; with <paramref name="fill"/>, the pruned ones most similar first then fill the
    /// list up to <paramref name="max"/> (keepPrunedConnections). Writes the kept ids and returns how many.
    /// </summary>
    private int SelectNeighbors(ReadOnlySpan<int> ids, ReadOnlySpan<float> sims, int max, Span<int> kept, bool fill)
    {
        // Fewer candidates than the list holds are all kept, as hnswlib's getNeighborsByHeuristic2 returns them unpruned:
        // the small top layers stay fully linked. (With fill the same set is kept, pruned ones last.)
        if (!fill && ids.Length < max)
        {
            ids.CopyTo(kept);
            return ids.Length;
        }

        var count = 0;
        Span<bool> taken = ids.Length <= 1024 ? stackalloc bool[ids.Length] : new bool[ids.Length];
        for (var i = 0; i < ids.Length && count < max; i++)
        {
            var vc = Vector(ids[i]);
            var good = true;
            for (var j = 0; j < count; j++)
            {
                if (TensorPrimitives.Dot(vc, Vector(kept[j])) > sims[i])
                {
                    good = false;
                    break;
                }
            }

            if (good)
            {
                kept[count++] = ids[i];
                taken[i] = true;
            }
        }

        for (var i = 0; fill && i < ids.Length && count < max; i++)
        {
            if (!taken[i])
            {
                kept[count++] = ids[i];
            }
        }

        return count;
    }

    // ---- int8 codes ----

    // Per-dimension min/max of the vectors so far; later vectors outside the range are clamped (the re-scoring with the
    // float vectors keeps the answer's order exact).
    private void FitCodes()
    {
        var d = _dimensions;
        var lo = new float[d];
        var hi = new float[d];
        Array.Fill(lo, float.MaxValue);
        Array.Fill(hi, float.MinValue);
        for (var id = 0; id < _count; id++)
        {
            var v = Vector(id);
            TensorPrimitives.Min(lo, v, lo);
            TensorPrimitives.Max(hi, v, hi);
        }

        var step = new float[d];
        for (var i = 0; i < d; i++)
        {
            step[i] = hi[i] > lo[i] ? (hi[i] - lo[i]) / 255f : 1e-9f;
        }

        (_lo, _step) = (lo, step);
        for (var id = 0; id < _count; id++)
        {
            Encode(id);
        }
    }

    private void Encode(int id)
    {
        var d = _dimensions;
        var v = Vector(id);
        var code = _codes.AsSpan(id * d, d);
        for (var i = 0; i < d; i++)
        {
            code[i] = (byte)Math.Clamp(MathF.Round((v[i] - _lo![i]) / _step![i]), 0, 255);
        }
    }

    // ---- tombstones ----

    /// <summary>Graphs below this many nodes compact under the write lock at once (a few milliseconds); larger ones off it.</summary>
    internal const int CompactOffLockFrom = 4096;

    // Under the write lock.
    private void MarkDirty(string key)
    {
        if (_dirty is not null)
        {
            lock (_dirtyLock)
            {
                _dirty.Add(key);
            }
        }
    }

    // Under the write lock.
    private void CompactIfNeeded()
    {
        if (_tombstones < 64 || _tombstones <= _options.CompactAbove * _count || _compaction is { IsCompleted: false } || Environment.TickCount64 < Volatile.Read(ref _compactionRetryAt))
        {
            return;
        }

        if (!OffLock)
        {
            CompactLocked();
            return;
        }

        _compaction = Task.Run(CompactInBackground);
    }

    // A compaction nobody waits for: a failure is caught, kept, logged, and retried after CompactionRetryAfter; the graph
    // is left as it was (the new graph is built on a copy and swapped in only at the end).
    private void CompactInBackground()
    {
        try
        {
            CompactOffLock();
        }
        catch (Exception e)
        {
            LastCompactionFailure = e;
            Volatile.Write(ref _compactionRetryAt, Environment.TickCount64 + (long)CompactionRetryAfter.TotalMilliseconds);
            Interlocked.Increment(ref _compactionFailures);
            Logger.LogError(e, "Compacting an HNSW graph of {Nodes} nodes ({Deleted} deleted) failed; it goes on serving with its deleted nodes, and the compaction is retried in {Retry} s.", _count, _tombstones, CompactionRetryAfter.TotalSeconds);
        }
    }

    // Whether a compaction should build its graph off the lock: large enough to matter, with the int8 ranges (if any)
    // fitted, so the vectors and codes below the current count never change while it reads them.
    private bool OffLock => _count >= CompactOffLockFrom && (!_options.Int8 || _lo is not null);

    /// <summary>The compaction the index started on its own, if one is under way (tests wait for it).</summary>
    internal Task CompactionDone => _compaction ?? Task.CompletedTask;

    /// <summary>
    /// Reclaims every deleted node now (it also happens on its own, in the background, above
    /// <see cref="HnswOptions.CompactAbove"/>): each live node that linked to a deleted one is re-linked, on every layer,
    /// to the diverse best of its live links and its deleted neighbours' live links (the heuristic of the build); then the
    /// live nodes are renumbered densely and the deleted nodes' vectors, codes and links are dropped. Cost about one build
    /// step per affected node, so roughly the share deleted times the build time. On a large graph the new graph is built
    /// from a copy while searches, inserts and deletes go on; the inserts and deletes that arrive meanwhile are replayed
    /// into it, and only the last few of them and the swap happen under the write lock.
    /// </summary>
    public void Compact()
    {
        _compaction?.Wait();
        _lock.EnterWriteLock();
        try
        {
            if (!OffLock)
            {
                CompactLocked();
                return;
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }

        CompactOffLock();
    }

    private void CompactOffLock()
    {
        // 1. A private copy of the graph, taken under the read lock (searches go on; writers wait for the copy only).
        HnswIndex copy;
        int generation;
        _lock.EnterReadLock();
        try
        {
            if (_tombstones == 0 || _dirty is not null)
            {
                return;
            }

            generation = _generation;
            copy = CopyForCompaction();
            lock (_dirtyLock)
            {
                _dirty = new HashSet<string>(StringComparer.Ordinal);
            }
        }
        finally
        {
            _lock.ExitReadLock();
        }

        try
        {
            // 2. The compacted graph, built without any lock; then the writes that arrived meanwhile, in rounds, until
            // few are left.
            CompactionFault?.Invoke();
            copy.CompactLocked();
            var buffer = new float[_dimensions];
            for (var round = 0; round < 8; round++)
            {
                string[] keys;
                lock (_dirtyLock)
                {
                    if (_dirty!.Count <= 16)
                    {
                        break;
                    }

                    keys = [.. _dirty];
                    _dirty.Clear();
                }

                foreach (var key in keys)
                {
                    bool present;
                    _lock.EnterReadLock();
                    try
                    {
                        present = _ids.TryGetValue(key, out var id);
                        if (present)
                        {
                            Vector(id).CopyTo(buffer);
                        }
                    }
                    finally
                    {
                        _lock.ExitReadLock();
                    }

                    copy.Replay(key, present ? buffer : null);
                }
            }

            // 3. The last writes and the swap, under the write lock.
            _lock.EnterWriteLock();
            try
            {
                if (generation != _generation)
                {
                    return;
                }

                lock (_dirtyLock)
                {
                    foreach (var key in _dirty!)
                    {
                        copy.Replay(key, _ids.TryGetValue(key, out var id) ? Vector(id) : null);
                    }
                }

                (_vectors, _codes, _lo, _step, _keys, _deleted, _levels, _links0, _upper, _ids) =
                    (copy._vectors, copy._codes, copy._lo, copy._step, copy._keys, copy._deleted, copy._levels, copy._links0, copy._upper, copy._ids);
                (_count, _tombstones, _entry, _maxLevel) = (copy._count, copy._tombstones, copy._entry, copy._maxLevel);
                _mutations++; // the live nodes were renumbered
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
        finally
        {
            lock (_dirtyLock)
            {
                _dirty = null;
            }
        }
    }

    // Under the read lock: a graph sharing this one's vectors, codes, keys and levels (never rewritten below the count)
    // with its own copy of the links and tombstones, which writers change in place.
    private HnswIndex CopyForCompaction()
    {
        var copy = new HnswIndex(_options)
        {
            _dimensions = _dimensions,
            _count = _count,
            _tombstones = _tombstones,
            _entry = _entry,
            _maxLevel = _maxLevel,
            _vectors = _vectors,
            _codes = _codes,
            _lo = _lo,
            _step = _step,
            _keys = _keys,
            _levels = _levels,
            _deleted = _deleted[.._count],
            _links0 = _links0[..(_count * _stride0)],
            _upper = new int[]?[_count],
            _random = new Random(_options.Seed + _count),
        };
        for (var id = 0; id < _count; id++)
        {
            copy._upper[id] = _upper[id] is { } up ? up[..] : null;
        }

        return copy;
    }

    // Brings one key of a compaction's private graph up to date: its vector as the live graph holds it now, or gone.
    private void Replay(string key, ReadOnlySpan<float> vector)
    {
        if (_ids.Remove(key, out var old))
        {
            _deleted[old] = true;
            _tombstones++;
        }

        if (!vector.IsEmpty)
        {
            Insert(key, vector);
        }
    }

    private void CompactLocked()
    {
        if (_tombstones == 0)
        {
            return;
        }

        _mutations++; // the live nodes are renumbered

        var live = _count - _tombstones;
        if (live == 0)
        {
            var (dimensions, lo, step, random) = (_dimensions, _lo, _step, _random);
            _ids.Clear();
            (_vectors, _codes, _keys, _deleted, _levels, _links0, _upper) = ([], [], [], [], [], [], []);
            (_count, _tombstones, _entry, _maxLevel) = (0, 0, -1, -1);
            (_dimensions, _lo, _step, _random) = (dimensions, lo, step, random);
            return;
        }

        // 1. Re-link around the deleted nodes.
        var s = t_scratch ??= new Scratch();
        s.Ensure(_count, _dimensions);
        var ids = new List<int>();
        var sims = new List<float>();
        for (var u = 0; u < _count; u++)
        {
            if (_deleted[u])
            {
                continue;
            }

            for (var l = 0; l <= _levels[u]; l++)
            {
                var links = Links(u, l);
                var broken = false;
                for (var i = 1; i <= links[0] && !broken; i++)
                {
                    broken = _deleted[links[i]];
                }

                if (!broken)
                {
                    continue;
                }

                var stamp = s.NextStamp();
                s.Visited[u] = stamp;
                ids.Clear();
                for (var i = 1; i <= links[0]; i++)
                {
                    var n = links[i];
                    if (!_deleted[n])
                    {
                        if (s.Visited[n] != stamp)
                        {
                            s.Visited[n] = stamp;
                            ids.Add(n);
                        }

                        continue;
                    }

                    var second = Links(n, l);
                    for (var j = 1; j <= second[0]; j++)
                    {
                        var m = second[j];
                        if (!_deleted[m] && s.Visited[m] != stamp)
                        {
                            s.Visited[m] = stamp;
                            ids.Add(m);
                        }
                    }
                }

                var own = Vector(u);
                sims.Clear();
                foreach (var c in ids)
                {
                    sims.Add(TensorPrimitives.Dot(own, Vector(c)));
                }

                var idArray = ids.ToArray();
                var simArray = sims.ToArray();
                Array.Sort(simArray, idArray);
                Array.Reverse(simArray);
                Array.Reverse(idArray);
                links[0] = SelectNeighbors(idArray, simArray, l == 0 ? _max0 : _maxUpper, links[1..], _fillOverflowed);
            }
        }

        // 2. Renumber the live nodes densely and drop the deleted ones.
        var map = new int[_count];
        var next = 0;
        for (var id = 0; id < _count; id++)
        {
            map[id] = _deleted[id] ? -1 : next++;
        }

        var d = _dimensions;
        var capacity = NextCapacity(live, Math.Max(1024, live + (live / 4)), d, _stride0);
        var vectors = new float[capacity * d];
        var codes = _options.Int8 ? new byte[capacity * d] : [];
        var keys = new string[capacity];
        var levels = new int[capacity];
        var links0 = new int[capacity * _stride0];
        var upper = new int[]?[capacity];
        var (entry, maxLevel) = (-1, -1);
        for (var id = 0; id < _count; id++)
        {
            var to = map[id];
            if (to < 0)
            {
                continue;
            }

            Vector(id).CopyTo(vectors.AsSpan(to * d, d));
            if (_options.Int8)
            {
                _codes.AsSpan(id * d, d).CopyTo(codes.AsSpan(to * d, d));
            }

            keys[to] = _keys[id];
            levels[to] = _levels[id];
            Remap(Links(id, 0), links0.AsSpan(to * _stride0, _stride0), map);
            if (_levels[id] > 0)
            {
                var up = upper[to] = new int[_levels[id] * _strideUp];
                for (var l = 1; l <= _levels[id]; l++)
                {
                    Remap(Links(id, l), up.AsSpan((l - 1) * _strideUp, _strideUp), map);
                }
            }

            if (_levels[id] > maxLevel || id == _entry)
            {
                (entry, maxLevel) = (to, Math.Max(maxLevel, _levels[id]));
            }
        }

        (_vectors, _codes, _keys, _levels, _links0, _upper, _deleted) = (vectors, codes, keys, levels, links0, upper, new bool[capacity]);
        (_count, _tombstones, _entry, _maxLevel) = (live, 0, entry, maxLevel);
        _ids.Clear();
        for (var id = 0; id < live; id++)
        {
            _ids[_keys[id]] = id;
        }
    }

    // Copies a link list through the renumbering, leaving out links to dropped nodes.
    private static void Remap(ReadOnlySpan<int> from, Span<int> to, int[] map)
    {
        var count = 0;
        for (var i = 1; i <= from[0]; i++)
        {
            if (map[from[i]] >= 0)
            {
                to[++count] = map[from[i]];
            }
        }

        to[0] = count;
    }

    // ---- plumbing ----

    private interface IScorer
    {
        float Score(int id);

        /// <summary>Asks the CPU to start loading the head of <paramref name="id"/>'s vector (or code) into the cache.</summary>
        void Prefetch(int id);
    }

    /// <summary>A hint to load the cache line at <paramref name="at"/>; never faults, a no-op without SSE.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch<T>(ref T at)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref at));
        }
    }

    private interface IAccept
    {
        bool Accept(int id);
    }

    private readonly struct FloatScorer(float[] vectors, int dimensions, float[] query) : IScorer
    {
        public float Score(int id)
        {
            t_scored++;
            return t_tensorPrimitives
                ? TensorPrimitives.Dot(new ReadOnlySpan<float>(vectors, id * dimensions, dimensions), new ReadOnlySpan<float>(query, 0, dimensions))
                : FloatDot.Dot(ref vectors[id * dimensions], ref MemoryMarshal.GetArrayDataReference(query), dimensions);
        }

        public void Prefetch(int id)
        {
            ref var head = ref vectors[id * dimensions];
            HnswIndex.Prefetch(ref head);
            HnswIndex.Prefetch(ref Unsafe.Add(ref head, 16));
        }
    }

    private readonly struct Int8Scorer(byte[] codes, int dimensions, sbyte[] query, float scale, float offset) : IScorer
    {
        public float Score(int id)
        {
            t_scoredCodes++;
            return offset + scale * Int8Dot.Dot(new ReadOnlySpan<byte>(codes, id * dimensions, dimensions), new ReadOnlySpan<sbyte>(query, 0, dimensions));
        }

        public void Prefetch(int id)
        {
            ref var head = ref codes[id * dimensions];
            HnswIndex.Prefetch(ref head);
            HnswIndex.Prefetch(ref Unsafe.Add(ref head, 64));
        }
    }

    private readonly struct Everything : IAccept
    {
        public bool Accept(int id) => true;
    }

    private readonly struct LiveOnly(bool[] deleted) : IAccept
    {
        public bool Accept(int id) => !deleted[id];
    }

    private readonly struct InSet(ulong[] bits) : IAccept
    {
        public bool Accept(int id) => (bits[id >> 6] & (1UL << id)) != 0;
    }

    private readonly struct ByKey(bool[] deleted, string[] keys, Func<string, bool> filter) : IAccept
    {
        public bool Accept(int id) => !deleted[id] && filter(keys[id]);
    }

    /// <summary>Per-thread buffers of a search or an insert: nothing is allocated per query but the answer.</summary>
    private sealed class Scratch
    {
        public int[] Visited = [];
        public float[] Query = [];
        public float[] Weights = [];
        public sbyte[] Code = [];
        public readonly Heap Candidates = new();
        public readonly Heap Results = new();
        private int[] _gathered = [];
        private int[] _through = [];

        public int[] Gathered(int length) => _gathered.Length >= length ? _gathered : _gathered = new int[length];

        public int[] Through(int length) => _through.Length >= length ? _through : _through = new int[length];
        private int _stamp;
        private int[] _sortedIds = [];
        private float[] _sortedSims = [];

        /// <summary>The length of a visited array made for <paramref name="count"/> nodes: room to grow to twice as many.</summary>
        public static int VisitedLength(int count) => (int)Math.Min(Array.MaxLength, Math.Max(1024, count * 2L));

        /// <summary>Takes a zeroed visited array (a restored graph's spare) instead of allocating one.</summary>
        public void TakeVisited(int[] visited) => (Visited, _stamp) = (visited, 0);

        public void Ensure(int count, int dimensions)
        {
            if (Visited.Length < count)
            {
                Visited = new int[VisitedLength(count)];
                _stamp = 0;
            }

            if (Query.Length < dimensions)
            {
                (Query, Weights, Code) = (new float[dimensions], new float[dimensions], new sbyte[dimensions]);
            }
        }

        public int NextStamp()
        {
            if (++_stamp == int.MaxValue)
            {
                Array.Clear(Visited);
                _stamp = 1;
            }

            return _stamp;
        }

        /// <summary>The results heap as arrays, most similar first (the heap is emptied).</summary>
        public int SortedResults(out int[] ids, out float[] sims)
        {
            var n = Results.Count;
            if (_sortedIds.Length < n)
            {
                (_sortedIds, _sortedSims) = (new int[n * 2], new float[n * 2]);
            }

            for (var i = n - 1; i >= 0; i--)
            {
                _sortedSims[i] = Results.TopScore;
                _sortedIds[i] = Results.Pop();
            }

            (ids, sims) = (_sortedIds, _sortedSims);
            return n;
        }
    }

    /// <summary>A binary min-heap of (score, id) on two arrays; reused across searches.</summary>
    private sealed class Heap
    {
        public int[] Ids = new int[64];
        private float[] _scores = new float[64];

        public int Count { get; private set; }

        public float TopScore => _scores[0];

        public float ScoreAt(int i) => _scores[i];

        public void Clear() => Count = 0;

        public void Push(float score, int id)
        {
            if (Count == Ids.Length)
            {
                Array.Resize(ref Ids, Count * 2);
                Array.Resize(ref _scores, Count * 2);
            }

            var i = Count++;
            while (i > 0)
            {
                var parent = (i - 1) >> 1;
                if (_scores[parent] <= score)
                {
                    break;
                }

                _scores[i] = _scores[parent];
                Ids[i] = Ids[parent];
                i = parent;
            }

            _scores[i] = score;
            Ids[i] = id;
        }

        public int Pop()
        {
            var top = Ids[0];
            var last = --Count;
            if (last > 0)
            {
                SiftDown(_scores[last], Ids[last]);
            }

            return top;
        }

        public void ReplaceTop(float score, int id) => SiftDown(score, id);

        private void SiftDown(float score, int id)
        {
            var n = Count;
            var i = 0;
            while (true)
            {
                var child = 2 * i + 1;
                if (child >= n)
                {
                    break;
                }

                if (child + 1 < n && _scores[child + 1] < _scores[child])
                {
                    child++;
                }

                if (_scores[child] >= score)
                {
                    break;
                }

                _scores[i] = _scores[child];
                Ids[i] = Ids[child];
                i = child;
            }

            _scores[i] = score;
            Ids[i] = id;
        }
    }
}
