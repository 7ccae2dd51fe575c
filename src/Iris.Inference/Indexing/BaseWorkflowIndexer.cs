using Iris.Core.Apps;
using Iris.Core.Ingestion;
using Iris.Inference.Engine;
using Iris.Storage.Vectors;

namespace Iris.Inference.Indexing;

/// <summary>
/// The base workflow at ingestion and reindexing: each processed image input gets the embedding of its app's base-workflow
/// embedder and the concepts of its concept model (those scoring at least <see cref="MinConceptValue"/>), stored in the
/// inference area; an app whose base workflow has no embedder (<c>Empty</c>) stores nothing. Idempotent (upserts).
/// </summary>
public sealed class BaseWorkflowIndexer(InferenceEngine engine, IBaseWorkflows workflows, IInputIndexStore store) : IInputIndexer
{
    /// <summary>Predicted concepts kept per input: the ones at or above this value.</summary>
    public const float MinConceptValue = 0.05f;

    public async ValueTask IndexAsync(IndexedInput input, CancellationToken cancellationToken)
    {
        var models = await workflows.ForAppAsync(input.App, cancellationToken).ConfigureAwait(false);
        if (models.Embedder is not { } embedder)
        {
            // A base workflow without an embedder (Empty) stores nothing; a reindex to it drops what an earlier one stored.
            await store.RemoveAsync(input.App, [input.InputId], cancellationToken).ConfigureAwait(false);
            return;
        }

        // Both queued before either is awaited, so they batch with other inputs' calls.
        var embedding = embedder.PredictAsync(input.Image, engine, cancellationToken).AsTask();
        var concepts = models.Concepts is { } recognizer ? recognizer.PredictAsync(input.Image, engine, cancellationToken).AsTask() : null;
        var vector = (await embedding.ConfigureAwait(false)).Embeddings[0].Vector.ToArray();
        var predicted = concepts is null
            ? []
            : (await concepts.ConfigureAwait(false)).Concepts.Where(c => c.Value >= MinConceptValue).Select(c => (c.Id, c.Value)).ToArray();
        await store.SaveAsync(input.App, input.InputId, embedder.Descriptor.Id, embedder.Descriptor.VersionId, vector, predicted,
            models.Concepts?.Descriptor.VersionId ?? string.Empty, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken) =>
        new(store.RemoveAsync(app, inputIds, cancellationToken));
}
