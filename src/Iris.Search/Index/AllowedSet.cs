namespace Iris.Search.Index;

/// <summary>
/// The keys (input ids) a query's filters let through, as <see cref="IVectorIndex.SearchAmong"/> and
/// <see cref="IVectorIndex.CountAmong"/> take them. An index turns the keys into a bitset over its own node or slot ids
/// (one key lookup each) the first time it is asked, and keeps that resolution in the set for as long as the index has not
/// changed: a later search of the same set on the same index (the planner asking again with a larger k, its total, a
/// benchmark's loop) reuses it instead of looking every key up again. The resolution is tied to one index object and its
/// mutation counter, which every insert, replacement, delete, clear and compaction moves (the node ids a compaction
/// renumbers, the slots a delete frees), so a stale one is never used. Keys the index does not hold are ignored;
/// duplicates count once. Safe to share between threads (two threads resolving at once each build the same answer).
/// </summary>
public sealed class AllowedSet
{
    private readonly string[] _keys;
    private HashSet<string>? _lookup;
    private Resolution? _resolution;
    private int _resolutions;

    public AllowedSet(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        _keys = [.. keys];
    }

    /// <summary>The keys as given (duplicates included).</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>Whether <paramref name="key"/> is allowed: for engines that filter by callback (a hash set is built on first use).</summary>
    public bool Contains(string key)
    {
        var lookup = Volatile.Read(ref _lookup);
        if (lookup is null)
        {
            lookup = new HashSet<string>(_keys, StringComparer.Ordinal);
            Volatile.Write(ref _lookup, lookup);
        }

        return lookup.Contains(key);
    }

    /// <summary>How many times an index has turned these keys into ids (the benchmark and tests watch the cache with it).</summary>
    internal int Resolutions => Volatile.Read(ref _resolutions);

    /// <summary>
    /// The keys as a bitset over <paramref name="owner"/>'s ids, built from <paramref name="ids"/> (the owner's key map,
    /// ids below <paramref name="idCount"/>) unless the set already holds one for this owner at this
    /// <paramref name="version"/>. The caller holds the owner's read lock, so neither the map nor the version moves.
    /// </summary>
    internal Resolution Resolve(object owner, long version, Dictionary<string, int> ids, int idCount)
    {
        var cached = Volatile.Read(ref _resolution);
        if (cached is not null && ReferenceEquals(cached.Owner, owner) && cached.Version == version)
        {
            return cached;
        }

        var bits = new ulong[(idCount + 63) >> 6];
        var count = 0;
        foreach (var key in _keys)
        {
            if (ids.TryGetValue(key, out var id))
            {
                ref var word = ref bits[id >> 6];
                var bit = 1UL << id;
                if ((word & bit) == 0)
                {
                    word |= bit;
                    count++;
                }
            }
        }

        var resolution = new Resolution(owner, version, bits, count);
        Volatile.Write(ref _resolution, resolution);
        Interlocked.Increment(ref _resolutions);
        return resolution;
    }

    /// <summary>The allowed keys an index holds, as a bitset over its ids (<paramref name="Count"/> bits set), valid for one owner at one version.</summary>
    internal sealed record Resolution(object Owner, long Version, ulong[] Bits, int Count);
}
