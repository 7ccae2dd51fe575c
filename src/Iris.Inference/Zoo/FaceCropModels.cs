using System.Runtime.CompilerServices;
using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;

namespace Iris.Inference.Zoo;

/// <summary>
/// Classifiers of one face crop, as Clarifai split its demographics model into separate age and gender models for the
/// <c>Demographics</c> workflow (seed 002, 2020-10-16): each reads its whole input image as the face, so it belongs
/// after <c>face-detection</c> in a workflow, which hands it each face's crop. Their networks are the ones
/// <see cref="FaceAttributesModel"/> runs on the faces it finds; the concepts, ids and vocab ids are the same.
/// </summary>
public abstract class FaceCropClassifier : BuiltinModel
{
    /// <summary>The face networks read 224 px (FaceRes) and 64 px (emotion) crops; nothing is gained above 224.</summary>
    public override int DecodeMinSide => FaceAttributesModel.FaceResInput.Width;

    /// <summary>The crop squared by padding (black, centred), so a face clipped at the photo's edge is not stretched.</summary>
    private protected static ValueTask<NetworkOutput> RunAsync(NetworkSpec network, PixelFormat format, DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken) =>
        engine.RunImageAsync(network, image.Bitmap, Versions.CentredFit(image, format.Width), format, letterbox: false, cancellationToken);

    // FaceRes gives age and gender in one run; a workflow hands the same crop to both models, so the first run is shared
    // (keyed by the crop object, released with it).
    private static readonly ConditionalWeakTable<DecodedImage, Task<NetworkOutput>> FaceResRuns = new();

    /// <summary>FaceRes on the crop, once per crop however many face-crop models read it.</summary>
    private protected static Task<NetworkOutput> FaceResAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken) =>
        FaceResRuns.GetValue(image, crop => RunAsync(Networks.FaceRes, FaceAttributesModel.FaceResInput, crop, engine, cancellationToken).AsTask());

    private protected static Data Sorted(IEnumerable<Concept> concepts)
    {
        var data = new Data();
        data.Concepts.AddRange(concepts.OrderByDescending(c => c.Value));
        return data;
    }
}

/// <summary>Apparent age range of a face crop (vocab <c>age_appearance</c>): FaceRes' per-year probabilities summed into ranges.</summary>
public sealed class AgeDemographicsModel : FaceCropClassifier
{
    public const string Id = "age-demographics-recognition";

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Age Demographics Recognition",
        TypeId = "visual-classifier",
        VersionId = Versions.For(Id, Networks.HumanModels),
        Description = "Estimates the apparent age range of the face in a face crop (use it after face-detection in a workflow).",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/faceres",
        Notes = "Concepts are age ranges with vocab_id age_appearance. Apparent age only. The whole input is read as the face.",
        Concepts = FaceAttributesModel.Ages,
        Networks = [Networks.FaceRes],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken) =>
        Sorted(FaceAttributesModel.AgeConcepts(await FaceResAsync(image, engine, cancellationToken).ConfigureAwait(false)));
}

/// <summary>Gender presentation of a face crop (vocab <c>gender_appearance</c>: masculine, feminine), from FaceRes.</summary>
public sealed class GenderDemographicsModel : FaceCropClassifier
{
    public const string Id = "gender-demographics-recognition";

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Gender Demographics Recognition",
        TypeId = "visual-classifier",
        VersionId = Versions.For(Id, Networks.HumanModels),
        Description = "Estimates the gender presentation of the face in a face crop (use it after face-detection in a workflow).",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/faceres",
        Notes = "Concepts masculine and feminine with vocab_id gender_appearance; appearance only. The whole input is read as the face.",
        Concepts = [FaceAttributesModel.Masculine, FaceAttributesModel.Feminine],
        Networks = [Networks.FaceRes],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken) =>
        Sorted(FaceAttributesModel.GenderConcepts(await FaceResAsync(image, engine, cancellationToken).ConfigureAwait(false)));
}

/// <summary>Facial expression of a face crop (vocab <c>emotion</c>): the seven classes of the emotion network.</summary>
public sealed class FaceSentimentModel : FaceCropClassifier
{
    public const string Id = "face-sentiment-recognition";

    public override ModelDescriptor Descriptor { get; } = new()
    {
        Id = Id,
        Name = "Face Sentiment Recognition",
        TypeId = "visual-classifier",
        VersionId = Versions.For(Id, Networks.HumanModels),
        Description = "Recognizes the facial expression of the face in a face crop (use it after face-detection in a workflow).",
        License = "MIT",
        SourcePackage = Networks.HumanModels + " models/emotion",
        Notes = "Seven expressions (angry, disgust, fear, happy, sad, surprise, neutral) with vocab_id emotion. The whole input is read as the face.",
        Concepts = FaceAttributesModel.Emotions,
        Networks = [Networks.Emotion],
    };

    public override async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken) =>
        Sorted(FaceAttributesModel.EmotionConcepts(await RunAsync(Networks.Emotion, FaceAttributesModel.EmotionInput, image, engine, cancellationToken).ConfigureAwait(false)));
}
