using System.Buffers;
using SkiaSharp;

namespace Iris.Inference.Engine;

/// <summary>How pixels become network input values: <c>value = channel / 255 * Scale + Offset</c>.</summary>
/// <param name="Width">Input width in pixels.</param>
/// <param name="Height">Input height in pixels.</param>
/// <param name="Channels">3 (RGB) or 1 (grey, BT.601 luma).</param>
/// <param name="Nchw">Planar channels-first layout instead of interleaved NHWC.</param>
/// <param name="Scale">Multiplier after dividing by 255.</param>
/// <param name="Offset">Added last.</param>
/// <param name="Bgr">Channel order blue, green, red (PaddleOCR) instead of RGB.</param>
/// <param name="Mean">Per-channel mean subtracted after scaling (ImageNet style), or null.</param>
/// <param name="Std">Per-channel standard deviation divided by after the mean, or null.</param>
public sealed record PixelFormat(int Width, int Height, int Channels, bool Nchw, float Scale, float Offset, bool Bgr = false, float[]? Mean = null, float[]? Std = null)
{
    public int Length => Width * Height * Channels;
}

/// <summary>Where a region of the source image landed in the network input, to map outputs back.</summary>
/// <param name="Source">The source rectangle (pixels of the upright image).</param>
/// <param name="ContentWidth">Width, in input pixels, the source covers (less than the input with letterboxing).</param>
/// <param name="ContentHeight">Height, in input pixels, the source covers.</param>
public readonly record struct Placement(SKRect Source, float ContentWidth, float ContentHeight);

/// <summary>
/// Resizes (stretch or letterbox) a region of a decoded image into a pooled float buffer in a network's layout. Runs on
/// the request's thread, before the item is queued for batching.
/// </summary>
public static class ImageTensors
{
    // Mipmaps only pay off when shrinking a lot (they are built per call); bilinear alone is enough otherwise.
    private static readonly SKSamplingOptions Shrinking = new(SKFilterMode.Linear, SKMipmapMode.Linear);
    private static readonly SKSamplingOptions Bilinear = new(SKFilterMode.Linear, SKMipmapMode.None);

    /// <summary>
    /// Fills a buffer rented from <see cref="ArrayPool{T}.Shared"/> (return it with <see cref="Return"/>). With
    /// <paramref name="letterbox"/> the region keeps its aspect ratio, top-left aligned, and the rest is zero pixels.
    /// </summary>
    public static float[] Rent(SKBitmap image, SKRect source, PixelFormat format, bool letterbox, out Placement placement)
    {
        var contentW = (float)format.Width;
        var contentH = (float)format.Height;
        if (letterbox)
        {
            var scale = Math.Min(format.Width / source.Width, format.Height / source.Height);
            contentW = Math.Max(1, MathF.Round(source.Width * scale));
            contentH = Math.Max(1, MathF.Round(source.Height * scale));
        }

        placement = new Placement(source, contentW, contentH);
        using var resized = new SKBitmap(new SKImageInfo(format.Width, format.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(resized))
        {
            canvas.Clear(SKColors.Black);
            // An immutable bitmap is shared by SKImage.FromBitmap instead of copied (a decoded image is never changed).
            image.SetImmutable();
            using var skImage = SKImage.FromBitmap(image);
            var sampling = source.Width > 2 * contentW || source.Height > 2 * contentH ? Shrinking : Bilinear;
            canvas.DrawImage(skImage, source, new SKRect(0, 0, contentW, contentH), sampling);
        }

        var buffer = ArrayPool<float>.Shared.Rent(format.Length);
        Fill(resized, format, buffer);
        return buffer;
    }

    public static void Return(float[] buffer) => ArrayPool<float>.Shared.Return(buffer);

    private static void Fill(SKBitmap resized, PixelFormat format, float[] buffer)
    {
        var pixels = resized.GetPixelSpan();
        int w = format.Width, h = format.Height, plane = w * h;
        var k = format.Scale / 255f;
        Span<float> mean = stackalloc float[3];
        Span<float> inv = stackalloc float[3];
        for (var c = 0; c < 3; c++)
        {
            mean[c] = format.Mean?[c] ?? 0f;
            inv[c] = format.Std is null ? 1f : 1f / format.Std[c];
        }

        for (var i = 0; i < plane; i++)
        {
            var p = i * 4;
            float r = pixels[p], g = pixels[p + 1], b = pixels[p + 2];
            if (format.Channels == 1)
            {
                buffer[i] = (((0.299f * r) + (0.587f * g) + (0.114f * b)) * k) + format.Offset;
                continue;
            }

            if (format.Bgr)
            {
                (r, b) = (b, r);
            }

            var v0 = (((r * k) + format.Offset) - mean[0]) * inv[0];
            var v1 = (((g * k) + format.Offset) - mean[1]) * inv[1];
            var v2 = (((b * k) + format.Offset) - mean[2]) * inv[2];
            if (format.Nchw)
            {
                buffer[i] = v0;
                buffer[plane + i] = v1;
                buffer[(2 * plane) + i] = v2;
            }
            else
            {
                buffer[i * 3] = v0;
                buffer[(i * 3) + 1] = v1;
                buffer[(i * 3) + 2] = v2;
            }
        }
    }
}
