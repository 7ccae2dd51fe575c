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
        using var small = new SKBitmap(new SKImageInfo(mapWidth, mapHeight, SKColorType.Gray8, SKAlphaType.Opaque));
        var pixels = small.GetPixelSpan();
        var covered = 0;
        var peak = 0f;
        for (var i = 0; i < mapWidth * mapHeight; i++)
        {
            var p = Math.Clamp(probabilities[i], 0f, 1f);
            pixels[i] = (byte)MathF.Round(p * 255f);
            covered += p >= 0.5f ? 1 : 0;
            peak = Math.Max(peak, p);
        }

        if (covered == 0)
        {
            return null;
        }

        using var full = small.Resize(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear))
            ?? throw new InvalidOperationException("mask resize failed");
        using var pixmap = full.PeekPixels();
        using var png = pixmap.Encode(Fast) ?? throw new InvalidOperationException("mask encoding failed");
        return new Region
        {
            Id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png.AsSpan()).AsSpan(0, 16)),
            Value = covered / (float)(mapWidth * mapHeight),
            RegionInfo = new RegionInfo { Mask = new Mask { Image = new Image { Base64 = ByteString.CopyFrom(png.AsSpan()), ImageInfo = new ImageInfo { Width = width, Height = height, Format = "PNG", ColorMode = "GRAYSCALE" } } } },
            Data = new Data { Concepts = { concept(peak) } },
        };
    }
}
