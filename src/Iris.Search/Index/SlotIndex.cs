namespace Iris.Search.Index;

/// <summary>
/// What the two scanning engines (<see cref="ExactIndex"/>, the float reference, and <see cref="QuantizedExactIndex"/>,
/// the one served) share: each key holds a slot of contiguous per-slot arrays (a removed key's slot is reused), one
/// reader/writer lock guards them, and the dimension is adopted from the first vector. Each engine keeps its own
/// per-slot data, grown and filled through <see cref="GrowSlots"/> and <see cref="Store"/>, and its own scan.
/// </summary>
public abstract class SlotIndex
{
    private protected readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private protected readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly Stack<int> _free = new();
    private protected string?[] _keys = [];
    private protected int _used;
    private protected int _dimensions;

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
            if (!_slots.TryGetValue(key, out var slot))
            {
                slot = _free.Count > 0 ? _free.Pop() : _used++;
                if (slot >= _keys.Length)
                {
                    var capacity = Math.Max(64, _keys.Length * 2);
                    Array.Resize(ref _keys, capacity);
                    GrowSlots(capacity);
                }

                _slots[key] = slot;
                _keys[slot] = key;
            }

            Store(slot, vector);
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
            _slots.Clear();
            _free.Clear();
            _keys = [];
            ClearSlots();
            _used = 0;
            _dimensions = 0;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Grows the engine's per-slot arrays to <paramref name="capacity"/> slots (under the write lock; the dimension is known).</summary>
    private protected abstract void GrowSlots(int capacity);

    /// <summary>Writes <paramref name="vector"/> into <paramref name="slot"/>'s data (under the write lock).</summary>
    private protected abstract void Store(int slot, ReadOnlySpan<float> vector);

    /// <summary>Drops the engine's per-slot arrays (under the write lock).</summary>
    private protected abstract void ClearSlots();

    private protected void CheckLength(ReadOnlySpan<float> query) => IndexDimensions.RequireQuery(_dimensions, query);
}
