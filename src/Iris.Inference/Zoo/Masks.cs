using System.Buffers;
using System.Runtime.CompilerServices;
using Clarifai.Api;
using Google.Protobuf;
using SkiaSharp;

namespace Iris.Inference.Zoo;

/// <summary>Segmentation masks as Clarifai writes them: a grey-scale PNG (255 = inside) the size of the image.</summary>
internal static class Masks
{
    // Masks are smooth blobs: the Up filter and the fastest zlib level compress them well at a fraction of the cost of
    // the defaults (all filters, level 6), which dominated a segmentation predict.
    private static readonly SKPngEncoderOptions Fast = new(SKPngEncoderFilterFlags.Up, 1);

    /// <summary>
    /// A mask region from a probability map of <paramref name="mapWidth"/> × <paramref name="mapHeight"/> (row-major,
    /// values 0..1), resized to <paramref name="width"/> × <paramref name="height"/>; null when no pixel reaches 0.5.
    /// The region's value is the fraction of the image inside the mask; its concept scores the peak probability.
    /// </summary>
    public static Region? Region(ReadOnlySpan<float> probabilities, int mapWidth, int mapHeight, int width, int height, Func<float, Concept> concept)
    {
        var covered = 0;
        var peak = 0f;
        foreach (var p in probabilities[..(mapWidth * mapHeight)])
        {
            covered += p >= 0.5f ? 1 : 0;
            peak = Math.Max(peak, p);
        }

        if (covered == 0)
        {
            return null;
        }

        using var full = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        Upscale(probabilities, mapWidth, mapHeight, full.GetPixelSpan(), width, height, full.RowBytes);
        using var pixmap = full.PeekPixels();
        using var png = pixmap.Encode(Fast) ?? throw new InvalidOperationException("mask encoding failed");
        return new Region
        {
            Id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png.AsSpan()).AsSpan(0, 16)),
            Value = covered / (float)(mapWidth * mapHeight),
            RegionInfo = new RegionInfo { Mask = new Mask { Image = new Image { Base64 = ByteString.CopyFrom(png.AsSpan()), ImageInfo = new ImageInfo { Width = width, Height = height, Format = "PNG", ColorMode = "GRAYSCALE" } } } },
            Data = new Data { Concepts = { concept(Math.Clamp(peak, 0f, 1f)) } },
        };
    }

    /// <summary>
    /// Bilinear resize of the probability map (pixel centres aligned, edges clamped) into grey bytes 0..255: each map
    /// row is stretched horizontally once (scaled to 0..255), then every output row blends the two rows around it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Upscale(ReadOnlySpan<float> map, int mapWidth, int mapHeight, Span<byte> pixels, int width, int height, int rowBytes)
    {
        var x0 = new int[width];
        var fx = new float[width];
        for (var x = 0; x < width; x++)
        {
            var sx = Math.Clamp(((x + 0.5f) * mapWidth / width) - 0.5f, 0f, mapWidth - 1);
            x0[x] = Math.Min((int)sx, Math.Max(0, mapWidth - 2));
            fx[x] = sx - x0[x];
        }

        var step = mapWidth > 1 ? 1 : 0;
        var rented = ArrayPool<float>.Shared.Rent(mapHeight * width);
        var stretched = rented.AsSpan(0, mapHeight * width);
        for (var r = 0; r < mapHeight; r++)
        {
            var row = map.Slice(r * mapWidth, mapWidth);
            var target = stretched.Slice(r * width, width);
            for (var x = 0; x < target.Length; x++)
            {
                var a = Math.Clamp(row[x0[x]], 0f, 1f);
                var b = Math.Clamp(row[x0[x] + step], 0f, 1f);
                target[x] = (a + ((b - a) * fx[x])) * 255f;
            }
        }

        for (var y = 0; y < height; y++)
        {
            var sy = Math.Clamp(((y + 0.5f) * mapHeight / height) - 0.5f, 0f, mapHeight - 1);
            var y0 = Math.Min((int)sy, Math.Max(0, mapHeight - 2));
            var fy = sy - y0;
            var top = stretched.Slice(y0 * width, width);
            var bottom = stretched.Slice(Math.Min(y0 + 1, mapHeight - 1) * width, width);
            var output = pixels.Slice(y * rowBytes, width);
            for (var x = 0; x < output.Length; x++)
            {
                output[x] = (byte)(top[x] + ((bottom[x] - top[x]) * fy) + 0.5f);
            }
        }

        ArrayPool<float>.Shared.Return(rented);
    }
}
