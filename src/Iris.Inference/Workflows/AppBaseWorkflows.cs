using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Inference.Predict;
using Iris.Storage.Identity;

namespace Iris.Inference.Workflows;

/// <summary>
/// An app's base workflow, as its <c>default_workflow</c> names it: one of the base-workflow choices of
/// <c>clarifai/main</c> (<see cref="PublicWorkflows.BaseChoices"/>). Ingestion, reindexing, search and training ask
/// here what the app is indexed with: the workflow's embedder node (visual search, training) and its classifier node
/// (stored concepts), each resolved through the model registry. Apps created before apps chose a base workflow (no
/// <c>default_workflow</c> stored) keep <see cref="PublicWorkflows.Legacy"/>, which made their stored embeddings.
/// </summary>
public sealed class AppBaseWorkflows(IIdentityStore identity, PublicWorkflows workflows, IModelRegistry registry) : IBaseWorkflows
{
    public async ValueTask<BaseWorkflowModels> ForAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        var record = await identity.FindAppAsync(app, cancellationToken).ConfigureAwait(false);
        return await ForWorkflowAsync(EffectiveId(record?.DefaultWorkflowId), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The base workflow id an app with this stored <c>default_workflow</c> is indexed with.</summary>
    public string EffectiveId(string? stored) =>
        stored is { Length: > 0 } id && workflows.Find(id) is { BaseChoice: true } ? id : PublicWorkflows.Legacy;

    /// <summary>The models of base workflow <paramref name="workflowId"/> (a base choice of <c>clarifai/main</c>).</summary>
    public async ValueTask<BaseWorkflowModels> ForWorkflowAsync(string workflowId, CancellationToken cancellationToken)
    {
        var workflow = workflows.Find(workflowId) ?? throw new ArgumentException($"'{workflowId}' is no public workflow.", nameof(workflowId));
        IImageModel? embedder = null, concepts = null;
        foreach (var node in workflow.Nodes)
        {
            var model = (await registry.LookupAsync(AppRef.ClarifaiMain, node.Model.Id, node.Model.ModelVersion?.Id, cancellationToken).ConfigureAwait(false)).Model
                ?? throw new InvalidOperationException($"Base workflow '{workflowId}' names model '{node.Model.Id}', which the registry does not find.");
            switch (model.Descriptor.TypeId)
            {
                case "visual-embedder":
                    embedder ??= model;
                    break;
                case "visual-classifier":
                    concepts ??= model;
                    break;
            }
        }

        return new BaseWorkflowModels(workflow.Id, embedder, concepts);
    }
}
