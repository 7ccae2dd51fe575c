using System.Numerics.Tensors;

namespace Iris.Search.Index;

/// <summary>Settings of an <see cref="HnswIndex"/>.</summary>
/// <param name="M">Links per node on the upper layers (layer 0 keeps 2·M). Memory: about 4·(2·M + M/(M−1)·M) bytes of links per vector beside its 4·d bytes.</param>
/// <param name="EfConstruction">Candidates kept while linking a new node: build time grows linearly with it, recall with diminishing returns.</param>
/// <param name="EfSearch">Candidates kept while searching (at least k): the recall/speed knob.</param>
/// <param name="Seed">Seed of the level draws: the same inserts in the same order build the same graph.</param>
public sealed record HnswOptions(int M = 16, int EfConstruction = 200, int EfSearch = 128, int Seed = 42)
{
    /// <summary>
    /// A filter letting through at most this share of the indexed vectors is answered by an exact scan of the vectors it
    /// lets through, which is then both exact and cheaper than a graph walk that must skip most of what it meets.
    /// </summary>
    public double ExactBelowSelectivity { get; init; } = 0.02;
}

/// <summary>
/// A hierarchical navigable small-world graph (Malkov and Yashunin, 2016) over L2-normalised vectors, written for Iris
/// on <see cref="TensorPrimitives"/>. Filters apply during the walk: the graph is navigated through every node but only
/// nodes that pass the filter (and are not deleted) enter the results, and the walk goes on until ef of them are found,
/// so a filter still yields its k best rather than k minus what a post-filter would drop; very selective
/// filters are answered exactly (<see cref="HnswOptions.ExactBelowSelectivity"/>). Deletes leave tombstones that still
/// route searches but never appear in results; a re-inserted key gets a new node. Readers run concurrently; inserts
/// and deletes take a write lock (one at a time). Snapshots (<see cref="Snapshot"/>, <see cref="Restore"/>) let a restarted node skip the
/// rebuild. Not done yet: int8 codes with exact re-scoring, and vacuuming tombstones (they go when the index is rebuilt).
/// </summary>
public sealed class HnswIndex(HnswOptions? options = null) : IVectorIndex
{
    private readonly HnswOptions _options = options ?? new HnswOptions();
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private Random _random = new((options ?? new HnswOptions()).Seed);
    private float[] _vectors = [];
    private string[] _keys = [];
    private bool[] _deleted = [];
    private int[][][] _links = [];
    private int _count;
    private int _dimensions;
    private int _entry = -1;
    private int _maxLevel = -1;

    [ThreadStatic]
    private static int[]? t_visited;

    [ThreadStatic]
    private static int t_stamp;

    public int Dimensions => _dimensions;

    /// <summary>Candidates kept while searching (starts at <see cref="HnswOptions.EfSearch"/>); benchmarks sweep it.</summary>
    public int EfSearch { get; set; } = (options ?? new HnswOptions()).EfSearch;

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

            if (_ids.Remove(key, out var old))
            {
                _deleted[old] = true;
            }

            Insert(key, vector);
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

            _deleted[id] = true;
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
            _ids.Clear();
            (_vectors, _keys, _deleted, _links) = ([], [], [], []);
            (_count, _dimensions, _entry, _maxLevel) = (0, 0, -1, -1);
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

            var norm = TensorPrimitives.Norm(query);
            cosine = norm == 0 ? 0 : TensorPrimitives.Dot(Vector(id), query) / norm;
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

            if (query.Length != _dimensions)
            {
                throw new ArgumentException($"This index holds {_dimensions}-d vectors; the query has {query.Length}.", nameof(query));
            }

            var q = new float[query.Length];
            ExactIndex.Normalize(query, q);
            var ef = Math.Max(EfSearch, k);
            if (filter is not null)
            {
                // The filter's share, from a sample of at most 2,048 live nodes spread over the graph (a full count would
                // cost a filter call per node on every query).
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
                if (selectivity <= _options.ExactBelowSelectivity || selectivity * _ids.Count <= ef)
                {
                    return Exact(q, k, filter);
                }

                // The walk keeps going until ef nodes that pass are found, so it already visits about ef / s nodes; a
                // wider list is not needed for recall (see the recall gate) and would cost another 1 / s.
            }

            var entry = _entry;
            for (var level = _maxLevel; level > 0; level--)
            {
                entry = Greedy(q, entry, level);
            }

            var found = SearchLayer(q, entry, ef, 0, id => !_deleted[id] && (filter is null || filter(_keys[id])));
            var result = new List<Neighbor>(Math.Min(k, found.Count));
            foreach (var (id, sim) in found)
            {
                if (result.Count == k)
                {
                    break;
                }

                result.Add(new Neighbor(_keys[id], sim));
            }

            return result;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private const string SnapshotMagic = "IRIS-HNSW-1";

