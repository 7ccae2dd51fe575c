namespace Iris.Inference.Zoo;

/// <summary>The built-in public models of <c>clarifai/main</c>, found by id or by Clarifai's legacy 32-hex id.</summary>
public sealed class ModelZoo
{
    public ModelZoo()
    {
        Models =
        [
            new GeneralRecognitionModel(),
            new GeneralDetectionModel(),
            new GeneralEmbeddingModel(),
            new FaceDetectionModel(),
            new FaceAttributesModel(),
            new AgeDemographicsModel(),
            new GenderDemographicsModel(),
            new FaceSentimentModel(),
            new NsfwModel(),
            new PersonSegmentationModel(),
            new SubjectSegmentationModel(),
            new OcrModel(),
        ];
    }

    public IReadOnlyList<BuiltinModel> Models { get; }

    public BuiltinModel? Find(string modelId) => Models.FirstOrDefault(m =>
        string.Equals(m.Descriptor.Id, modelId, StringComparison.Ordinal) || string.Equals(m.Descriptor.LegacyId, modelId, StringComparison.Ordinal));
}
