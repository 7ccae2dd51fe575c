using SkiaSharp;

namespace Iris.Imaging;

/// <summary>Why bytes could not become an image; callers map each to its Clarifai status (30101, 30105, …).</summary>
public enum ImageError
{
    None,

    /// <summary>The bytes are no image format Iris decodes (JPEG, PNG, WebP, GIF, BMP, ICO, WBMP, HEIF where the platform has it).</summary>
    UnsupportedFormat,

    /// <summary>The header is an image's, the pixels are not (truncated or corrupt).</summary>
    Corrupt,

    /// <summary>More pixels than <see cref="ImageDecoder.MaxPixels"/>.</summary>
    TooManyPixels,
}

/// <summary>A decoded image, upright (EXIF orientation applied), in 8-bit sRGB RGBA (embedded colour profiles applied). Owns its pixels: dispose it.</summary>
public sealed class DecodedImage : IDisposable
{
    internal DecodedImage(SKBitmap bitmap, string format, int fullWidth, int fullHeight)
    {
        Bitmap = bitmap;
        Format = format;
        FullWidth = fullWidth;
        FullHeight = fullHeight;
    }

    /// <summary>Upright pixels, <see cref="SKColorType.Rgba8888"/>, premultiplication irrelevant (opaque or unpremul).</summary>
    public SKBitmap Bitmap { get; }

    public int Width => Bitmap.Width;

    public int Height => Bitmap.Height;

    /// <summary>Upright width of the encoded image; larger than <see cref="Width"/> when it was decoded at a reduced scale.</summary>
    public int FullWidth { get; }

    /// <summary>Upright height of the encoded image.</summary>
    public int FullHeight { get; }

    /// <summary>Encoded format as Clarifai reports it in <c>image_info.format</c>: JPEG, PNG, WEBP, GIF, BMP, …</summary>
    public string Format { get; }

    /// <summary>
    /// A copy of the pixels inside <paramref name="area"/> (clipped to the image; null when nothing of it is inside) as an
    /// image of its own, owned by the caller: what a workflow hands the nodes fed by a detector. Its full size is its size.
    /// </summary>
    public DecodedImage? Crop(SKRectI area)
    {
        var clipped = SKRectI.Intersect(area, new SKRectI(0, 0, Width, Height));
        if (clipped.Width <= 0 || clipped.Height <= 0)
        {
            return null;
        }

        var crop = new SKBitmap();
        if (!Bitmap.ExtractSubset(crop, clipped))
        {
            crop.Dispose();
            return null;
        }

        // ExtractSubset shares the pixels; the crop must outlive this image, so it gets its own copy.
        var owned = crop.Copy();
        crop.Dispose();
        return new DecodedImage(owned, Format, owned.Width, owned.Height);
    }

    public void Dispose() => Bitmap.Dispose();
}

/// <summary>
/// Decodes encoded images once, with SkiaSharp, applying EXIF orientation and converting from an embedded ICC colour
/// profile to sRGB. Content is sniffed from the bytes, never trusted from a name or a content type.
/// </summary>
public static class ImageDecoder
{
    private static readonly SKColorSpace Srgb = SKColorSpace.CreateSrgb();

    /// <summary>Largest image accepted, in pixels (85 megapixels, Clarifai's limit); ~340 MB of RGBA at the limit.</summary>
    public const long MaxPixels = 85_000_000;

