using System.Numerics.Tensors;

namespace Iris.Search.Index;

/// <summary>
/// What the two scanning engines (<see cref="ExactIndex"/>, the float reference, and <see cref="QuantizedExactIndex"/>,
/// the one served) share: each key holds a slot of contiguous per-slot arrays (a removed key's slot is reused), one
/// reader/writer lock guards them, the dimension is adopted from the first vector, and every slot's L2-normalised float
/// vector lives in one array (what <see cref="TrySimilarity"/> and the exact re-scoring read). An engine adds its own
/// per-slot data through <see cref="GrowSlots"/>, <see cref="Stored"/> and <see cref="ClearSlots"/>, and its own scan.
/// </summary>
public abstract class SlotIndex
{
    private protected readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private protected readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly Stack<int> _free = new();
    private protected string?[] _keys = [];
    private protected float[] _vectors = [];
    private protected int _used;
    private protected int _dimensions;

    // Moves on every write (under the write lock): an AllowedSet's resolution into slots is reused only at its version.
    private long _mutations;

    private protected SlotIndex()
    {
    }

    public int Dimensions => _dimensions;

    public int Count
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _slots.Count;
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
            _mutations++;
            if (!_slots.TryGetValue(key, out var slot))
            {
                slot = _free.Count > 0 ? _free.Pop() : _used++;
                if (slot >= _keys.Length)
                {
                    var capacity = Math.Max(64, _keys.Length * 2);
                    Array.Resize(ref _keys, capacity);
                    Array.Resize(ref _vectors, capacity * _dimensions);
                    GrowSlots(capacity);
                }

                _slots[key] = slot;
                _keys[slot] = key;
            }

            var target = _vectors.AsSpan(slot * _dimensions, _dimensions);
            ExactIndex.Normalize(vector, target);
            Stored(slot, target);
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
            if (!_slots.Remove(key, out var slot))
            {
                return false;
            }

            _mutations++;
            _keys[slot] = null;
            _free.Push(slot);
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
            return _slots.ContainsKey(key);
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
            _mutations++;
            _slots.Clear();
            _free.Clear();
            _keys = [];
            _vectors = [];
            ClearSlots();
            _used = 0;
            _dimensions = 0;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public IReadOnlyList<Neighbor> Search(ReadOnlySpan<float> query, int k, Func<string, bool>? filter) => Scan(query, k, filter, null);

    public IReadOnlyList<Neighbor> SearchAmong(ReadOnlySpan<float> query, int k, AllowedSet allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return Scan(query, k, null, allowed);
    }

    // Both searches of both engines: no hits for k ≤ 0 or an empty index, the query's length checked, the allowed set
    // resolved and the query normalised under the read lock, then the engine's scan of unit vectors.
    private IReadOnlyList<Neighbor> Scan(ReadOnlySpan<float> query, int k, Func<string, bool>? filter, AllowedSet? allowed)
    {
        if (k <= 0)
        {
            return [];
        }

        _lock.EnterReadLock();
        try
        {
            if (_slots.Count == 0)
            {
                return [];
            }

            CheckLength(query);
            var resolved = allowed is null ? null : Resolve(allowed);
            Span<float> q = query.Length <= 2048 ? stackalloc float[query.Length] : new float[query.Length];
            ExactIndex.Normalize(query, q);
            return ScanUnit(q, k, filter, resolved);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// The engine's top <paramref name="k"/> for the unit query <paramref name="q"/> among the keys <paramref name="filter"/>
    /// passes, or among <paramref name="allowed"/>'s slots when given (under the read lock; the index is not empty).
    /// </summary>
    private protected abstract IReadOnlyList<Neighbor> ScanUnit(ReadOnlySpan<float> q, int k, Func<string, bool>? filter, AllowedSet.Resolution? allowed);

    public bool TrySimilarity(ReadOnlySpan<float> query, string key, out float cosine)
    {
        _lock.EnterReadLock();
        try
        {
            if (!_slots.TryGetValue(key, out var slot))
            {
                cosine = 0;
                return false;
            }

            CheckLength(query);
            var norm = TensorPrimitives.Norm(query);
            cosine = norm == 0 ? 0 : TensorPrimitives.Dot(_vectors.AsSpan(slot * _dimensions, _dimensions), query) / norm;
            return true;
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
            return Resolve(allowed).Count;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>The allowed keys this index holds as a bitset over its slots, cached in the set until the next write (the caller holds the read lock).</summary>
    private protected AllowedSet.Resolution Resolve(AllowedSet allowed) => allowed.Resolve(this, _mutations, _slots, _used);

    /// <summary>Slots handed out so far (live or free): what a reader walking the slots goes up to.</summary>
    internal int SlotsUsed
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _used;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>
    /// Copies the keys and unit vectors of the live slots from <paramref name="from"/> on, below <paramref name="end"/>, until
    /// <paramref name="keys"/> holds as many as <paramref name="vectors"/> has room for (d floats each); returns the slot
    /// after the last one read. One read lock per call, so a caller walking a large index in chunks never holds it long.
    /// </summary>
    internal int CopySlots(int from, int end, List<string> keys, float[] vectors)
    {
        keys.Clear();
        _lock.EnterReadLock();
        try
        {
            var d = _dimensions;
            var slot = from;
            for (; slot < Math.Min(end, _used) && (keys.Count + 1) * d <= vectors.Length; slot++)
            {
                if (_keys[slot] is { } key)
                {
                    _vectors.AsSpan(slot * d, d).CopyTo(vectors.AsSpan(keys.Count * d, d));
                    keys.Add(key);
                }
            }

            return slot;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Copies <paramref name="key"/>'s unit vector into <paramref name="destination"/> (d floats); false when the key is not indexed.</summary>
    internal bool TryCopy(string key, Span<float> destination)
    {
        _lock.EnterReadLock();
        try
        {
            if (!_slots.TryGetValue(key, out var slot))
            {
                return false;
            }

            _vectors.AsSpan(slot * _dimensions, _dimensions).CopyTo(destination);
            return true;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Grows the engine's own per-slot arrays to <paramref name="capacity"/> slots (under the write lock; the dimension is known).</summary>
    private protected virtual void GrowSlots(int capacity)
    {
    }

    /// <summary>Derives the engine's own data of <paramref name="slot"/> from its just stored unit vector (under the write lock).</summary>
    private protected virtual void Stored(int slot, ReadOnlySpan<float> unit)
    {
    }

    /// <summary>Drops the engine's own per-slot arrays (under the write lock).</summary>
    private protected virtual void ClearSlots()
    {
    }

    private protected void CheckLength(ReadOnlySpan<float> query) => IndexDimensions.RequireQuery(_dimensions, query);
}
