using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using Iris.Inference.Predict;
using Iris.Inference.Zoo;

namespace Iris.Inference.Training;

/// <summary>
/// A trained embedding-classifier version: the image goes through the version's base embedder, then the head scores
/// each concept. The concepts carry the model's app as <c>app_id</c> / <c>user_id</c>.
/// </summary>
public sealed class TrainedModel(ModelDescriptor descriptor, IImageModel embedder, ClassifierHead head) : IImageModel
{
    public ModelDescriptor Descriptor { get; } = descriptor;

    public IImageModel Embedder { get; } = embedder;

    public ClassifierHead Head { get; } = head;

    public int DecodeMinSide => Embedder.DecodeMinSide;

    public async ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken)
    {
        var embedded = await Embedder.PredictAsync(image, engine, cancellationToken).ConfigureAwait(false);
        return Classify(embedded.Embeddings[0].Vector.ToArray());
    }

    /// <summary>Scores an embedding of the base embedder (what predict does after embedding; evaluation calls it directly).</summary>
    public Data Classify(ReadOnlySpan<float> vector)
    {
        Span<float> values = Head.ConceptIds.Count <= 256 ? stackalloc float[Head.ConceptIds.Count] : new float[Head.ConceptIds.Count];
        Head.Score(vector, values);
        var data = new Data();
        var owner = Descriptor.Owner;
        for (var i = 0; i < values.Length; i++)
        {
            var def = Descriptor.Concepts[i];
            data.Concepts.Add(new Concept { Id = def.Id, Name = def.Name, Value = values[i], AppId = owner?.AppId ?? "main", UserId = owner?.UserId ?? "clarifai" });
        }

        return data;
    }
}
