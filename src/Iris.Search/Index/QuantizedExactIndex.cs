using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Iris.Search.Index;

/// <summary>
/// Exact search that reads a quarter of the memory of a float scan: beside each (L2-normalised) float vector x it keeps
/// int8 codes c with one scale a (x ≈ a·c, a = max|xᵢ| / 127) and the exact norm of what the codes miss, r = ‖x − a·c‖.
/// A query q (unit length) is rounded to int16 codes t·q̂ (error e = q − t·q̂, norm computed per query). Then for every
/// vector, by Cauchy–Schwarz, q·x lies within a·t·(q̂·c) ± (r + a·‖e‖·‖c‖): one integer dot product over the codes gives
/// each vector a lower and an upper bound. The k-th largest lower bound τ is below the k-th best true score, so every
/// vector of the true top k has an upper bound ≥ τ; only those few are re-scored with their float vectors. The answer is
/// the float scan's, exactly (same dot products on the same floats), in one total order: cosine, then key (ordinal).
/// Memory: 4·d + d + 12 bytes per vector (6.4 KB at 1,280-d) plus the key map. Small indexes (under
/// <see cref="CodesFrom"/> vectors) and large k are scored with the floats directly.
/// </summary>
public sealed class QuantizedExactIndex : SlotIndex, IVectorIndex
{
    /// <summary>Below this many stored vectors, a float scan costs about as little as the codes pass and is used instead.</summary>
    public const int CodesFrom = 2048;

    // Covers float rounding of the float dot product (at most ~d·2⁻²⁴ of Σ|qᵢxᵢ| ≤ 1) and of the stored bounds, on each side.
    private const float Slack = 2e-4f;

    private sbyte[] _codes = [];
    private float[] _scales = [];
    private float[] _residuals = [];
    private float[] _codeNorms = [];

    private protected override void GrowSlots(int capacity)
    {
        Array.Resize(ref _codes, capacity * _dimensions);
        Array.Resize(ref _scales, capacity);
        Array.Resize(ref _residuals, capacity);
        Array.Resize(ref _codeNorms, capacity);
    }

    private protected override void Stored(int slot, ReadOnlySpan<float> unit) =>
        (_scales[slot], _residuals[slot], _codeNorms[slot]) = Encode(unit, _codes.AsSpan(slot * _dimensions, _dimensions));

    private protected override void ClearSlots() => (_codes, _scales, _residuals, _codeNorms) = ([], [], [], []);

    /// <summary>The int8 codes of <paramref name="x"/>, their scale, the exact norm of the rounding error and the codes' norm.</summary>
    private static (float Scale, float Residual, float CodeNorm) Encode(ReadOnlySpan<float> x, Span<sbyte> codes)
    {
        var max = MathF.Abs(TensorPrimitives.MaxMagnitude(x));
        if (max == 0 || !float.IsFinite(max))
        {
            codes.Clear();
            return (0, max == 0 ? 0 : float.PositiveInfinity, 0);
        }

        var scale = max / 127f;
        double residual = 0, norm = 0;
        for (var i = 0; i < x.Length; i++)
        {
            var c = (int)Math.Clamp(MathF.Round(x[i] / scale), -127, 127);
            codes[i] = (sbyte)c;
            var miss = x[i] - ((double)scale * c);
            residual += miss * miss;
            norm += (double)c * c;
        }

        return (scale, (float)Math.Sqrt(residual) * 1.0001f, (float)Math.Sqrt(norm) * 1.0001f);
    }

    private protected override IReadOnlyList<Neighbor> ScanUnit(ReadOnlySpan<float> q, int k, Func<string, bool>? filter, AllowedSet.Resolution? allowed)
    {
        if (allowed is null)
        {
            return _used < CodesFrom || (long)k * 8 >= _slots.Count ? FloatScan(q, k, filter, null) : CodesScan(q, k, filter, null);
        }

        if ((long)allowed.Count * 4 >= _slots.Count)
        {
            return _used < CodesFrom || (long)k * 8 >= allowed.Count ? FloatScan(q, k, null, allowed.Bits) : CodesScan(q, k, null, allowed.Bits);
        }

        // A small allowed set: only its vectors are scored (its slots are resolved once per index version).
        var heap = new PriorityQueue<int, (float, string)>(Math.Min(k, allowed.Count) + 1, Worse.Instance);
        var d = _dimensions;
        var bits = allowed.Bits;
        for (var w = 0; w < bits.Length; w++)
        {
            for (var word = bits[w]; word != 0; word &= word - 1)
            {
                var slot = (w << 6) + BitOperations.TrailingZeroCount(word);
                Offer(heap, k, slot, TensorPrimitives.Dot(_vectors.AsSpan(slot * d, d), q));
            }
        }

        return Drain(heap);
    }

    /// <summary>Whether the scan takes <paramref name="slot"/> (holding <paramref name="key"/>): by the allowed slots when given, else by the callback.</summary>
    private static bool Passes(int slot, string? key, Func<string, bool>? filter, ulong[]? allowed) =>
        key is not null && (allowed is not null ? (allowed[slot >> 6] & (1UL << slot)) != 0 : filter is null || filter(key));

    private Neighbor[] FloatScan(ReadOnlySpan<float> q, int k, Func<string, bool>? filter, ulong[]? allowed)
    {
        var heap = new PriorityQueue<int, (float, string)>(Math.Min(k, _slots.Count) + 1, Worse.Instance);
        var d = _dimensions;
        for (var slot = 0; slot < _used; slot++)
        {
            if (Passes(slot, _keys[slot], filter, allowed))
            {
                Offer(heap, k, slot, TensorPrimitives.Dot(_vectors.AsSpan(slot * d, d), q));
            }
        }

        return Drain(heap);
    }