    /// <summary>The encoded format of <paramref name="bytes"/>, or null when they are no image Iris decodes.</summary>
    public static string? Sniff(ReadOnlySpan<byte> bytes)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        return codec is null ? null : FormatName(codec.EncodedFormat);
    }

    public static DecodedImage? TryDecode(ReadOnlySpan<byte> bytes, out ImageError error) => TryDecode(bytes, 0, out error);

    /// <summary>
    /// Decodes at the smallest scale the codec supports (JPEG: eighths, in the DCT) that keeps both sides at least
    /// <paramref name="minSide"/> pixels — far cheaper for a large photo feeding a small network. 0 = full size.
    /// </summary>
    public static DecodedImage? TryDecode(ReadOnlySpan<byte> bytes, int minSide, out ImageError error) => TryDecode(bytes, minSide, 0, out error);

    /// <summary>
    /// As <see cref="TryDecode(ReadOnlySpan{byte}, int, out ImageError)"/>; with <paramref name="fitSide"/> above 0 a JPEG is
    /// instead reduced as sharp (libvips) reduces it on load before resizing it to fit <paramref name="fitSide"/> ×
    /// <paramref name="fitSide"/> with its aspect ratio kept — the decode of the TensorFlow.js references the detectors
    /// are compared with (sharp 0.33 <c>src/pipeline.cc</c> shrink-on-load, libvips 8.15 <c>jpeg2vips.c</c>): by 2, 4 or
    /// 8 in the DCT, the largest not above the shrink factor and halved when it equals the factor's integer part, then
    /// the partial last row and column dropped (libvips rounds the size down where libjpeg rounds it up); no shrink for
    /// an image stored rotated (EXIF), which sharp turns first. <paramref name="minSide"/> is then ignored.
    /// </summary>
    public static DecodedImage? TryDecode(ReadOnlySpan<byte> bytes, int minSide, int fitSide, out ImageError error)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null)
        {
            error = ImageError.UnsupportedFormat;
            return null;
        }

        var info = codec.Info;
        if ((long)info.Width * info.Height > MaxPixels)
        {
            error = ImageError.TooManyPixels;
            return null;
        }

        var (size, keep) = fitSide > 0 ? FitSize(codec, fitSide) : (ScaledSize(codec, minSide), default);
        // Pixels are converted to sRGB from the colour profile the file embeds (ICC in JPEG APP2, PNG iCCP, WebP ICCP),
        // which is what the networks were trained on; a file without a profile is taken as sRGB and left as it is.
        var target = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul, Srgb);
        var bitmap = new SKBitmap(target);
        var result = codec.GetPixels(target, bitmap.GetPixels());
        // A truncated file decodes partly (grey below the cut, IncompleteInput); Iris refuses it rather than keep half an image.
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            error = ImageError.Corrupt;
            return null;
        }

        if (keep.Width > 0 && (keep.Width < size.Width || keep.Height < size.Height))
        {
            using var whole = bitmap;
            using var part = new SKBitmap();
            bitmap = whole.ExtractSubset(part, new SKRectI(0, 0, keep.Width, keep.Height)) ? part.Copy() : throw new InvalidOperationException("cannot crop the decoded image");
        }

        var upright = Orient(bitmap, codec.EncodedOrigin);
        var swapped = SwapsSides(codec.EncodedOrigin);
        error = ImageError.None;
        return new DecodedImage(upright, FormatName(codec.EncodedFormat), swapped ? info.Height : info.Width, swapped ? info.Width : info.Height);
    }

    private static SKSizeI ScaledSize(SKCodec codec, int minSide)
    {
        var full = codec.Info.Size;
        var shortest = Math.Min(full.Width, full.Height);
        if (minSide <= 0 || shortest <= minSide)
        {
            return full;
        }

        // The codec rounds a desired scale to one it supports; keep the smallest whose short side still reaches minSide.
        var best = full;
        for (var eighths = 7; eighths >= 1; eighths--)
        {
            var candidate = codec.GetScaledDimensions(eighths / 8f);
            if (Math.Min(candidate.Width, candidate.Height) < minSide)
            {
                break;
            }

            best = candidate;
        }

        return best;
    }

    /// <summary>
    /// The size sharp resizes a <paramref name="width"/> × <paramref name="height"/> image to when it fits it into
    /// <paramref name="side"/> × <paramref name="side"/> with its aspect ratio kept: each side scaled by side ÷ the longer
    /// one and rounded half away from zero, at least 1.
    /// </summary>
    public static (int Width, int Height) Fitted(int width, int height, int side)
    {
        var scale = (double)side / Math.Max(width, height);
        return (Math.Max(1, (int)Math.Round(width * scale, MidpointRounding.AwayFromZero)), Math.Max(1, (int)Math.Round(height * scale, MidpointRounding.AwayFromZero)));
    }

    /// <summary>sharp's JPEG shrink-on-load before a fit into <paramref name="fitSide"/>²: the size to decode and the part to keep.</summary>
    private static (SKSizeI Decode, SKSizeI Keep) FitSize(SKCodec codec, int fitSide)
    {
        var full = codec.Info.Size;
        if (codec.EncodedFormat != SKEncodedImageFormat.Jpeg || codec.EncodedOrigin is not (SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default))
        {
            return (full, full);
        }

        var (w, h) = Fitted(full.Width, full.Height, fitSide);
        var shrink = Math.Min((double)full.Width / w, (double)full.Height / h);
        var by = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
        if (by > 1 && (int)shrink == by)
        {
            by /= 2; // sharp: "lower shrink-on-load for known libjpeg rounding errors"
        }

        return by == 1 ? (full, full) : (codec.GetScaledDimensions(1f / by), new SKSizeI(full.Width / by, full.Height / by));
    }

    private static string FormatName(SKEncodedImageFormat format) => format switch
    {
        SKEncodedImageFormat.Jpeg => "JPEG",
        SKEncodedImageFormat.Png => "PNG",
        SKEncodedImageFormat.Webp => "WEBP",
        SKEncodedImageFormat.Gif => "GIF",
        SKEncodedImageFormat.Bmp => "BMP",
        SKEncodedImageFormat.Ico => "ICO",
        SKEncodedImageFormat.Wbmp => "WBMP",
        SKEncodedImageFormat.Heif => "HEIF",
        SKEncodedImageFormat.Avif => "AVIF",
        _ => format.ToString().ToUpperInvariant(),
    };

    /// <summary>Whether the orientation turns the stored image by 90° (width and height trade places).</summary>
    private static bool SwapsSides(SKEncodedOrigin origin) =>
        origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    private static SKBitmap Orient(SKBitmap bitmap, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default)
        {
            return bitmap;
        }

        var swap = SwapsSides(origin);
        var width = swap ? bitmap.Height : bitmap.Width;
        var height = swap ? bitmap.Width : bitmap.Height;
        var rotated = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul, Srgb));
        using (var canvas = new SKCanvas(rotated))
        {
            canvas.SetMatrix(OriginMatrix(origin, bitmap.Width, bitmap.Height));
            using var image = SKImage.FromBitmap(bitmap);
            canvas.DrawImage(image, 0, 0, SKSamplingOptions.Default, null);
        }

        bitmap.Dispose();
        return rotated;
    }

    // Maps the stored pixels onto the upright canvas (EXIF orientation values 2–8).
    private static SKMatrix OriginMatrix(SKEncodedOrigin origin, int w, int h) => origin switch
    {
        SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
        SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
        SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
        SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
        SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
        SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
        SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
        _ => SKMatrix.Identity,
    };
}
