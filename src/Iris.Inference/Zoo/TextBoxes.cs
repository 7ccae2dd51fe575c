using SkiaSharp;

namespace Iris.Inference.Zoo;

/// <summary>A quadrilateral in image pixels, corners clockwise from the top-left (as PaddleOCR orders them).</summary>
internal readonly record struct Quad(SKPoint TopLeft, SKPoint TopRight, SKPoint BottomRight, SKPoint BottomLeft)
{
    public SKPoint this[int i] => i switch { 0 => TopLeft, 1 => TopRight, 2 => BottomRight, _ => BottomLeft };

    public float MinX => Math.Min(Math.Min(TopLeft.X, TopRight.X), Math.Min(BottomRight.X, BottomLeft.X));

    public float MaxX => Math.Max(Math.Max(TopLeft.X, TopRight.X), Math.Max(BottomRight.X, BottomLeft.X));

    public float MinY => Math.Min(Math.Min(TopLeft.Y, TopRight.Y), Math.Min(BottomRight.Y, BottomLeft.Y));

    public float MaxY => Math.Max(Math.Max(TopLeft.Y, TopRight.Y), Math.Max(BottomRight.Y, BottomLeft.Y));

    /// <summary>Length of the top and bottom edges, the longer one (the width of the perspective crop).</summary>
    public float Width => Math.Max(SKPoint.Distance(TopLeft, TopRight), SKPoint.Distance(BottomLeft, BottomRight));

    /// <summary>Length of the left and right edges, the longer one.</summary>
    public float Height => Math.Max(SKPoint.Distance(TopLeft, BottomLeft), SKPoint.Distance(TopRight, BottomRight));

    public float MidY => (TopLeft.Y + TopRight.Y + BottomRight.Y + BottomLeft.Y) / 4;
}

/// <summary>A minimum-area rotated rectangle: centre, side lengths and the unit direction of its first side.</summary>
internal readonly record struct RotatedRect(SKPoint Center, float Width, float Height, float CosA, float SinA)
{
    public float ShortSide => Math.Min(Width, Height);

    public SKPoint[] Corners()
    {
        float ux = CosA * Width / 2, uy = SinA * Width / 2, vx = -SinA * Height / 2, vy = CosA * Height / 2;
        return
        [
            new(Center.X - ux - vx, Center.Y - uy - vy),
            new(Center.X + ux - vx, Center.Y + uy - vy),
            new(Center.X + ux + vx, Center.Y + uy + vy),
            new(Center.X - ux + vx, Center.Y - uy + vy),
        ];
    }
}

/// <summary>
/// The geometry of DB (differentiable binarization) post-processing, as PaddleOCR's <c>DBPostProcess</c> and the
/// reference's <c>splitIntoLineImages</c> do it with OpenCV and (py/js-)clipper: connected text regions of the
/// thresholded probability map, their minimum-area rotated rectangles, the unclip offset, and the perspective crop of a
/// line (<c>get_rotate_crop_image</c> / <c>getRotateCropImage</c>). Iris' own implementation.
/// </summary>
internal static class TextBoxes
{
    /// <summary>OpenCV's <c>INTER_CUBIC</c> as a Mitchell–Netravali filter: B = 0, C = 0.75 is Keys' kernel with a = −0.75.</summary>
    private static readonly SKCubicResampler OpenCvCubic = new(0f, 0.75f);

