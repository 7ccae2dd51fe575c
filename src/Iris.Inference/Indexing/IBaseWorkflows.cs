using Iris.Core.Apps;
using Iris.Inference.Predict;
using Iris.Inference.Zoo;

namespace Iris.Inference.Indexing;

/// <summary>
/// What an app's base workflow runs on each new input: the embedder whose vectors search and training use (null when the
/// base workflow stores no embeddings, e.g. <c>Empty</c>) and the model whose predicted concepts are stored for concept
/// ranks (null when none).
/// </summary>
public sealed record BaseWorkflowModels(string WorkflowId, IImageModel? Embedder, IImageModel? Concepts);

/// <summary>The one answer to "what is this app indexed with", for ingestion, search, training and reindexing.</summary>
public interface IBaseWorkflows
{
    ValueTask<BaseWorkflowModels> ForAppAsync(AppRef app, CancellationToken cancellationToken);
}

/// <summary>Every app indexed by the general embedding and general recognition models: Iris before apps chose a base workflow.</summary>
public sealed class FixedBaseWorkflows(ModelZoo zoo) : IBaseWorkflows
{
    private readonly BaseWorkflowModels models = new("General", zoo.Find(GeneralEmbeddingModel.Id), zoo.Find(GeneralRecognitionModel.Id));

    public ValueTask<BaseWorkflowModels> ForAppAsync(AppRef app, CancellationToken cancellationToken) => ValueTask.FromResult(models);
}
