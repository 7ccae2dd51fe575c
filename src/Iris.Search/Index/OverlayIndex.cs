using System.Collections.Concurrent;

namespace Iris.Search.Index;

/// <summary>
/// An index as if changes had been applied to it that cannot be yet: <see cref="VectorIndexes"/> puts one over a graph
/// while a snapshot of it is being written (the write holds the graph's read lock, so an insert would wait for the whole
/// write). The changes go to a small side index searched exactly (an <see cref="ExactIndex"/>: a write lasts seconds, and
/// at most a few thousand vectors arrive meanwhile, a scan of a few milliseconds), and every key they touched is noted:
/// the base's hits of a noted key are dropped (its vector there is stale, or it was removed), the side's hits merged in
/// by score. Afterwards <see cref="MoveIntoBase"/> applies the changes to the base in the order they came; meanwhile and
/// after, the view still answers the same (a moved key is in the base with the side's vector, and the base's hit is still
/// dropped), so a search holding this view while the changes move, or after it was dropped, answers right.
/// <para>
/// Allowed sets: the base resolves a set into its ids and keeps the resolution while it does not change (it does not
/// during a write), so the side filters by the set's key lookup instead of resolving the set over its own slots, which
/// would replace the base's resolution each search (a set keeps one). Writers: one at a time (the caller's gate), and one
/// mover at a time; searches run concurrently with both. A key is noted before the side changes, so a concurrent search
/// may miss a re-embedded key for that instant, but never sees it twice.
/// </para>
/// </summary>
internal sealed class OverlayIndex(IVectorIndex @base) : IVectorIndex
{
    private readonly ExactIndex _side = new();
    private readonly ConcurrentDictionary<string, byte> _noted = new(StringComparer.Ordinal);

    // Every change in the order it came, for the base: a key with its vector (upsert) or none (remove); no key: clear.
    private readonly List<(string? Key, float[]? Vector)> _changes = [];
    private int _moved;

    // How many noted keys the base holds (their base vectors are hidden): kept as keys are noted and changes moved, so
    // Count costs no lookup per noted key. Only the writer and the mover change it.
    private int _hiddenInBase;

    // Set by Clear: the base's content is gone from this view (the side holds everything written since).
    private volatile bool _baseHidden;

    private delegate IReadOnlyList<Neighbor> Searcher(ReadOnlySpan<float> query, int k);

    /// <summary>The index the changes are for.</summary>
    public IVectorIndex Base { get; } = @base;

    /// <summary>Changes not yet applied to <see cref="Base"/>.</summary>
    public int Unmoved
    {
        get
        {
            lock (_changes)
            {
                return _changes.Count - _moved;
            }
        }
    }

    public int Dimensions => !_baseHidden && Base.Dimensions != 0 ? Base.Dimensions : _side.Dimensions;

    public int Count
    {
        get
        {
            var count = _side.Count;
            if (!_baseHidden)
            {
                count += Base.Count - Volatile.Read(ref _hiddenInBase);
            }

            return count;
        }
    }

    public void Upsert(string key, ReadOnlySpan<float> vector)
    {
        IndexDimensions.RequireNonEmpty(vector);
        var dimensions = Dimensions;
        IndexDimensions.Adopt(ref dimensions, vector);
        var copy = vector.ToArray();
        Note(key);
        _side.Upsert(key, copy);
        lock (_changes)
        {
            _changes.Add((key, copy));
        }
    }

    public bool Remove(string key)
    {
        var held = Contains(key);
        Note(key);
        _side.Remove(key);
        lock (_changes)
        {
            _changes.Add((key, null));
        }

        return held;
    }

    // Hides the key's base vector from now on. Its first change is recorded after this, so the mover has not touched it
    // in the base yet: the base holds it or not as it did before any change of it.
    private void Note(string key)
    {
        if (_noted.TryAdd(key, 0) && Base.Contains(key))
        {
            Interlocked.Increment(ref _hiddenInBase);
        }
    }