    /// <summary>
    /// For each 8-connected region of <c>map &gt; threshold</c> (at most <paramref name="maxRegions"/>), the convex hull
    /// of its pixel centres (what OpenCV's <c>minAreaRect</c> of its outer contour sees). Only each row's leftmost and
    /// rightmost pixels can be hull vertices, so only they are kept.
    /// </summary>
    public static List<SKPoint[]> RegionHulls(ReadOnlySpan<float> map, int width, int height, float threshold, int maxRegions)
    {
        var labels = new int[width * height];
        var stack = new Stack<int>();
        var count = 0;
        for (var start = 0; start < labels.Length && count < maxRegions; start++)
        {
            if (labels[start] != 0 || map[start] <= threshold)
            {
                continue;
            }

            var label = ++count;
            labels[start] = label;
            stack.Push(start);
            while (stack.Count > 0)
            {
                var p = stack.Pop();
                int x = p % width, y = p / width;
                for (var dy = -1; dy <= 1; dy++)
                {
                    var ny = y + dy;
                    if (ny < 0 || ny >= height)
                    {
                        continue;
                    }

                    for (var dx = -1; dx <= 1; dx++)
                    {
                        var nx = x + dx;
                        if (nx < 0 || nx >= width)
                        {
                            continue;
                        }

                        var q = (ny * width) + nx;
                        if (labels[q] == 0 && map[q] > threshold)
                        {
                            labels[q] = label;
                            stack.Push(q);
                        }
                    }
                }
            }
        }

        // Row extremes per region, in one scan: x grows within a row, so the first pixel seen is the row's minimum.
        var points = new List<SKPoint>[count];
        var rowOf = new int[count];
        var minX = new int[count];
        var maxX = new int[count];
        Array.Fill(rowOf, -1);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var l = labels[(y * width) + x] - 1;
                if (l < 0)
                {
                    continue;
                }

                if (rowOf[l] != y)
                {
                    Flush(l);
                    rowOf[l] = y;
                    minX[l] = x;
                }

                maxX[l] = x;
            }
        }

        for (var l = 0; l < count; l++)
        {
            Flush(l);
        }

        void Flush(int l)
        {
            if (rowOf[l] < 0)
            {
                return;
            }

            var list = points[l] ??= [];
            list.Add(new SKPoint(minX[l], rowOf[l]));
            if (maxX[l] != minX[l])
            {
                list.Add(new SKPoint(maxX[l], rowOf[l]));
            }
        }

        return points.Select(ConvexHull).ToList();
    }

    /// <summary>Andrew's monotone chain; counter-clockwise in y-down pixel coordinates does not matter for the callers.</summary>
    public static SKPoint[] ConvexHull(List<SKPoint> points)
    {
        if (points.Count < 3)
        {
            return [.. points];
        }

        var sorted = points.OrderBy(p => p.X).ThenBy(p => p.Y).ToArray();
        var hull = new SKPoint[sorted.Length * 2];
        var k = 0;
        foreach (var p in sorted)
        {
            while (k >= 2 && Cross(hull[k - 2], hull[k - 1], p) <= 0)
            {
                k--;
            }

            hull[k++] = p;
        }

        for (int i = sorted.Length - 2, lower = k + 1; i >= 0; i--)
        {
            var p = sorted[i];
            while (k >= lower && Cross(hull[k - 2], hull[k - 1], p) <= 0)
            {
                k--;
            }

            hull[k++] = p;
        }

        return hull[..(k - 1)];
    }

    private static float Cross(SKPoint o, SKPoint a, SKPoint b) => ((a.X - o.X) * (b.Y - o.Y)) - ((a.Y - o.Y) * (b.X - o.X));

    /// <summary>Minimum-area enclosing rectangle of a convex hull (rotating calipers: one side lies on a hull edge).</summary>
    public static RotatedRect MinAreaRect(SKPoint[] hull)
    {
        if (hull.Length == 0)
        {
            return default;
        }

        if (hull.Length == 1)
        {
            return new RotatedRect(hull[0], 0, 0, 1, 0);
        }

        var best = default(RotatedRect);
        var bestArea = float.MaxValue;
        for (var i = 0; i < hull.Length; i++)
        {
            var a = hull[i];
            var b = hull[(i + 1) % hull.Length];
            var length = SKPoint.Distance(a, b);
            if (length <= 0)
            {
                continue;
            }

            float cos = (b.X - a.X) / length, sin = (b.Y - a.Y) / length;
            float minU = float.MaxValue, maxU = float.MinValue, minV = float.MaxValue, maxV = float.MinValue;
            foreach (var p in hull)
            {
                var u = (p.X * cos) + (p.Y * sin);
                var v = (-p.X * sin) + (p.Y * cos);
                minU = Math.Min(minU, u);
                maxU = Math.Max(maxU, u);
                minV = Math.Min(minV, v);
                maxV = Math.Max(maxV, v);
            }

            var area = (maxU - minU) * (maxV - minV);
            if (area < bestArea)
            {
                bestArea = area;
                float cu = (minU + maxU) / 2, cv = (minV + maxV) / 2;
                best = new RotatedRect(new SKPoint((cu * cos) - (cv * sin), (cu * sin) + (cv * cos)), maxU - minU, maxV - minV, cos, sin);
            }
        }

        return best;
    }

    /// <summary>
    /// The rectangle's corners in PaddleOCR's <c>get_mini_boxes</c> order: of the two leftmost corners the upper is
    /// first and the lower last; of the two rightmost the upper is second and the lower third.
    /// </summary>
    public static Quad MiniBox(RotatedRect rect)
    {
        var p = rect.Corners().OrderBy(c => c.X).ToArray();
        var (tl, bl) = p[1].Y > p[0].Y ? (p[0], p[1]) : (p[1], p[0]);
        var (tr, br) = p[3].Y > p[2].Y ? (p[2], p[3]) : (p[3], p[2]);
        return new Quad(tl, tr, br, bl);
    }

    /// <summary>
    /// DB's unclip (PaddleOCR <c>DBPostProcess.unclip</c>, then <c>get_mini_boxes</c>): the text kernel the network
    /// predicts was shrunk by <c>area · (1 − r²) / perimeter</c> in training, so the box is offset outwards by
    /// <c>area · ratio / perimeter</c> with round joins, and the offset polygon's minimum-area rectangle is the box grown
    /// by that distance on every side (the arcs lie inside it). Upstream gets there through pyclipper (the reference:
    /// js-clipper), which rounds the offset polygon's vertices to integers and so moves the box by up to half a pixel;
    /// Iris takes the exact rectangle (not emulated: a departure of at most half a pixel, listed in docs/models.md).
    /// </summary>
    public static RotatedRect Unclip(RotatedRect rect, float ratio)
    {
        var perimeter = 2 * (rect.Width + rect.Height);
        var d = perimeter <= 0 ? 0 : rect.Width * rect.Height * ratio / perimeter;
        return rect with { Width = rect.Width + (2 * d), Height = rect.Height + (2 * d) };
    }

    /// <summary>PaddleOCR's <c>order_points_clockwise</c>: top-left has the smallest x + y, bottom-right the largest; of the other two, top-right has the smaller y − x.</summary>
    public static Quad OrderClockwise(ReadOnlySpan<SKPoint> p)
    {
        int tl = 0, br = 0;
        for (var i = 1; i < 4; i++)
        {
            if (p[i].X + p[i].Y < p[tl].X + p[tl].Y)
            {
                tl = i;
            }

            if (p[i].X + p[i].Y > p[br].X + p[br].Y)
            {
                br = i;
            }
        }

        if (tl == br)
        {
            br = (tl + 2) % 4;
        }

        var rest = Enumerable.Range(0, 4).Where(i => i != tl && i != br).ToArray();
        var (a, b) = (p[rest[0]], p[rest[1]]);
        var (tr, bl) = (a.Y - a.X) <= (b.Y - b.X) ? (a, b) : (b, a);
        return new Quad(p[tl], tr, p[br], bl);
    }

    /// <summary>
    /// The 3×3 projective transform (row-major, last element 1) that maps <paramref name="from"/>[i] onto
    /// <paramref name="to"/>[i] for the four corners; solved as the usual 8×8 linear system.
    /// </summary>
    public static SKMatrix Homography(ReadOnlySpan<SKPoint> from, ReadOnlySpan<SKPoint> to)
    {
        var a = new double[8, 9];
        for (var i = 0; i < 4; i++)
        {
            double x = from[i].X, y = from[i].Y, u = to[i].X, v = to[i].Y;
            double[] r1 = [x, y, 1, 0, 0, 0, -u * x, -u * y, u];
            double[] r2 = [0, 0, 0, x, y, 1, -v * x, -v * y, v];
            for (var j = 0; j < 9; j++)
            {
                a[2 * i, j] = r1[j];
                a[(2 * i) + 1, j] = r2[j];
            }
        }

        for (var col = 0; col < 8; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < 8; r++)
            {
                if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = r;
                }
            }

            for (var j = 0; j < 9; j++)
            {
                (a[col, j], a[pivot, j]) = (a[pivot, j], a[col, j]);
            }

            var d = a[col, col];
            if (Math.Abs(d) < 1e-12)
            {
                return SKMatrix.Identity;
            }

            for (var j = col; j < 9; j++)
            {
                a[col, j] /= d;
            }

            for (var r = 0; r < 8; r++)
            {
                if (r == col || a[r, col] == 0)
                {
                    continue;
                }

                var f = a[r, col];
                for (var j = col; j < 9; j++)
                {
                    a[r, j] -= f * a[col, j];
                }
            }
        }

        return new SKMatrix(
            (float)a[0, 8], (float)a[1, 8], (float)a[2, 8],
            (float)a[3, 8], (float)a[4, 8], (float)a[5, 8],
            (float)a[6, 8], (float)a[7, 8], 1f);
    }

    /// <summary>
    /// The line under <paramref name="quad"/> warped upright into its own bitmap, like PaddleOCR's
    /// <c>get_rotate_crop_image</c> and the reference's <c>getRotateCropImage</c>: as wide as the longer of its top and
    /// bottom edges, as high as the longer of its sides (truncated), OpenCV's bicubic (<c>INTER_CUBIC</c>, Keys' cubic
    /// convolution with a = −0.75), edge pixels repeated outside the image (<c>BORDER_REPLICATE</c>); a crop at least 1.5
    /// times higher than wide is turned a quarter counter-clockwise (vertical text read sideways).
    /// </summary>
    public static SKBitmap Crop(SKImage image, Quad quad)
    {
        var w = Math.Max(1, (int)quad.Width);
        var h = Math.Max(1, (int)quad.Height);
        var turn = h >= 1.5f * w;

        SKPoint[] target = turn
            ? [new(0, w), new(0, 0), new(h, 0), new(h, w)]
            : [new(0, 0), new(w, 0), new(w, h), new(0, h)];
        var matrix = Homography([quad.TopLeft, quad.TopRight, quad.BottomRight, quad.BottomLeft], target);
        var (outW, outH) = turn ? (h, w) : (w, h);
        var bitmap = new SKBitmap(new SKImageInfo(outW, outH, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(bitmap);
        using var shader = image.ToShader(SKShaderTileMode.Clamp, SKShaderTileMode.Clamp, new SKSamplingOptions(OpenCvCubic), matrix);
        using var paint = new SKPaint { Shader = shader, BlendMode = SKBlendMode.Src };
        canvas.DrawRect(0, 0, outW, outH, paint);
        return bitmap;
    }
}