    /// <summary>
    /// The whole graph as bytes (options, keys, tombstones, links, normalised vectors), for the blob store: a restarted
    /// node restores it instead of rebuilding. About (4·d + 4·links + key) bytes per node.
    /// </summary>
    public byte[] Snapshot()
    {
        _lock.EnterReadLock();
        try
        {
            using var buffer = new MemoryStream();
            using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                w.Write(SnapshotMagic);
                w.Write(_options.M);
                w.Write(_options.EfConstruction);
                w.Write(_dimensions);
                w.Write(_count);
                w.Write(_entry);
                w.Write(_maxLevel);
                for (var id = 0; id < _count; id++)
                {
                    w.Write(_keys[id]);
                    w.Write(_deleted[id]);
                    w.Write(_links[id].Length);
                    foreach (var layer in _links[id])
                    {
                        w.Write(layer.Length);
                        foreach (var n in layer)
                        {
                            w.Write(n);
                        }
                    }
                }

                w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_vectors.AsSpan(0, _count * _dimensions)));
            }

            return buffer.ToArray();
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>The index a <see cref="Snapshot"/> holds; null when the bytes are not a snapshot of these options' graph shape.</summary>
    public static HnswIndex? Restore(byte[] snapshot, HnswOptions? options = null)
    {
        var index = new HnswIndex(options);
        using var r = new BinaryReader(new MemoryStream(snapshot), System.Text.Encoding.UTF8);
        if (r.ReadString() != SnapshotMagic || r.ReadInt32() != index._options.M || r.ReadInt32() != index._options.EfConstruction)
        {
            return null;
        }

        (index._dimensions, index._count, index._entry, index._maxLevel) = (r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        var capacity = Math.Max(1024, index._count);
        (index._keys, index._deleted, index._links, index._vectors) = (new string[capacity], new bool[capacity], new int[capacity][][], new float[capacity * index._dimensions]);
        for (var id = 0; id < index._count; id++)
        {
            index._keys[id] = r.ReadString();
            index._deleted[id] = r.ReadBoolean();
            var layers = new int[r.ReadInt32()][];
            for (var l = 0; l < layers.Length; l++)
            {
                layers[l] = new int[r.ReadInt32()];
                for (var j = 0; j < layers[l].Length; j++)
                {
                    layers[l][j] = r.ReadInt32();
                }
            }

            index._links[id] = layers;
            if (!index._deleted[id])
            {
                index._ids[index._keys[id]] = id;
            }
        }

        r.Read(System.Runtime.InteropServices.MemoryMarshal.AsBytes(index._vectors.AsSpan(0, index._count * index._dimensions)));
        // New levels after a restore come from a seed that depends on the size, so they stay reproducible.
        index._random = new Random(index._options.Seed + index._count);
        return index;
    }

    private List<Neighbor> Exact(float[] q, int k, Func<string, bool> filter)
    {
        var heap = new PriorityQueue<string, float>(k + 1);
        foreach (var (key, id) in _ids)
        {
            if (!filter(key))
            {
                continue;
            }

            var sim = TensorPrimitives.Dot(Vector(id), q);
            if (heap.Count < k)
            {
                heap.Enqueue(key, sim);
            }
            else if (heap.TryPeek(out _, out var worst) && sim > worst)
            {
                heap.DequeueEnqueue(key, sim);
            }
        }

        var result = new Neighbor[heap.Count];
        for (var i = result.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out var key, out var sim);
            result[i] = new Neighbor(key!, sim);
        }

        return [.. result];
    }

    private ReadOnlySpan<float> Vector(int id) => _vectors.AsSpan(id * _dimensions, _dimensions);

    private int MaxLinks(int level) => level == 0 ? 2 * _options.M : _options.M;

    private void Insert(string key, ReadOnlySpan<float> vector)
    {
        var id = _count++;
        if (id >= _keys.Length)
        {
            var capacity = Math.Max(1024, _keys.Length * 2);
            Array.Resize(ref _keys, capacity);
            Array.Resize(ref _deleted, capacity);
            Array.Resize(ref _links, capacity);
            Array.Resize(ref _vectors, capacity * _dimensions);
        }

        ExactIndex.Normalize(vector, _vectors.AsSpan(id * _dimensions, _dimensions));
        _keys[id] = key;
        _deleted[id] = false;
        _ids[key] = id;
        var level = (int)(-Math.Log(1 - _random.NextDouble()) / Math.Log(_options.M));
        _links[id] = new int[level + 1][];
        for (var l = 0; l <= level; l++)
        {
            _links[id][l] = [];
        }

        if (_entry < 0)
        {
            (_entry, _maxLevel) = (id, level);
            return;
        }

        var q = Vector(id).ToArray();
        var entry = _entry;
        for (var l = _maxLevel; l > level; l--)
        {
            entry = Greedy(q, entry, l);
        }

        for (var l = Math.Min(level, _maxLevel); l >= 0; l--)
        {
            var candidates = SearchLayer(q, entry, _options.EfConstruction, l, null);
            var neighbors = SelectNeighbors(candidates, MaxLinks(l));
            _links[id][l] = neighbors;
            foreach (var n in neighbors)
            {
                Link(n, id, l);
            }

            entry = candidates[0].Id;
        }

        if (level > _maxLevel)
        {
            (_entry, _maxLevel) = (id, level);
        }
    }

    // Adds id to n's links on a layer; over the limit, n keeps the diverse subset the heuristic picks.
    private void Link(int n, int id, int level)
    {
        var links = _links[n][level];
        if (links.Length < MaxLinks(level))
        {
            _links[n][level] = [.. links, id];
            return;
        }

        var own = Vector(n);
        var candidates = new List<(int Id, float Sim)>(links.Length + 1) { (id, TensorPrimitives.Dot(own, Vector(id))) };
        foreach (var l in links)
        {
            candidates.Add((l, TensorPrimitives.Dot(own, Vector(l))));
        }

        candidates.Sort((a, b) => b.Sim.CompareTo(a.Sim));
        _links[n][level] = SelectNeighbors(candidates, MaxLinks(level));
    }

    /// <summary>The heuristic of the paper (algorithm 4, keeping pruned ones to fill): a candidate is kept when it is closer to the base than to any kept one.</summary>
    private int[] SelectNeighbors(List<(int Id, float Sim)> candidates, int max)
    {
        var kept = new List<int>(max);
        var pruned = new List<int>();
        foreach (var (c, sim) in candidates)
        {
            if (kept.Count >= max)
            {
                break;
            }

            var good = true;
            var vc = Vector(c);
            foreach (var r in kept)
            {
                if (TensorPrimitives.Dot(vc, Vector(r)) > sim)
                {
                    good = false;
                    break;
                }
            }

            if (good)
            {
                kept.Add(c);
            }
            else
            {
                pruned.Add(c);
            }
        }

        for (var i = 0; i < pruned.Count && kept.Count < max; i++)
        {
            kept.Add(pruned[i]);
        }

        return [.. kept];
    }

    private int Greedy(ReadOnlySpan<float> q, int entry, int level)
    {
        var best = entry;
        var bestSim = TensorPrimitives.Dot(Vector(entry), q);
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var n in _links[best].Length > level ? _links[best][level] : [])
            {
                var sim = TensorPrimitives.Dot(Vector(n), q);
                if (sim > bestSim)
                {
                    (best, bestSim, changed) = (n, sim, true);
                }
            }
        }

        return best;
    }

    /// <summary>
    /// Best-first walk of one layer from <paramref name="entry"/>; returns up to <paramref name="ef"/> nodes that
    /// <paramref name="accept"/> lets through (null: all), most similar first. Every node is walked through.
    /// </summary>
    private List<(int Id, float Sim)> SearchLayer(ReadOnlySpan<float> q, int entry, int ef, int level, Func<int, bool>? accept)
    {
        var visited = t_visited;
        if (visited is null || visited.Length < _count)
        {
            visited = t_visited = new int[Math.Max(_count, _keys.Length)];
            t_stamp = 0;
        }

        if (++t_stamp == int.MaxValue)
        {
            Array.Clear(visited);
            t_stamp = 1;
        }

        var stamp = t_stamp;
        var candidates = new PriorityQueue<int, float>(); // most similar first (negated priority)
        var results = new PriorityQueue<int, float>();    // least similar first: the one to beat
        var entrySim = TensorPrimitives.Dot(Vector(entry), q);
        visited[entry] = stamp;
        candidates.Enqueue(entry, -entrySim);
        if (accept is null || accept(entry))
        {
            results.Enqueue(entry, entrySim);
        }

        while (candidates.TryDequeue(out var current, out var negSim))
        {
            if (results.Count >= ef && results.TryPeek(out _, out var worst) && -negSim < worst)
            {
                break;
            }

            var links = _links[current];
            if (links.Length <= level)
            {
                continue;
            }

            foreach (var n in links[level])
            {
                if (visited[n] == stamp)
                {
                    continue;
                }

                visited[n] = stamp;
                var sim = TensorPrimitives.Dot(Vector(n), q);
                var full = results.Count >= ef;
                if (full && results.TryPeek(out _, out var bar) && sim <= bar)
                {
                    continue;
                }

                candidates.Enqueue(n, -sim);
                if (accept is null || accept(n))
                {
                    if (full)
                    {
                        results.DequeueEnqueue(n, sim);
                    }
                    else
                    {
                        results.Enqueue(n, sim);
                    }
                }
            }
        }

        var found = new List<(int Id, float Sim)>(results.Count);
        while (results.TryDequeue(out var id, out var sim))
        {
            found.Add((id, sim));
        }

        found.Reverse();
        return found;
    }
}
