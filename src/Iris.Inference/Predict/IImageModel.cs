using Clarifai.Api;
using Iris.Imaging;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;

namespace Iris.Inference.Predict;

/// <summary>
/// A model version predict can run on an image: a built-in of <c>clarifai/main</c> (<see cref="BuiltinModel"/>) or a
/// user's trained version. Predict, workflows, search and ingestion all run models through this one shape.
/// </summary>
public interface IImageModel
{
    /// <summary>What the model reads say about it (ids, type, concepts, version).</summary>
    ModelDescriptor Descriptor { get; }

    /// <summary>The shortest side the image must keep for this model (0 = full size); see <see cref="BuiltinModel.DecodeMinSide"/>.</summary>
    int DecodeMinSide { get; }

    /// <summary>Above 0: decode as sharp does before a fit into this square, instead of by <see cref="DecodeMinSide"/>; see <see cref="BuiltinModel.DecodeFitSide"/>.</summary>
    int DecodeFitSide => 0;

    /// <summary>Predicts on one upright image: every concept the model scores (the caller filters), regions normalized.</summary>
    ValueTask<Data> PredictAsync(DecodedImage image, InferenceEngine engine, CancellationToken cancellationToken);
}
