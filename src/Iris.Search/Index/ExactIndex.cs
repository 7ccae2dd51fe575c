using System.Numerics;
using System.Numerics.Tensors;

namespace Iris.Search.Index;

/// <summary>
/// Exact search: every vector in one contiguous array, scored with SIMD dot products (<see cref="TensorPrimitives"/>)
/// and a bounded heap for the top k. Memory is 4 bytes × dimensions per vector (5 KB at 1280-d; 100,000 inputs ≈ 512 MB)
/// plus the key map. A scan costs one dot product per stored vector, reading every float: 4–9 ms per 10,000 vectors of
/// 1280-d on one core here (docs/benchmarks.md, "Search end to end"). It is the float reference the tests and benchmarks
/// compare with; searches are served by <see cref="QuantizedExactIndex"/>, which returns the same answer reading a quarter
/// of the memory.
/// </summary>
public sealed class ExactIndex : SlotIndex, IVectorIndex
{
    private protected override IReadOnlyList<Neighbor> ScanUnit(ReadOnlySpan<float> q, int k, Func<string, bool>? filter, AllowedSet.Resolution? allowed)
    {
        // Min-heap of the best k so far: its root is the one to beat.
        var heap = new PriorityQueue<int, float>(Math.Min(k, allowed?.Count ?? _slots.Count) + 1);
        var dims = _dimensions;
        if (allowed is null)
        {
            for (var slot = 0; slot < _used; slot++)
            {
                var key = _keys[slot];
                if (key is null || (filter is not null && !filter(key)))
                {
                    continue;
                }

                Offer(heap, k, slot, TensorPrimitives.Dot(_vectors.AsSpan(slot * dims, dims), q));
            }
        }
        else
        {
            // Only the allowed vectors are scored, in slot order: the set's slots are resolved once per index version.
            var bits = allowed.Bits;
            for (var w = 0; w < bits.Length; w++)
            {
                for (var word = bits[w]; word != 0; word &= word - 1)
                {
                    var slot = (w << 6) + BitOperations.TrailingZeroCount(word);
                    Offer(heap, k, slot, TensorPrimitives.Dot(_vectors.AsSpan(slot * dims, dims), q));
                }
            }
        }

        return Drain(heap);
    }

    /// <summary>Keeps <paramref name="slot"/> among the <paramref name="k"/> best (a min-heap on cosine).</summary>
    private static void Offer(PriorityQueue<int, float> heap, int k, int slot, float cosine)
    {
        if (heap.Count < k)
        {
            heap.Enqueue(slot, cosine);
        }
        else if (heap.TryPeek(out _, out var worst) && cosine > worst)
        {
            heap.DequeueEnqueue(slot, cosine);
        }
    }

    /// <summary>The heap's slots as neighbours, best first (the caller holds the lock).</summary>
    private Neighbor[] Drain(PriorityQueue<int, float> heap)
    {
        var result = new Neighbor[heap.Count];
        for (var i = result.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out var slot, out var cosine);
            result[i] = new Neighbor(_keys[slot]!, cosine);
        }

        return result;
    }

    /// <summary>Writes <paramref name="source"/> scaled to unit length into <paramref name="target"/> (zeros stay zeros).</summary>
    internal static void Normalize(ReadOnlySpan<float> source, Span<float> target)
    {
        var norm = TensorPrimitives.Norm(source);
        if (norm == 0 || float.IsNaN(norm))
        {
            target.Clear();
            return;
        }

        TensorPrimitives.Divide(source, norm, target);
    }
}
