using Iris.Core.Apps;
using Iris.Inference.Zoo;

namespace Iris.Inference.Predict;

/// <summary>
/// The one lookup from a model id (or Clarifai's legacy 32-hex id) and an optional version id to the model version that
/// runs, for predict, workflows, search and training. Ids resolve in the caller's app first, then among the built-in
/// public models of <c>clarifai/main</c>. Access rules are the caller's: the registry only finds.
/// </summary>
public interface IModelRegistry
{
    /// <summary>
    /// The model version to run, or null when the app has no such model and no built-in has that id, or when the model
    /// has no such version. An empty <paramref name="versionId"/> means the latest trained version.
    /// </summary>
    ValueTask<IImageModel?> FindAsync(AppRef app, string modelId, string? versionId, CancellationToken cancellationToken);
}

/// <summary>The registry over the built-in models only: what Iris serves until user models are stored.</summary>
public sealed class ZooModelRegistry(ModelZoo zoo) : IModelRegistry
{
    public ValueTask<IImageModel?> FindAsync(AppRef app, string modelId, string? versionId, CancellationToken cancellationToken)
    {
        var model = zoo.Find(modelId);
        if (model is null || (!string.IsNullOrEmpty(versionId) && !string.Equals(versionId, model.Descriptor.VersionId, StringComparison.Ordinal)))
        {
            return ValueTask.FromResult<IImageModel?>(null);
        }

        return ValueTask.FromResult<IImageModel?>(model);
    }
}
