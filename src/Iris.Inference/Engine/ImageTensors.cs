using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
/// <param name="PadValue">
/// The network value written outside the content (after normalization), or null for a black pixel's value. PaddleOCR's
/// recognizer pads its lines with 0.0 after normalizing (mid-grey), not with black.
/// </param>
/// <param name="Filter">The resampling filter (see <see cref="ResampleFilter"/>).</param>
public sealed record PixelFormat(int Width, int Height, int Channels, bool Nchw, float Scale, float Offset, bool Bgr = false, float[]? Mean = null, float[]? Std = null, float? PadValue = null, ResampleFilter Filter = ResampleFilter.Triangle)
{
    public int Length => Width * Height * Channels;
}

/// <summary>How <see cref="ImageTensors"/> weighs source pixels; both widen with the shrink factor (antialiasing).</summary>
public enum ResampleFilter
{
    /// <summary>Triangle (tent): bilinear when enlarging, area-weighted when shrinking; never overshoots.</summary>
    Triangle,

    /// <summary>
    /// Catmull-Rom cubic (Keys, a = −0.5), twice the triangle's support, values clamped to 0..255: libvips' (sharp's)
    /// <c>cubic</c> kernel that the TensorFlow.js references of BlazeFace and CenterNet resize with, shrinking as
    /// libvips' reduce does (see <c>Taps.For</c>). Tiny details (faces ~10 px in the network input) keep their contrast,
    /// where the triangle blurs them.
    /// </summary>
    CatmullRom,

    /// <summary>
    /// Lanczos with three lobes, three times the triangle's support, values clamped to 0..255: libvips' (sharp's)
    /// default <c>lanczos3</c> kernel, which the OCR reference (@gutenye/ocr-node) resizes both its networks' inputs with.
    /// </summary>
    Lanczos3,

    /// <summary>
    /// TensorFlow.js' <c>tf.image.resizeBilinear</c> with <c>alignCorners: true</c> (nsfwjs' resize): output pixel i reads
    /// source position i · (n − 1) / (m − 1), pixel centres at whole numbers, from its two neighbours; not widened when
    /// shrinking (no antialiasing: a large photo is point-sampled, as upstream does it).
    /// </summary>
    BilinearAlignCorners,
}

/// <summary>Where a region of the source image landed in the network input, to map outputs back.</summary>
/// <param name="Source">The source rectangle (pixels of the upright image).</param>
/// <param name="ContentWidth">Width, in input pixels, the source covers (less than the input with letterboxing).</param>
/// <param name="ContentHeight">Height, in input pixels, the source covers.</param>
public readonly record struct Placement(SKRect Source, float ContentWidth, float ContentHeight);

/// <summary>
/// Resizes (stretch or letterbox) a region of a decoded image straight into a pooled float buffer in a network's layout:
/// one separable, antialiased triangle-filter resample (bilinear when enlarging, area-weighted when shrinking) over the
/// RGBA bytes with 4-lane vectors, normalization fused into the last pass. Runs on the request's thread, before the
/// item is queued for batching. Output pixels whose centre falls outside the image are black, as is letterbox padding.
/// </summary>
public static class ImageTensors
{
    /// <summary>
    /// Fills a buffer rented from <see cref="ArrayPool{T}.Shared"/> (return it with <see cref="Return"/>). With
    /// <paramref name="letterbox"/> the region keeps its aspect ratio, top-left aligned, and the rest is zero pixels.
    /// </summary>
    public static float[] Rent(SKBitmap image, SKRect source, PixelFormat format, bool letterbox, out Placement placement)
    {
        placement = Place(source, format, letterbox);
        return Rent(image, source, format, (int)placement.ContentWidth, (int)placement.ContentHeight);
    }

