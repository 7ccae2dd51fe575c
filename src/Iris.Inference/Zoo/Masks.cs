using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Clarifai.Api;
using Google.Protobuf;

namespace Iris.Inference.Zoo;

/// <summary>Segmentation masks as Clarifai writes them: a grey-scale PNG (255 = inside) the size of the image.</summary>
internal static class Masks
{
    /// <summary>
    /// A mask region from a probability map of <paramref name="mapWidth"/> × <paramref name="mapHeight"/> (row-major,
    /// values 0..1), resized to <paramref name="width"/> × <paramref name="height"/>; null when no pixel reaches 0.5.
    /// The region's value is the fraction of the image inside the mask; its concept scores the peak probability.
    /// </summary>
    public static Region? Region(ReadOnlySpan<float> probabilities, int mapWidth, int mapHeight, int width, int height, Func<float, Concept> concept)
    {
        var map = probabilities[..(mapWidth * mapHeight)];
        var covered = 0;
        foreach (var p in map)
        {
            covered += p >= 0.5f ? 1 : 0;
        }

        if (covered == 0)
        {
            return null;
        }

        var peak = TensorPrimitives.Max(map);
        var png = Png(map, mapWidth, mapHeight, width, height);
        return new Region
        {
            Id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png).AsSpan(0, 16)),
            Value = covered / (float)(mapWidth * mapHeight),
            // The encoded bytes are this region's alone: wrapped, not copied.
            RegionInfo = new RegionInfo { Mask = new Mask { Image = new Image { Base64 = UnsafeByteOperations.UnsafeWrap(png), ImageInfo = new ImageInfo { Width = width, Height = height, Format = "PNG", ColorMode = "GRAYSCALE" } } } },
            Data = new Data { Concepts = { concept(Math.Clamp(peak, 0f, 1f)) } },
        };
    }

    /// <summary>
    /// The map bilinearly resized to <paramref name="width"/> × <paramref name="height"/> grey bytes, encoded as an
    /// 8-bit grey PNG in one pass: each output row is blended from two horizontally stretched map rows, filtered
    /// (PNG's Up filter: the difference to the row above, zero wherever the mask does not change vertically) and fed
    /// to zlib with its run-length strategy, which is all a smooth mask needs (no full-size bitmap, no second pass).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static byte[] Png(ReadOnlySpan<float> map, int mapWidth, int mapHeight, int width, int height)
    {
        var stretchedRented = ArrayPool<float>.Shared.Rent(mapHeight * width);
        var rowsRented = ArrayPool<byte>.Shared.Rent((3 * width) + 1);
        // The PNG is written into a pooled buffer that holds the worst case, so it never grows, and only the finished file
        // is copied out (a growing MemoryStream allocated two or three large arrays per mask). Worst case: every filtered
        // byte a 9-bit literal (zlib-ng's level 1 codes with the fixed Huffman table), plus block headers, the zlib
        // wrapper and the PNG chunks, which the 4 KB of slack covers many times over.
        var rawLength = (long)(width + 1) * height;
        var bound = rawLength + (rawLength >> 3) + 4096;
        var pngRented = ArrayPool<byte>.Shared.Rent((int)Math.Min(bound, Array.MaxLength));
        try
        {
            var stretched = stretchedRented.AsSpan(0, mapHeight * width);
            Stretch(map, mapWidth, mapHeight, stretched, width);
            var output = new MemoryStream(pngRented, 0, pngRented.Length, writable: true, publiclyVisible: true);
            output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
            Span<byte> header = stackalloc byte[13];
            BinaryPrimitives.WriteInt32BigEndian(header, width);
            BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
            header[8] = 8; // bit depth
            header[9] = 0; // grey; compression, filter and interlace method 0
            Chunk(output, "IHDR"u8, header);

            // IDAT: length and type now, the zlib stream, then the length patched and the CRC appended.
            var idat = (int)output.Position;
            output.Write([0, 0, 0, 0, (byte)'I', (byte)'D', (byte)'A', (byte)'T']);
            using (var zlib = new ZLibStream(output, new ZLibCompressionOptions { CompressionLevel = 1 }, leaveOpen: true))
            {
                var previous = rowsRented.AsSpan(0, width);
                var current = rowsRented.AsSpan(width, width);
                var filtered = rowsRented.AsSpan(2 * width, width + 1);
                previous.Clear();
                filtered[0] = 2; // Up
                for (var y = 0; y < height; y++)
                {
                    var sy = Math.Clamp(((y + 0.5f) * mapHeight / height) - 0.5f, 0f, mapHeight - 1);
                    var y0 = Math.Min((int)sy, Math.Max(0, mapHeight - 2));
                    var y1 = Math.Min(y0 + 1, mapHeight - 1);
                    Blend(stretched.Slice(y0 * width, width), stretched.Slice(y1 * width, width), sy - y0, current);
                    Subtract(current, previous, filtered[1..]);
                    zlib.Write(filtered);
                    var swap = previous;
                    previous = current;
                    current = swap;
                }
            }

            var dataLength = (int)output.Position - idat - 8;
            var bytes = output.GetBuffer();
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(idat), dataLength);
            Span<byte> crc = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(crc, System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(idat + 4, dataLength + 4)));
            output.Write(crc);
            Chunk(output, "IEND"u8, []);
            var png = GC.AllocateUninitializedArray<byte>((int)output.Position);
            bytes.AsSpan(0, png.Length).CopyTo(png);
            return png;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(stretchedRented);
            ArrayPool<byte>.Shared.Return(rowsRented);
            ArrayPool<byte>.Shared.Return(pngRented);
        }
    }

    private static void Chunk(MemoryStream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var start = (int)output.Position;
        output.Write(type);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, System.IO.Hashing.Crc32.HashToUInt32(output.GetBuffer().AsSpan(start, type.Length + data.Length)));
        output.Write(word);
    }

    /// <summary>
    /// Every map row stretched horizontally to <paramref name="width"/> (bilinear, pixel centres aligned, edges
    /// clamped), values clamped to 0..1 and scaled to 0..255.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Stretch(ReadOnlySpan<float> map, int mapWidth, int mapHeight, Span<float> stretched, int width)
    {
        var x0 = ArrayPool<int>.Shared.Rent(width);
        var fx = ArrayPool<float>.Shared.Rent(width);
        for (var x = 0; x < width; x++)
        {
            var sx = Math.Clamp(((x + 0.5f) * mapWidth / width) - 0.5f, 0f, mapWidth - 1);
            x0[x] = Math.Min((int)sx, Math.Max(0, mapWidth - 2));
            fx[x] = sx - x0[x];
        }

        var step = mapWidth > 1 ? 1 : 0;
        var clamped = ArrayPool<float>.Shared.Rent(mapWidth);
        ref var c = ref MemoryMarshal.GetArrayDataReference(clamped);
        ref var i0 = ref MemoryMarshal.GetArrayDataReference(x0);
        ref var f0 = ref MemoryMarshal.GetArrayDataReference(fx);
        for (var r = 0; r < mapHeight; r++)
        {
            var row = map.Slice(r * mapWidth, mapWidth);
            for (var i = 0; i < row.Length; i++)
            {
                clamped[i] = Math.Clamp(row[i], 0f, 1f);
            }

            // Indexes from the tables above are inside the row by construction.
            ref var target = ref MemoryMarshal.GetReference(stretched.Slice(r * width, width));
            for (var x = 0; x < width; x++)
            {
                var j = Unsafe.Add(ref i0, x);
                var a = Unsafe.Add(ref c, j);
                var b = Unsafe.Add(ref c, j + step);
                Unsafe.Add(ref target, x) = (a + ((b - a) * Unsafe.Add(ref f0, x))) * 255f;
            }
        }

        ArrayPool<float>.Shared.Return(clamped);
        ArrayPool<int>.Shared.Return(x0);
        ArrayPool<float>.Shared.Return(fx);
    }

    /// <summary>One output row: <c>top + (bottom − top)·f</c>, rounded to bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blend(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, float f, Span<byte> row)
    {
        var x = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var weight = Vector256.Create(f);
            var half = Vector256.Create(0.5f);
            for (; x <= row.Length - 32; x += 32)
            {
                var i0 = Vector256.ConvertToInt32(Lerp(top, bottom, x, weight, half));
                var i1 = Vector256.ConvertToInt32(Lerp(top, bottom, x + 8, weight, half));
                var i2 = Vector256.ConvertToInt32(Lerp(top, bottom, x + 16, weight, half));
                var i3 = Vector256.ConvertToInt32(Lerp(top, bottom, x + 24, weight, half));
                var low = Vector256.Narrow(i0.AsUInt32(), i1.AsUInt32());
                var high = Vector256.Narrow(i2.AsUInt32(), i3.AsUInt32());
                Vector256.Narrow(low, high).CopyTo(row[x..]);
            }
        }

        for (; x < row.Length; x++)
        {
            row[x] = (byte)(top[x] + ((bottom[x] - top[x]) * f) + 0.5f);
        }
    }

    private static Vector256<float> Lerp(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, int x, Vector256<float> weight, Vector256<float> half)
    {
        var t = Vector256.Create(top[x..]);
        return t + ((Vector256.Create(bottom[x..]) - t) * weight) + half;
    }

    /// <summary>PNG's Up filter: each byte minus the one above it, modulo 256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Subtract(ReadOnlySpan<byte> current, ReadOnlySpan<byte> previous, Span<byte> filtered)
    {
        var x = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; x <= current.Length - 32; x += 32)
            {
                (Vector256.Create(current[x..]) - Vector256.Create(previous[x..])).CopyTo(filtered[x..]);
            }
        }

        for (; x < current.Length; x++)
        {
            filtered[x] = (byte)(current[x] - previous[x]);
        }
    }
}
