using SkiaSharp;

namespace Iris.Inference.Import.Tests;

/// <summary>Decodes a photograph and turns it into a float32 model input.</summary>
internal static class ImageTensor
{
    /// <summary>Resized to width x height; value = pixel / 255 * scale + offset.</summary>
    public static float[] Load(string path, int width, int height, int channels, bool nchw, float scale, float offset)
    {
        using var original = SKBitmap.Decode(RepoPaths.Require(path)) ?? throw new InvalidOperationException($"cannot decode {path}");
        using var resized = original.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidOperationException("resize failed");
        var data = new float[width * height * channels];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var p = resized.GetPixel(x, y);
                Span<float> rgb = [p.Red, p.Green, p.Blue];
                for (var c = 0; c < channels; c++)
                {
                    var v = channels == 1 ? (0.299f * rgb[0]) + (0.587f * rgb[1]) + (0.114f * rgb[2]) : rgb[c];
                    var value = (v / 255f * scale) + offset;
                    var index = nchw ? (c * height * width) + (y * width) + x : (((y * width) + x) * channels) + c;
                    data[index] = value;
                }
            }
        }

        return data;
    }
}