    private Neighbor[] CodesScan(ReadOnlySpan<float> q, int k, Func<string, bool>? filter, ulong[]? allowed)
    {
        var d = _dimensions;
        // The query as int16 codes, small enough that d products of 127·|q̂ᵢ| add up in an int.
        var limit = Math.Min(short.MaxValue, int.MaxValue / (127 * d));
        var top = MathF.Abs(TensorPrimitives.MaxMagnitude(q));
        if (top == 0)
        {
            return FloatScan(q, k, filter, allowed);
        }

        var t = top / limit;
        var qq = ArrayPool<short>.Shared.Rent(d);
        var upper = ArrayPool<float>.Shared.Rent(_used);
        try
        {
            double miss = 0;
            for (var i = 0; i < d; i++)
            {
                var v = (int)Math.Clamp(MathF.Round(q[i] / t), -limit, limit);
                qq[i] = (short)v;
                var e = q[i] - ((double)t * v);
                miss += e * e;
            }

            var queryMiss = (float)Math.Sqrt(miss) * 1.0001f;
            var codes = new ReadOnlySpan<short>(qq, 0, d);

            // Pass 1: bounds from the codes; τ = the k-th largest lower bound.
            var lows = new PriorityQueue<int, float>(Math.Min(k, _slots.Count) + 1);
            for (var slot = 0; slot < _used; slot++)
            {
                if (!Passes(slot, _keys[slot], filter, allowed))
                {
                    upper[slot] = float.NegativeInfinity;
                    continue;
                }

                var a = _scales[slot];
                var approx = (double)a * t * Dot(_codes.AsSpan(slot * d, d), codes);
                var bound = _residuals[slot] + (a * queryMiss * _codeNorms[slot]) + Slack;
                upper[slot] = (float)(approx + bound) + Slack;
                var low = (float)(approx - bound) - Slack;
                if (lows.Count < k)
                {
                    lows.Enqueue(slot, low);
                }
                else if (lows.TryPeek(out _, out var worst) && low > worst)
                {
                    lows.DequeueEnqueue(slot, low);
                }
            }

            var tau = float.NegativeInfinity;
            if (lows.Count == k && lows.TryPeek(out _, out var kth))
            {
                tau = kth;
            }

            // Pass 2: only vectors that can still be in the top k are scored with their floats.
            var heap = new PriorityQueue<int, (float, string)>(Math.Min(k, _slots.Count) + 1, Worse.Instance);
            for (var slot = 0; slot < _used; slot++)
            {
                if (upper[slot] >= tau && _keys[slot] is not null)
                {
                    Offer(heap, k, slot, TensorPrimitives.Dot(_vectors.AsSpan(slot * d, d), q));
                }
            }

            return Drain(heap);
        }
        finally
        {
            ArrayPool<short>.Shared.Return(qq);
            ArrayPool<float>.Shared.Return(upper);
        }
    }

    /// <summary>Σ codes[i]·query[i] exactly: int8 codes widened to int16, multiplied and added in pairs (AVX2 when present).</summary>
    private static int Dot(ReadOnlySpan<sbyte> codes, ReadOnlySpan<short> query)
    {
        var n = codes.Length;
        var i = 0;
        var sum = 0;
        ref var rc = ref MemoryMarshal.GetReference(codes);
        ref var rq = ref MemoryMarshal.GetReference(query);
        if (Avx2.IsSupported && n >= 16)
        {
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            for (; i <= n - 32; i += 32)
            {
                var c0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref rc, (nuint)i));
                var c1 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref rc, (nuint)(i + 16)));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.LoadUnsafe(ref rq, (nuint)i)));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(c1, Vector256.LoadUnsafe(ref rq, (nuint)(i + 16))));
            }

            for (; i <= n - 16; i += 16)
            {
                var c0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref rc, (nuint)i));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.LoadUnsafe(ref rq, (nuint)i)));
            }

            sum = Vector256.Sum(Avx2.Add(acc0, acc1));
        }

        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref rc, i) * Unsafe.Add(ref rq, i);
        }

        return sum;
    }

    /// <summary>Keeps <paramref name="slot"/> among the <paramref name="k"/> best (the heap's root is the worst kept).</summary>
    private void Offer(PriorityQueue<int, (float, string)> heap, int k, int slot, float cosine)
    {
        var entry = (cosine, _keys[slot]!);
        if (heap.Count < k)
        {
            heap.Enqueue(slot, entry);
        }
        else if (heap.TryPeek(out _, out var worst) && Worse.Instance.Compare(worst, entry) < 0)
        {
            heap.DequeueEnqueue(slot, entry);
        }
    }

    private Neighbor[] Drain(PriorityQueue<int, (float, string)> heap)
    {
        var result = new Neighbor[heap.Count];
        for (var i = result.Length - 1; i >= 0; i--)
        {
            heap.TryDequeue(out var slot, out var entry);
            result[i] = new Neighbor(_keys[slot]!, entry.Item1);
        }

        return result;
    }

    private sealed class Worse : IComparer<(float Cosine, string Key)>
    {
        public static readonly Worse Instance = new();

        public int Compare((float Cosine, string Key) x, (float Cosine, string Key) y)
        {
            var byCosine = x.Cosine.CompareTo(y.Cosine);
            return byCosine != 0 ? byCosine : string.CompareOrdinal(y.Key, x.Key);
        }
    }
}