    public bool Contains(string key) => _noted.ContainsKey(key) ? _side.Contains(key) : !_baseHidden && Base.Contains(key);

    public void Clear()
    {
        _baseHidden = true;
        _side.Clear();
        _noted.Clear();
        lock (_changes)
        {
            _changes.Add((null, null));
        }
    }

    public bool TrySimilarity(ReadOnlySpan<float> query, string key, out float cosine)
    {
        if (_noted.ContainsKey(key))
        {
            return _side.TrySimilarity(query, key, out cosine);
        }

        cosine = 0;
        return !_baseHidden && Base.TrySimilarity(query, key, out cosine);
    }

    public IReadOnlyList<Neighbor> Search(ReadOnlySpan<float> query, int k, Func<string, bool>? filter) =>
        Merged(query, k, (q, n) => Base.Search(q, n, filter), _side.Search(query, k, filter));

    public IReadOnlyList<Neighbor> SearchAmong(ReadOnlySpan<float> query, int k, AllowedSet allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return Merged(query, k, (q, n) => Base.SearchAmong(q, n, allowed), _side.Search(query, k, allowed.Contains));
    }

    public int CountAmong(AllowedSet allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        var count = _baseHidden ? 0 : Base.CountAmong(allowed);
        foreach (var (key, _) in _noted)
        {
            if (allowed.Contains(key))
            {
                count += (_side.Contains(key) ? 1 : 0) - (!_baseHidden && Base.Contains(key) ? 1 : 0);
            }
        }

        return count;
    }

    /// <summary>
    /// Applies the changes not yet applied to <see cref="Base"/>, in the order they came, until none is left (changes
    /// recorded meanwhile included). One caller at a time; each change takes the base's write lock on its own, so the
    /// base's searches go on between them.
    /// </summary>
    public void MoveIntoBase()
    {
        while (true)
        {
            (string? Key, float[]? Vector) change;
            lock (_changes)
            {
                if (_moved == _changes.Count)
                {
                    return;
                }

                change = _changes[_moved];
            }

            if (change.Key is null)
            {
                Base.Clear();
                Volatile.Write(ref _hiddenInBase, 0); // the base is hidden whole from now on
            }
            else if (change.Vector is null)
            {
                if (Base.Remove(change.Key))
                {
                    Interlocked.Decrement(ref _hiddenInBase);
                }
            }
            else
            {
                var held = Base.Contains(change.Key);
                Base.Upsert(change.Key, change.Vector);
                if (!held)
                {
                    Interlocked.Increment(ref _hiddenInBase);
                }
            }

            lock (_changes)
            {
                _changes[_moved++] = default; // its vector is in the base (and the side) now
            }
        }
    }

    // The k best of the side's hits and the base's hits of keys not noted: the base is asked for more while noted keys
    // crowd its answer (a stale vector of a re-embedded key, a removed key), until k are left or it has no more.
    private IReadOnlyList<Neighbor> Merged(ReadOnlySpan<float> query, int k, Searcher searchBase, IReadOnlyList<Neighbor> side)
    {
        if (k <= 0)
        {
            return [];
        }

        var hits = new List<Neighbor>(side.Count + k);
        hits.AddRange(side);
        for (var want = k; !_baseHidden; want = want > int.MaxValue / 2 ? int.MaxValue : want * 2)
        {
            hits.RemoveRange(side.Count, hits.Count - side.Count);
            var found = searchBase(query, want);
            foreach (var hit in found)
            {
                if (!_noted.ContainsKey(hit.Key))
                {
                    hits.Add(hit);
                }
            }

            if (hits.Count - side.Count >= k || found.Count < want)
            {
                break;
            }
        }

        hits.Sort(static (a, b) => b.Cosine.CompareTo(a.Cosine) is var byCosine and not 0 ? byCosine : string.CompareOrdinal(a.Key, b.Key));
        return hits.Count > k ? hits.GetRange(0, k) : hits;
    }
}
