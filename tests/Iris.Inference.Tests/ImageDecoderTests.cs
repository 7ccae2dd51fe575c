using Iris.Imaging;
using SkiaSharp;

namespace Iris.Inference.Tests;

/// <summary>Decoding applies the colour profile a file embeds (networks read sRGB) and the EXIF orientation.</summary>
public sealed class ImageDecoderTests
{
    private static readonly SKColor Orange = new(200, 100, 50);

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    public void A_display_p3_file_decodes_to_the_srgb_colour_it_shows(SKEncodedImageFormat format)
    {
        // The same orange stored in Display P3: other numbers in the file, the same colour on screen.
        var p3 = SKColorSpace.CreateRgb(SKColorSpaceTransferFn.Srgb, SKColorSpaceXyz.DisplayP3);
        var stored = Encode(Orange, p3, format, out var raw);
        Assert.True(Math.Abs(raw.Red - Orange.Red) + Math.Abs(raw.Green - Orange.Green) + Math.Abs(raw.Blue - Orange.Blue) >= 20, $"P3 numbers {raw} too close to sRGB {Orange} for the test to mean anything");

        using var image = ImageDecoder.TryDecode(stored, out var error)!;
        Assert.Equal(ImageError.None, error);
        var decoded = image.Bitmap.GetPixel(8, 8);
        Assert.InRange(decoded.Red, Orange.Red - 3, Orange.Red + 3);
        Assert.InRange(decoded.Green, Orange.Green - 3, Orange.Green + 3);
        Assert.InRange(decoded.Blue, Orange.Blue - 3, Orange.Blue + 3);
    }

    [Fact]
    public void An_srgb_file_and_a_file_without_profile_keep_their_numbers()
    {
        var stored = Encode(Orange, SKColorSpace.CreateSrgb(), SKEncodedImageFormat.Png, out _);
        using var image = ImageDecoder.TryDecode(stored, out _)!;
        Assert.Equal(Orange, image.Bitmap.GetPixel(3, 3));

        using var plain = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        plain.Erase(Orange);
        using var png = plain.Encode(SKEncodedImageFormat.Png, 100);
        using var decoded = ImageDecoder.TryDecode(png.AsSpan(), out _)!;
        Assert.Equal(Orange, decoded.Bitmap.GetPixel(3, 3));
    }

    /// <summary>A 16 × 16 image of <paramref name="colour"/> (sRGB) stored in <paramref name="space"/>; <paramref name="raw"/> = the numbers in the file.</summary>
    private static byte[] Encode(SKColor colour, SKColorSpace space, SKEncodedImageFormat format, out SKColor raw)
    {
        using var srgb = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Premul, SKColorSpace.CreateSrgb()));
        srgb.Erase(colour);
        using var target = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Premul, space));
        using (var canvas = new SKCanvas(target))
        {
            // Skia converts while drawing: the target holds the colour's numbers in its own space.
            using var img = SKImage.FromBitmap(srgb);
            canvas.DrawImage(img, 0, 0, SKSamplingOptions.Default, null);
        }

        raw = target.GetPixel(8, 8);
        using var data = target.Encode(format, 100);
        return data.ToArray();
    }
}
