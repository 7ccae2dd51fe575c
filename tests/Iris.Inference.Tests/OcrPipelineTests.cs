using Iris.Imaging;
using Iris.Inference.Zoo;
using SkiaSharp;

namespace Iris.Inference.Tests;

/// <summary>
/// The pieces of the OCR pipeline (the reference @gutenye/ocr-node's PaddleOCR port) that Iris re-implements, each
/// against a worked case: the detector's input size and placement, DB boxes (rotated rectangle, unclip, mapping back),
/// the perspective crop, the recognizer's widths, CTC decoding and line grouping.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class OcrPipelineTests(EngineFixture fixture)
{
    [Theory]
    [InlineData(800, 718, 800, 736)] // no shrinking below 960; 718 / 32 = 22.4 → 23 × 32 (the next multiple)
    [InlineData(1920, 1080, 960, 544)] // longer side to 960 first: 540 → 16.9 → 17 × 32
    [InlineData(20, 10, 32, 32)] // at least 32
    [InlineData(330, 48, 352, 64)] // 10.3 → 11; 1.5 → 2
    [InlineData(205, 70, 224, 96)]
    public void The_detector_reads_the_image_enlarged_to_the_next_multiples_of_32(int w, int h, int dw, int dh)
    {
        Assert.Equal((dw, dh), OcrModel.DetectorSize(w, h));
    }

    [Fact]
    public void The_detector_input_holds_the_image_with_its_aspect_kept_centred_on_black()
    {
        // 205 × 70 into 224 × 96 (sharp's fit: 'contain'): scale min(224 / 205, 96 / 70) = 1.0927, content 224 × 76
        // (76.5 rounded), centred: 10 rows of black above and below. The source rectangle, in image pixels, reaches
        // 10 input rows above the image and covers it all across.
        var source = OcrModel.DetectorPlacement(205, 70, 224, 96);
        Assert.Equal(0f, source.Left, 3);
        Assert.Equal(205f, source.Right, 3);
        var sy = 70f / 76;
        Assert.Equal(-10 * sy, source.Top, 3);
        Assert.Equal((96 - 10) * sy, source.Bottom, 3);

        // A map pixel maps back through it: the content's first row is the image's row 0.
        var map = new float[224 * 96];
        for (var y = 40; y < 60; y++)
        {
            for (var x = 50; x < 150; x++)
            {
                map[(y * 224) + x] = 0.9f;
            }
        }

        var quad = Assert.Single(OcrModel.BoxesFromMap(map, 224, 96, source, 205, 70));
        // The hull of the pixel centres (rows 40..59, 99 × 19) grown by the unclip, d = 99 · 19 · 1.5 / 236 ≈ 11.96,
        // minus the 10 padding rows, in image pixels.
        Assert.InRange(quad.MinY, ((40 - 11.96f - 10) * sy) - 1, ((40 - 11.96f - 10) * sy) + 1);
        Assert.InRange(quad.MaxY, ((59 + 11.96f - 10) * sy) - 1, ((59 + 11.96f - 10) * sy) + 1);
    }

    [Fact]
    public void Each_line_is_read_48_high_at_the_width_of_its_own_aspect_ratio()
    {
        using var wide = new SKBitmap(100, 20);
        using var small = new SKBitmap(7, 30);
        using var tiny = new SKBitmap(1, 200);
        // 48 · 5 = 240; 48 · 7 / 30 = 11.2 → 11; never 0. No 320 minimum and no shared batch width.
        Assert.Equal([240, 11, 1], OcrModel.RecognizerWidths([wide, small, tiny]));
    }

    [Fact]
    public void A_tilted_text_kernel_becomes_a_rotated_box_grown_by_the_unclip_distance_and_mapped_to_the_image()
    {
        // A 100 × 10 bar tilted by 10° in a 200 × 100 probability map, probability 0.9; the image is twice as large.
        const int W = 200, H = 100;
        var map = new float[W * H];
        var angle = 10 * MathF.PI / 180;
        for (var y = 0; y < H; y++)
        {
            for (var x = 0; x < W; x++)
            {
                float dx = x - 100, dy = y - 50;
                var u = (dx * MathF.Cos(angle)) + (dy * MathF.Sin(angle));
                var v = (-dx * MathF.Sin(angle)) + (dy * MathF.Cos(angle));
                if (MathF.Abs(u) <= 50 && MathF.Abs(v) <= 5)
                {
                    map[(y * W) + x] = 0.9f;
                }
            }
        }

        var quad = Assert.Single(OcrModel.BoxesFromMap(map, W, H, new SKRect(0, 0, 2 * W, 2 * H), 2 * W, 2 * H));
        // Unclip: d = area · 1.5 / perimeter ≈ 100 · 10 · 1.5 / 220 ≈ 6.8 map pixels on each side.
        var top = SKPoint.Distance(quad.TopLeft, quad.TopRight) / 2;
        var side = SKPoint.Distance(quad.TopLeft, quad.BottomLeft) / 2;
        Assert.InRange(top, 110, 118);
        Assert.InRange(side, 21, 28);
        var slope = MathF.Atan2(quad.TopRight.Y - quad.TopLeft.Y, quad.TopRight.X - quad.TopLeft.X) * 180 / MathF.PI;
        Assert.InRange(slope, 8.5f, 11.5f);
        var centre = new SKPoint((quad.TopLeft.X + quad.BottomRight.X) / 2, (quad.TopLeft.Y + quad.BottomRight.Y) / 2);
        Assert.InRange(centre.X, 197, 203);
        Assert.InRange(centre.Y, 97, 103);
    }

    [Fact]
    public void A_bending_line_is_kept_whatever_share_of_its_rectangle_it_fills()
    {
        // A 6 px band sagging by 26 px over 160 px (a line on a page that bends away), probability 0.9: its minimum-area
        // rectangle is about 160 × 32 and mostly background. PaddleOCR's Python would score it by the rectangle's mean
        // (≈ 0.17, under its box threshold 0.6) and drop it; the reference has no box score.
        const int W = 200, H = 100;
        var map = new float[W * H];
        for (var x = 20; x <= 180; x++)
        {
            var top = 30 + (int)MathF.Round(0.004f * (x - 100) * (x - 100));
            for (var y = top; y < top + 6; y++)
            {
                map[(y * W) + x] = 0.9f;
            }
        }

        // Kept, and unclipped like any box: 160 × 31 grown by 160 · 31 · 1.5 / 382 ≈ 19.5 on every side.
        var quad = Assert.Single(OcrModel.BoxesFromMap(map, W, H, new SKRect(0, 0, W, H), W, H));
        Assert.InRange(quad.Width, 192, 204);
        Assert.InRange(quad.Height, 64, 75);
    }

    [Fact]
    public void Thin_regions_and_probabilities_up_to_the_threshold_are_not_boxes_and_weak_ones_above_it_are()
    {
        const int W = 64, H = 48;
        var map = new float[W * H];
        for (var x = 5; x < 60; x++)
        {
            map[(3 * W) + x] = 0.9f; // one pixel high: short side < 3
            for (var y = 12; y < 22; y++)
            {
                map[(y * W) + x] = OcrModel.PixelThreshold; // not above the threshold: background
            }

            for (var y = 30; y < 40; y++)
            {
                map[(y * W) + x] = 0.05f; // weak, but above 0.03 and no box score: a box
            }
        }

        var quad = Assert.Single(OcrModel.BoxesFromMap(map, W, H, new SKRect(0, 0, W, H), W, H));
        Assert.InRange(quad.MidY, 33, 36);
    }

    [Fact]
    public void The_homography_maps_the_four_corners()
    {
        SKPoint[] from = [new(10, 20), new(110, 35), new(105, 70), new(8, 52)];
        SKPoint[] to = [new(0, 0), new(100, 0), new(100, 32), new(0, 32)];
        var m = TextBoxes.Homography(from, to);
        for (var i = 0; i < 4; i++)
        {
            var p = m.MapPoint(from[i]);
            Assert.InRange(p.X, to[i].X - 0.01f, to[i].X + 0.01f);
            Assert.InRange(p.Y, to[i].Y - 0.01f, to[i].Y + 0.01f);
        }
    }

    [Fact]
    public void Ctc_decoding_collapses_repeats_skips_blanks_and_keeps_the_space()
    {
        string[] alphabet = ["a", "b", " "];
        // Steps a, a (repeat: dropped), blank, a (after a blank: kept), b, space, b, b (repeat) → "aab b".
        float[] best = [1, 0.9f, 1, 0.8f, 0, 0.99f, 1, 0.7f, 2, 0.6f, 3, 0.5f, 2, 0.4f, 2, 0.3f];
        var (text, confidence) = OcrModel.Decode(best, alphabet);
        Assert.Equal("aab b", text);
        Assert.Equal((0.9f + 0.7f + 0.6f + 0.5f + 0.4f) / 5, confidence, 4);
        Assert.Equal((string.Empty, 0f), OcrModel.Decode([0, 0.9f, 0, 0.9f], alphabet));
    }

    [Fact]
    public void Words_on_one_row_join_into_a_line_columns_stay_apart_and_an_empty_read_is_kept()
    {
        static OcrModel.ReadBox Box(float x, float y, float w, string text, float confidence = 0.9f) =>
            new(new Quad(new(x, y), new(x + w, y), new(x + w, y + 20), new(x, y + 20)), text, confidence);

        var lines = OcrModel.Lines(
        [
            Box(10, 10, 60, "Hello"),
            Box(80, 12, 60, "world"), // 10 px gap on the same row
            Box(400, 10, 60, "Far"), // a column 260 px away
            Box(10, 60, 90, "Second"),
            Box(10, 110, 90, string.Empty, 0f), // detected, read as nothing
            Box(10, 160, 90, "noise", 0.3f), // read below the drop score
        ]);

        Assert.Equal(["Hello world", "Far", "Second", string.Empty], lines.Select(l => l.Text).ToArray());
        Assert.Equal(0f, lines[3].Confidence);
    }

    [Fact]
    public async Task Ocr_regions_carry_the_line_polygon_and_tilted_lines_read_whole()
    {
        // One line tilted by 8°: the polygon follows the tilt, the bounding box encloses it.
        using var bitmap = new SKBitmap(700, 260);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            using var typeface = SKTypeface.FromFile(Path.Combine(Repo.NodeModules, "@fontsource/roboto/files/roboto-latin-400-normal.woff"));
            using var font = new SKFont(typeface, 40);
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.RotateDegrees(8, 350, 130);
            canvas.DrawText("Tilted line of text 42", 130, 145, SKTextAlign.Left, font, paint);
        }

        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var image = ImageDecoder.TryDecode(png.AsSpan(), out _)!;
        var data = await new ModelZoo().Find(OcrModel.Id)!.PredictAsync(image, fixture.Engine, CancellationToken.None);
        var region = Assert.Single(data.Regions);
        Assert.Equal("Tilted line of text 42", region.Data.Text.Raw);
        Assert.True(region.Value >= 0.9f, $"confidence {region.Value}");
        var points = region.RegionInfo.Polygon.Points;
        Assert.Equal(4, points.Count);
        // Top edge slopes down to the right by about 8° (in pixels).
        var slope = MathF.Atan2((points[1].Row - points[0].Row) * 260, (points[1].Col - points[0].Col) * 700) * 180 / MathF.PI;
        Assert.InRange(slope, 6f, 10f);
        var box = region.RegionInfo.BoundingBox;
        Assert.All(points, p =>
        {
            Assert.InRange(p.Row, box.TopRow - 0.001f, box.BottomRow + 0.001f);
            Assert.InRange(p.Col, box.LeftCol - 0.001f, box.RightCol + 0.001f);
        });
    }
}
