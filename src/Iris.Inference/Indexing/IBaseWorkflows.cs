using Iris.Core.Apps;
using Iris.Inference.Predict;

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