    /// <summary>
    /// Resizes <paramref name="source"/> to exactly <paramref name="contentW"/> × <paramref name="contentH"/> input
    /// pixels at the top-left of <paramref name="format"/> (which may be larger: the rest is padding), into a pooled
    /// buffer (return it with <see cref="Return"/>). For networks whose upstream code picks the size itself (PaddleOCR:
    /// the detector's multiple of 32, the recognizer's width by aspect ratio).
    /// </summary>
    public static float[] Rent(SKBitmap image, SKRect source, PixelFormat format, int contentW, int contentH)
    {
        if (contentW < 1 || contentH < 1 || contentW > format.Width || contentH > format.Height)
        {
            throw new ArgumentOutOfRangeException(nameof(contentW), $"content {contentW}x{contentH} does not fit the {format.Width}x{format.Height} input");
        }

        var buffer = ArrayPool<float>.Shared.Rent(format.Length);
        if (image.ColorType == SKColorType.Rgba8888)
        {
            Resample(image, source, contentW, contentH, format, buffer);
        }
        else
        {
            using var rgba = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            if (!image.CopyTo(rgba, SKColorType.Rgba8888))
            {
                ArrayPool<float>.Shared.Return(buffer);
                throw new InvalidOperationException($"cannot read {image.ColorType} pixels");
            }

            Resample(rgba, source, contentW, contentH, format, buffer);
        }

        return buffer;
    }

    public static void Return(float[] buffer) => ArrayPool<float>.Shared.Return(buffer);

    /// <summary>Where <paramref name="source"/> lands in the network input: all of it, or with <paramref name="letterbox"/> its aspect-kept top-left part.</summary>
    public static Placement Place(SKRect source, PixelFormat format, bool letterbox)
    {
        if (!letterbox)
        {
            return new Placement(source, format.Width, format.Height);
        }

        var scale = Math.Min(format.Width / source.Width, format.Height / source.Height);
        return new Placement(source, Math.Clamp(MathF.Round(source.Width * scale), 1, format.Width), Math.Clamp(MathF.Round(source.Height * scale), 1, format.Height));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Resample(SKBitmap image, SKRect source, int contentW, int contentH, PixelFormat format, float[] buffer)
    {
        var columns = Taps.For(source.Left, source.Width, contentW, image.Width, format.Filter);
        var rows = Taps.For(source.Top, source.Height, contentH, image.Height, format.Filter);
        var rowLength = contentW * 4;
        // Pass 1 output: the horizontally resampled RGBA floats of every source row some output row reads.
        var firstRow = rows.First;
        var rowCount = Math.Max(0, rows.Last - firstRow);
        var horizontal = ArrayPool<float>.Shared.Rent(Math.Max(1, rowCount * rowLength));
        var line = ArrayPool<float>.Shared.Rent(rowLength);
        try
        {
            var pixels = image.GetPixelSpan();
            var rowBytes = image.RowBytes;
            for (var r = 0; r < rowCount; r++)
            {
                Horizontal(pixels.Slice((firstRow + r) * rowBytes, image.Width * 4), columns, horizontal.AsSpan(r * rowLength, rowLength));
            }

            var output = new Writer(format, buffer);
            var clamp = format.Filter is ResampleFilter.CatmullRom or ResampleFilter.Lanczos3;
            for (var y = 0; y < contentH; y++)
            {
                var acc = line.AsSpan(0, rowLength);
                acc.Clear();
                var (start, count, offset) = rows.Spans[y];
                for (var t = 0; t < count; t++)
                {
                    AddScaled(acc, horizontal.AsSpan((start + t - firstRow) * rowLength, rowLength), rows.Weights[offset + t]);
                }

                if (clamp)
                {
                    // The cubic's negative lobes overshoot at edges; 8-bit resamplers clamp, and so does this one.
                    for (var i = 0; i < acc.Length; i++)
                    {
                        acc[i] = Math.Clamp(acc[i], 0f, 255f);
                    }
                }

                output.Row(y, acc, contentW);
            }

            output.Pad(contentW, contentH);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(horizontal);
            ArrayPool<float>.Shared.Return(line);
        }
    }

    /// <summary>One source row (RGBA bytes) → <c>columns.Spans.Length</c> RGBA float pixels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Horizontal(ReadOnlySpan<byte> row, Taps columns, Span<float> destination)
    {
        ref var src = ref MemoryMarshal.GetReference(row);
        ref var dst = ref MemoryMarshal.GetReference(destination);
        var weights = columns.Weights;
        for (var x = 0; x < columns.Spans.Length; x++)
        {
            var (start, count, offset) = columns.Spans[x];
            var sum = Vector128<float>.Zero;
            for (var t = 0; t < count; t++)
            {
                var pixel = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref src, (start + t) * 4));
                var bytes = Vector128.CreateScalarUnsafe(pixel).AsByte();
                var ints = Vector128.WidenLower(Vector128.WidenLower(bytes)).AsInt32();
                sum += Vector128.ConvertToSingle(ints) * weights[offset + t];
            }

            sum.StoreUnsafe(ref Unsafe.Add(ref dst, x * 4));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddScaled(Span<float> acc, ReadOnlySpan<float> row, float weight)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var w = Vector256.Create(weight);
            for (; i <= acc.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                (Vector256.Create(acc[i..]) + (Vector256.Create(row[i..]) * w)).CopyTo(acc[i..]);
            }
        }

