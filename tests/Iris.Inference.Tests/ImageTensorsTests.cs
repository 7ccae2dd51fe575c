using Iris.Imaging;
using Iris.Inference.Engine;
using SkiaSharp;

namespace Iris.Inference.Tests;

/// <summary>The resampler that turns decoded pixels into network input: values, layouts, letterboxing, crops off the image.</summary>
public sealed class ImageTensorsTests
{
    private static SKBitmap Bitmap(int width, int height, Func<int, int, SKColor> color)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, color(x, y));
            }
        }

        return bitmap;
    }

    private static float[] Run(SKBitmap image, SKRect source, PixelFormat format, bool letterbox, out Placement placement)
    {
        var rented = ImageTensors.Rent(image, source, format, letterbox, out placement);
        var copy = rented.AsSpan(0, format.Length).ToArray();
        ImageTensors.Return(rented);
        return copy;
    }

    [Fact]
    public void A_flat_colour_stays_exact_at_every_size_including_the_edges()
    {
        using var image = Bitmap(97, 61, (_, _) => new SKColor(200, 100, 50));
        foreach (var size in new[] { 16, 61, 97, 224 })
        {
            var values = Run(image, new SKRect(0, 0, 97, 61), new PixelFormat(size, size, 3, Nchw: false, Scale: 255f, Offset: 0f), false, out _);
            for (var i = 0; i < values.Length; i += 3)
            {
                Assert.Equal(200f, values[i], 0.01f);
                Assert.Equal(100f, values[i + 1], 0.01f);
                Assert.Equal(50f, values[i + 2], 0.01f);
            }
        }
    }

    [Fact]
    public void Shrinking_averages_the_pixels_each_output_covers()
    {
        // Vertical stripes one pixel wide, black and white: halving the width must give grey, not aliased stripes.
        using var image = Bitmap(64, 8, (x, _) => x % 2 == 0 ? SKColors.Black : SKColors.White);
        var values = Run(image, new SKRect(0, 0, 64, 8), new PixelFormat(16, 8, 1, Nchw: false, Scale: 1f, Offset: 0f), false, out _);
        Assert.All(values, v => Assert.InRange(v, 0.45f, 0.55f));
    }

    [Fact]
    public void Enlarging_interpolates_between_neighbours()
    {
        using var image = Bitmap(2, 1, (x, _) => x == 0 ? SKColors.Black : SKColors.White);
        var values = Run(image, new SKRect(0, 0, 2, 1), new PixelFormat(8, 1, 1, Nchw: false, Scale: 1f, Offset: 0f), false, out _);
        // Ends keep the edge pixels, the middle ramps up monotonically.
        Assert.Equal(0f, values[0], 0.001f);
        Assert.Equal(1f, values[7], 0.001f);
        for (var i = 1; i < 8; i++)
        {
            Assert.True(values[i] >= values[i - 1], $"not monotonic at {i}: {string.Join(", ", values)}");
        }

        Assert.InRange(values[3], 0.3f, 0.5f);
    }

    [Fact]
    public void Lanczos3_keeps_pixels_at_the_same_size_flat_colours_everywhere_and_clamps_its_overshoot()
    {
        // sharp's default kernel, which the OCR reference resizes with: at 1:1 every tap but the pixel itself weighs 0.
        using var noise = Bitmap(23, 11, (x, y) => new SKColor((byte)((x * 37) + (y * 91)), (byte)(x * y), (byte)(255 - (x * 11))));
        var format = new PixelFormat(23, 11, 3, Nchw: false, Scale: 255f, Offset: 0f, Filter: ResampleFilter.Lanczos3);
        var same = Run(noise, new SKRect(0, 0, 23, 11), format, false, out _);
        for (var y = 0; y < 11; y++)
        {
            for (var x = 0; x < 23; x++)
            {
                var p = noise.GetPixel(x, y);
                var i = ((y * 23) + x) * 3;
                Assert.Equal(p.Red, same[i], 0.01f);
                Assert.Equal(p.Green, same[i + 1], 0.01f);
                Assert.Equal(p.Blue, same[i + 2], 0.01f);
            }
        }

        using var flat = Bitmap(97, 61, (_, _) => new SKColor(200, 100, 50));
        foreach (var size in new[] { 16, 61, 224 })
        {
            var values = Run(flat, new SKRect(0, 0, 97, 61), format with { Width = size, Height = size }, false, out _);
            Assert.All(values.Chunk(3), v => Assert.Equal([200f, 100f, 50f], v.Select(c => MathF.Round(c, 2)).ToArray()));
        }

        // A black-to-white step enlarged 8×: the lobes ring, but values stay within 0..255; more than three source
        // pixels from the step the output is flat again.
        using var step = Bitmap(12, 1, (x, _) => x < 6 ? SKColors.Black : SKColors.White);
        var ramp = Run(step, new SKRect(0, 0, 12, 1), new PixelFormat(96, 1, 1, Nchw: false, Scale: 1f, Offset: 0f, Filter: ResampleFilter.Lanczos3), false, out _);
        Assert.All(ramp, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(0f, ramp[0], 0.001f);
        Assert.Equal(0f, ramp[24], 0.001f);
        Assert.Equal(1f, ramp[95], 0.001f);
        Assert.InRange(ramp[48], 0.5f, 1f);
    }

    [Fact]
    public void Layout_channel_order_and_normalization_follow_the_pixel_format()
    {
        using var image = Bitmap(4, 4, (_, _) => new SKColor(255, 0, 51));
        var mean = new[] { 0.5f, 0.25f, 0.1f };
        var std = new[] { 0.5f, 0.25f, 0.2f };
        var nchwBgr = Run(image, new SKRect(0, 0, 4, 4), new PixelFormat(4, 4, 3, Nchw: true, Scale: 1f, Offset: 0f, Bgr: true, Mean: mean, Std: std), false, out _);
        // Channel 0 is blue (0.2 → (0.2−0.5)/0.5), 1 green (0 → −1), 2 red (1 → (1−0.1)/0.2), each a 16-value plane.
        Assert.All(nchwBgr[..16], v => Assert.Equal(-0.6f, v, 0.001f));
        Assert.All(nchwBgr[16..32], v => Assert.Equal(-1f, v, 0.001f));
        Assert.All(nchwBgr[32..], v => Assert.Equal(4.5f, v, 0.001f));

        var nhwc = Run(image, new SKRect(0, 0, 4, 4), new PixelFormat(4, 4, 3, Nchw: false, Scale: 2f, Offset: -1f), false, out _);
        Assert.Equal(1f, nhwc[0], 0.001f);
        Assert.Equal(-1f, nhwc[1], 0.001f);
        Assert.Equal(-0.6f, nhwc[2], 0.001f);

        var grey = Run(image, new SKRect(0, 0, 4, 4), new PixelFormat(4, 4, 1, Nchw: false, Scale: 1f, Offset: 0f), false, out _);
        Assert.All(grey, v => Assert.Equal((0.299f * 255 + 0.114f * 51) / 255f, v, 0.001f));
    }

    [Fact]
    public void Letterboxing_keeps_the_aspect_ratio_top_left_and_pads_with_black()
    {
        using var image = Bitmap(200, 100, (_, _) => SKColors.White);
        var values = Run(image, new SKRect(0, 0, 200, 100), new PixelFormat(64, 64, 1, Nchw: false, Scale: 2f, Offset: -1f), true, out var placement);
        Assert.Equal(64f, placement.ContentWidth);
        Assert.Equal(32f, placement.ContentHeight);
        Assert.All(values[..(64 * 32)], v => Assert.Equal(1f, v, 0.001f));
        Assert.All(values[(64 * 32)..], v => Assert.Equal(-1f, v, 0.001f));
    }

    [Fact]
    public void A_crop_reaching_off_the_image_reads_black_outside_it()
    {
        using var image = Bitmap(10, 10, (_, _) => SKColors.White);
        // The square crop's left half lies left of the image.
        var values = Run(image, new SKRect(-10, 0, 10, 20), new PixelFormat(20, 20, 1, Nchw: false, Scale: 1f, Offset: 0f), false, out _);
        for (var y = 0; y < 20; y++)
        {
            for (var x = 0; x < 20; x++)
            {
                var inside = x >= 10 && y < 10;
                var v = values[(y * 20) + x];
                if (x is 9 or 10 || y is 9 or 10)
                {
                    continue; // the boundary blends
                }

                Assert.Equal(inside ? 1f : 0f, v, 0.001f);
            }
        }
    }

    [Fact]
    public void A_large_jpeg_decodes_at_the_smallest_scale_that_keeps_the_short_side()
    {
        var bytes = File.ReadAllBytes(Repo.FaceDetect); // 800 × 718
        using var full = ImageDecoder.TryDecode(bytes, 0, out _)!;
        Assert.Equal((800, 718, 800, 718), (full.Width, full.Height, full.FullWidth, full.FullHeight));

        // 256 fits in 3/8 (300 × 270); 224 too; 700 needs the full size (7/8 would give 628 rows).
        using var small = ImageDecoder.TryDecode(bytes, 256, out _)!;
        Assert.Equal((300, 270, 800, 718), (small.Width, small.Height, small.FullWidth, small.FullHeight));
        using var large = ImageDecoder.TryDecode(bytes, 700, out _)!;
        Assert.Equal((800, 718), (large.Width, large.Height));

        // A PNG has no scaled decoding: full size whatever is asked.
        using var png = full.Bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var fromPng = ImageDecoder.TryDecode(png.AsSpan(), 64, out _)!;
        Assert.Equal((800, 718), (fromPng.Width, fromPng.Height));
    }
}

