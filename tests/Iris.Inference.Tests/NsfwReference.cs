using System.Text.Json;
using Iris.Imaging;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;

namespace Iris.Inference.Tests;

/// <summary>
/// Iris' <c>nsfw-recognition</c> and <c>general-image-embedding</c> beside nsfwjs itself on one photo
/// (Reference/nsfwjs-reference.mjs: the TensorFlow.js MobileNet v2 through nsfwjs' own <c>classify</c> / <c>infer</c>).
/// Shared by the quality gate (<c>NsfwReferenceTests</c>) and the quality benchmark.
/// </summary>
public static class NsfwReference
{
    public const string Script = "nsfwjs-reference.mjs";

    /// <summary>nsfwjs' class order (dist/cjs/nsfw_classes.js), as Iris' concept names.</summary>
    public static readonly string[] Classes = ["drawing", "hentai", "neutral", "porn", "sexy"];

    /// <summary>Both models on <paramref name="photo"/>, each decoded as the predictor decodes for it, against the reference's result for the photo.</summary>
    public static async Task<Comparison> CompareAsync(InferenceEngine engine, string photo, JsonElement reference)
    {
        var zoo = new ModelZoo();
        var nsfw = zoo.Find(NsfwModel.Id)!;
        var embedder = zoo.Find(GeneralEmbeddingModel.Id)!;
        using var nsfwImage = Decode(photo, nsfw.DecodeMinSide);
        var concepts = (await nsfw.PredictAsync(nsfwImage, engine, CancellationToken.None)).Concepts;
        var iris = Classes.Select(c => concepts.Single(x => x.Name == c).Value).ToArray();
        using var embedImage = Decode(photo, embedder.DecodeMinSide);
        var vector = (await embedder.PredictAsync(embedImage, engine, CancellationToken.None)).Embeddings[0].Vector.ToArray();
        var refVector = reference.GetProperty("embedding").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var refProbabilities = reference.GetProperty("probabilities").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        var dot = vector.Zip(refVector).Sum(p => p.First * p.Second);
        var cosine = dot / Math.Sqrt(vector.Sum(v => (double)v * v) * refVector.Sum(v => v * v));
        return new Comparison(Path.GetFileName(photo), refProbabilities, iris, cosine);
    }

    private static DecodedImage Decode(string path, int minSide) =>
        ImageDecoder.TryDecode(File.ReadAllBytes(path), minSide, out var error) ?? throw new InvalidOperationException($"{path}: {error}");

    /// <summary>One photo: nsfwjs' and Iris' five probabilities (in <see cref="Classes"/> order) and the cosine of the two embeddings.</summary>
    public sealed record Comparison(string Photo, float[] Reference, float[] Iris, double Cosine)
    {
        public string ReferenceTop => Classes[Array.IndexOf(Reference, Reference.Max())];

        public string IrisTop => Classes[Array.IndexOf(Iris, Iris.Max())];

        /// <summary>The largest difference between the two probabilities of a class.</summary>
        public double MaxDifference => Reference.Zip(Iris).Max(p => Math.Abs(p.First - p.Second));
    }
}