        for (; i < acc.Length; i++)
        {
            acc[i] += row[i] * weight;
        }
    }

    /// <summary>Filter taps of one axis: for each output pixel the first source index, the tap count and where its weights start.</summary>
    private sealed class Taps
    {
        public required (int Start, int Count, int Offset)[] Spans { get; init; }

        public required float[] Weights { get; init; }

        /// <summary>Lowest source index read (inclusive).</summary>
        public int First { get; init; }

        /// <summary>Highest source index read (exclusive).</summary>
        public int Last { get; init; }

        /// <summary>
        /// Output pixel i covers source <c>[start + i·scale, start + (i+1)·scale)</c>; a triangle filter as wide as that
        /// (at least one pixel; a Catmull-Rom cubic twice as wide) weighs the source pixels by the distance of their
        /// centres. Only taps inside <c>[0, size)</c> count and are normalized (edges are not darkened); an output pixel
        /// with none reads black. The Catmull-Rom cubic instead does what sharp (libvips) does: taps off the image read
        /// the edge pixel, an output pixel whose centre lies off the image reads black, and when shrinking it takes
        /// libvips' tap count and 1/64 px centre phase (vips_reduceh / vips_reducev).
        /// </summary>
        public static Taps For(float start, float length, int outputs, int size, ResampleFilter filter)
        {
            if (filter == ResampleFilter.BilinearAlignCorners)
            {
                return AlignCorners(start, length, outputs, size);
            }

            var scale = length / outputs;
            var width = Math.Max(1f, scale);
            var support = filter switch { ResampleFilter.CatmullRom => 2 * width, ResampleFilter.Lanczos3 => 3 * width, _ => width };
            float Weight(int j, float centre, float _) => filter switch
            {
                ResampleFilter.CatmullRom => CatmullRom((j + 0.5f - centre) / width),
                ResampleFilter.Lanczos3 => Lanczos3((j + 0.5f - centre) / width),
                _ => Triangle(j, centre, width),
            };
            // The cubic follows sharp's resize (libvips) as the detector references run it: black outside the image, edge
            // pixels extended, libvips' reduce when shrinking. The Lanczos (OCR) and the triangle keep Iris' own edges:
            // with the black outside the image the OCR gate's rendered set read worse (mean CER 0.005 → 0.010).
            var vipsGeometry = filter == ResampleFilter.CatmullRom;
            var vips = vipsGeometry && scale > 1;
            var lobes = filter == ResampleFilter.Lanczos3 ? 3 : 2;
            var spans = new (int, int, int)[outputs];
            var scratch = new float[(int)MathF.Ceiling(2 * support) + 5];
            var weights = new List<float>(outputs * ((int)MathF.Ceiling(support) * 2 + 2));
            int first = int.MaxValue, last = 0;
            for (var i = 0; i < outputs; i++)
            {
                var centre = start + ((i + 0.5f) * scale);
                if (vipsGeometry && (centre < 0 || centre > size))
                {
                    // Outside the image (the letterbox padding): black, as sharp's resize then the references' padding give it.
                    spans[i] = (0, 0, weights.Count);
                    continue;
                }

                var lo = (int)MathF.Floor(centre - support);
                var hi = (int)MathF.Ceiling(centre + support);
                if (vips)
                {
                    // libvips' reduce (vips_reduceh / vips_reducev): 2·rint(k·scale) + 1 taps around the pixel under the
                    // centre, the centre's sub-pixel phase quantized to 1/64 (VIPS_TRANSFORM_SCALE). Its 12-bit weights
                    // and 8-bit rounding between the passes are not copied (they move values by under half a level).
                    var whole = MathF.Floor(centre);
                    centre = whole + (MathF.Floor(((centre - whole) * 64) + 0.5f) / 64);
                    var half = (int)MathF.Round(lobes * scale, MidpointRounding.ToEven);
                    (lo, hi) = ((int)whole - half, (int)whole + half + 1);
                }
                // libvips (sharp) extends the image by copying its edge pixels before it resamples: a tap off the image
                // weighs on the nearest edge pixel. Otherwise the taps inside are normalized.
                var extend = vipsGeometry;
                var from = Math.Clamp(lo, 0, size - 1);
                var to = Math.Clamp(hi, from + 1, size);
                var local = scratch.AsSpan(0, to - from);
                local.Clear();
                var total = 0f;
                for (var j = extend ? lo : from; j < (extend ? hi : to); j++)
                {
                    var v = Weight(j, centre, support);
                    total += v;
                    local[Math.Clamp(j, from, to - 1) - from] += v;
                }

                var (skip, end) = (0, local.Length);
                while (skip < end && local[skip] == 0)
                {
                    skip++;
                }

                while (end > skip && local[end - 1] == 0)
                {
                    end--;
                }

                spans[i] = (from + skip, end - skip, weights.Count);
                for (var k = skip; k < end; k++)
                {
                    weights.Add(total != 0 ? local[k] / total : 0);
                }

                (from, to) = (from + skip, from + end);
                if (to > from)
                {
                    first = Math.Min(first, from);
                    last = Math.Max(last, to);
                }
            }

            if (first == int.MaxValue)
            {
                first = 0;
            }

            return new Taps { Spans = spans, Weights = [.. weights], First = first, Last = Math.Max(first, last) };
        }

        /// <summary>
        /// <c>tf.image.resizeBilinear(alignCorners: true)</c> (tfjs-backend-cpu <c>resizeBilinear</c>): output i at source
        /// index <c>start' + i·(length − 1)/(outputs − 1)</c> (<c>start'</c> the first pixel centre inside the region),
        /// weighed between the floor and ceiling pixels, both clamped into the image.
        /// </summary>
        private static Taps AlignCorners(float start, float length, int outputs, int size)
        {
            var ratio = outputs > 1 ? (length - 1) / (outputs - 1) : 0;
            var spans = new (int, int, int)[outputs];
            var weights = new float[outputs * 2];
            int first = int.MaxValue, last = 0;
            for (var i = 0; i < outputs; i++)
            {
                var position = start + (i * ratio);
                var lo = Math.Clamp((int)MathF.Floor(position), 0, size - 1);
                var hi = Math.Clamp((int)MathF.Ceiling(position), 0, size - 1);
                var fraction = Math.Clamp(position - lo, 0f, 1f);
                spans[i] = (lo, hi > lo ? 2 : 1, i * 2);
                weights[i * 2] = hi > lo ? 1 - fraction : 1;
                weights[(i * 2) + 1] = hi > lo ? fraction : 0;
                first = Math.Min(first, lo);
                last = Math.Max(last, hi + 1);
            }

            return new Taps { Spans = spans, Weights = weights, First = first == int.MaxValue ? 0 : first, Last = Math.Max(first == int.MaxValue ? 0 : first, last) };
        }

        private static float Triangle(int j, float centre, float support) => Math.Max(0f, 1f - (MathF.Abs(j + 0.5f - centre) / support));

        /// <summary>sinc(x) · sinc(x / 3), zero from |x| = 3 on.</summary>
        private static float Lanczos3(float x)
        {
            x = MathF.Abs(x);
            if (x < 1e-6f)
            {
                return 1;
            }

            if (x >= 3)
            {
                return 0;
            }

            var px = MathF.PI * x;
            return 3 * MathF.Sin(px) * MathF.Sin(px / 3) / (px * px);
        }

        /// <summary>Keys' cubic convolution kernel with a = −0.5 (Catmull-Rom), zero from |x| = 2 on.</summary>
        private static float CatmullRom(float x)
        {
            x = MathF.Abs(x);
            return x < 1 ? (((1.5f * x) - 2.5f) * x * x) + 1 : x < 2 ? (((((-0.5f * x) + 2.5f) * x) - 4) * x) + 2 : 0;
        }
    }

    /// <summary>Writes resampled RGBA rows (0..255) into the network layout with its normalization.</summary>
    private readonly ref struct Writer
    {
        private readonly PixelFormat _format;
        private readonly Span<float> _buffer;
        private readonly float _k;
        private readonly float _b0, _b1, _b2, _k0, _k1, _k2;

        public Writer(PixelFormat format, float[] buffer)
        {
            _format = format;
            _buffer = buffer.AsSpan(0, format.Length);
            _k = format.Scale / 255f;
            // v = ((c·k + offset) − mean) / std  =  c·(k/std) + (offset − mean)/std
            var inv0 = format.Std is null ? 1f : 1f / format.Std[0];
            var inv1 = format.Std is null ? 1f : 1f / format.Std[1];
            var inv2 = format.Std is null ? 1f : 1f / format.Std[2];
            _k0 = _k * inv0;
            _k1 = _k * inv1;
            _k2 = _k * inv2;
            _b0 = (format.Offset - (format.Mean?[0] ?? 0f)) * inv0;
            _b1 = (format.Offset - (format.Mean?[1] ?? 0f)) * inv1;
            _b2 = (format.Offset - (format.Mean?[2] ?? 0f)) * inv2;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Row(int y, ReadOnlySpan<float> rgba, int width)
        {
            int w = _format.Width, plane = w * _format.Height;
            var bgr = _format.Bgr;
            if (_format.Channels == 1)
            {
                var grey = _buffer.Slice(y * w, width);
                for (var x = 0; x < width; x++)
                {
                    var p = x * 4;
                    grey[x] = (((0.299f * rgba[p]) + (0.587f * rgba[p + 1]) + (0.114f * rgba[p + 2])) * _k) + _format.Offset;
                }

                return;
            }

            if (_format.Nchw)
            {
                var c0 = _buffer.Slice(y * w, width);
                var c1 = _buffer.Slice(plane + (y * w), width);
                var c2 = _buffer.Slice((2 * plane) + (y * w), width);
                for (var x = 0; x < width; x++)
                {
                    var p = x * 4;
                    float r = rgba[p], g = rgba[p + 1], b = rgba[p + 2];
                    if (bgr)
                    {
                        (r, b) = (b, r);
                    }

                    c0[x] = (r * _k0) + _b0;
                    c1[x] = (g * _k1) + _b1;
                    c2[x] = (b * _k2) + _b2;
                }

                return;
            }

            var row = _buffer.Slice(y * w * 3, width * 3);
            for (var x = 0; x < width; x++)
            {
                var p = x * 4;
                float r = rgba[p], g = rgba[p + 1], b = rgba[p + 2];
                if (bgr)
                {
                    (r, b) = (b, r);
                }

                row[x * 3] = (r * _k0) + _b0;
                row[(x * 3) + 1] = (g * _k1) + _b1;
                row[(x * 3) + 2] = (b * _k2) + _b2;
            }
        }

        /// <summary>Fills everything outside the <paramref name="width"/> × <paramref name="height"/> content with black.</summary>
        public void Pad(int width, int height)
        {
            if (width == _format.Width && height == _format.Height)
            {
                return;
            }

            int w = _format.Width, h = _format.Height, plane = w * h;
            var channels = _format.Channels;
            Span<float> black = [_b0, _b1, _b2];
            if (channels == 1)
            {
                black[0] = _format.Offset;
            }

            if (_format.PadValue is { } pad)
            {
                black.Fill(pad);
            }

            for (var y = 0; y < h; y++)
            {
                var from = y < height ? width : 0;
                for (var x = from; x < w; x++)
                {
                    if (channels == 1)
                    {
                        _buffer[(y * w) + x] = black[0];
                    }
                    else if (_format.Nchw)
                    {
                        _buffer[(y * w) + x] = black[0];
                        _buffer[plane + (y * w) + x] = black[1];
                        _buffer[(2 * plane) + (y * w) + x] = black[2];
                    }
                    else
                    {
                        var p = ((y * w) + x) * 3;
                        _buffer[p] = black[0];
                        _buffer[p + 1] = black[1];
                        _buffer[p + 2] = black[2];
                    }
                }
            }
        }
    }
}