/// <summary>Mask regions: the probability map stretched to the image, its value and its concept.</summary>
public sealed class MaskTests
{
    [Fact]
    public void The_mask_is_the_map_stretched_to_the_image_with_edges_kept()
    {
        // Left half out, right half in.
        float[] map = [0f, 1f, 0f, 1f];
        var region = Iris.Inference.Zoo.Masks.Region(map, 2, 2, 8, 3, peak => new Clarifai.Api.Concept { Id = "thing", Value = peak })!;
        Assert.Equal(0.5f, region.Value);
        Assert.Equal(1f, region.Data.Concepts[0].Value);
        var image = region.RegionInfo.Mask.Image;
        Assert.Equal((8u, 3u, "PNG"), ((uint)image.ImageInfo.Width, (uint)image.ImageInfo.Height, image.ImageInfo.Format));
        using var png = SKBitmap.Decode(image.Base64.ToByteArray());
        for (var y = 0; y < 3; y++)
        {
            var row = Enumerable.Range(0, 8).Select(x => (int)png.GetPixel(x, y).Red).ToArray();
            Assert.Equal([0, 0, 32, 96, 159, 223, 255, 255], row);
        }
    }

    [Fact]
    public void A_wide_mask_is_the_bilinear_stretch_of_the_map_in_every_pixel()
    {
        // 3 × 3 map (values outside 0..1 clamped) to 101 × 37: wide enough for the vectorized rows and their scalar tail.
        float[] map = [0f, 0.5f, 1.2f, 1f, -0.3f, 0.25f, 0.75f, 0.1f, 0.9f];
        var region = Iris.Inference.Zoo.Masks.Region(map, 3, 3, 101, 37, _ => new Clarifai.Api.Concept())!;
        using var png = SKBitmap.Decode(region.RegionInfo.Mask.Image.Base64.ToByteArray());
        Assert.Equal((101, 37, SKColorType.Gray8), (png.Width, png.Height, png.ColorType));
        static double Coordinate(int i, int from, int to) => Math.Clamp(((i + 0.5) * from / to) - 0.5, 0, from - 1);
        double At(int x, int y) => Math.Clamp(map[(y * 3) + x], 0, 1);
        var worst = 0.0;
        for (var y = 0; y < 37; y++)
        {
            for (var x = 0; x < 101; x++)
            {
                var sx = Coordinate(x, 3, 101);
                var sy = Coordinate(y, 3, 37);
                int x0 = Math.Min((int)sx, 1), y0 = Math.Min((int)sy, 1);
                double fx = sx - x0, fy = sy - y0;
                var top = At(x0, y0) + ((At(x0 + 1, y0) - At(x0, y0)) * fx);
                var bottom = At(x0, y0 + 1) + ((At(x0 + 1, y0 + 1) - At(x0, y0 + 1)) * fx);
                var expected = (top + ((bottom - top) * fy)) * 255;
                worst = Math.Max(worst, Math.Abs(png.GetPixel(x, y).Red - expected));
            }
        }

        // Rounded to the nearest byte (float arithmetic: at most a hair over half a level).
        Assert.True(worst <= 0.51, $"largest difference {worst}");
    }

    [Fact]
    public void An_empty_map_gives_no_region()
    {
        Assert.Null(Iris.Inference.Zoo.Masks.Region(new float[16], 4, 4, 10, 10, _ => new Clarifai.Api.Concept()));
    }
}
