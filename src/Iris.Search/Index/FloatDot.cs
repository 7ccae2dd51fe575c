using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Iris.Search.Index;

/// <summary>
/// The float dot product of a graph walk's inner loop: four independent 256-bit FMA accumulators (32 floats per step,
/// so the adds' latency overlaps), no span construction or length checks per call — the walk knows both vectors are
/// <c>n</c> long inside its arrays.
/// </summary>
internal static class FloatDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ref float a, ref float b, int n)
    {
        if (!Fma.IsSupported || n < 32)
        {
            return Scalar(ref a, ref b, n);
        }

        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var acc2 = Vector256<float>.Zero;
        var acc3 = Vector256<float>.Zero;
        nuint i = 0;
        var end = (nuint)(n & ~31);
        for (; i < end; i += 32)
        {
            acc0 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref a, i), Vector256.LoadUnsafe(ref b, i), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref a, i + 8), Vector256.LoadUnsafe(ref b, i + 8), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref a, i + 16), Vector256.LoadUnsafe(ref b, i + 16), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref a, i + 24), Vector256.LoadUnsafe(ref b, i + 24), acc3);
        }

        for (; i + 8 <= (nuint)n; i += 8)
        {
            acc0 = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref a, i), Vector256.LoadUnsafe(ref b, i), acc0);
        }

        var sum = Vector256.Sum((acc0 + acc1) + (acc2 + acc3));
        for (; i < (nuint)n; i++)
        {
            sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        }

        return sum;
    }

    private static float Scalar(ref float a, ref float b, int n)
    {
        var sum = 0f;
        for (var i = 0; i < n; i++)
        {
            sum += Unsafe.Add(ref a, i) * Unsafe.Add(ref b, i);
        }

        return sum;
    }
}
