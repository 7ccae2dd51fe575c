using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Iris.Search.Index;

/// <summary>The integer dot product of unsigned 8-bit codes with a signed 8-bit query, the inner loop of an int8 walk.</summary>
internal static class Int8Dot
{
    /// <summary>Σ a[i]·b[i] exactly (at most 255·127 per term, so any length up to 66,000 fits an int).</summary>
    public static int Dot(ReadOnlySpan<byte> a, ReadOnlySpan<sbyte> b)
    {
        var n = a.Length;
        var i = 0;
        var sum = 0;
        if (Avx2.IsSupported && n >= 16)
        {
            ref var ra = ref MemoryMarshal.GetReference(a);
            ref var rb = ref MemoryMarshal.GetReference(b);
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            for (; i <= n - 32; i += 32)
            {
                // Widen 16 bytes to 16 shorts (zero- and sign-extended), multiply and add adjacent pairs into 8 ints.
                var a0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref ra, (nuint)i));
                var b0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref rb, (nuint)i));
                var a1 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref ra, (nuint)(i + 16)));
                var b1 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref rb, (nuint)(i + 16)));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(a0, b0));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(a1, b1));
            }

            for (; i <= n - 16; i += 16)
            {
                var a0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref ra, (nuint)i));
                var b0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref rb, (nuint)i));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(a0, b0));
            }

            sum = Vector256.Sum(Avx2.Add(acc0, acc1));
        }

        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref MemoryMarshal.GetReference(a), i) * Unsafe.Add(ref MemoryMarshal.GetReference(b), i);
        }

        return sum;
    }
}
