using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Predict;
using Iris.Inference.Workflows;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Seams;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Workflows;

/// <summary>
/// Finds the model of every node of a graph through the one model registry, with the caller's access rules, and checks
/// the graph (<see cref="WorkflowGraph"/>). A node without <c>user_id</c>/<c>app_id</c> names a model of the workflow's
/// app (or a built-in of <c>clarifai/main</c>, as predict resolves it); a node naming another app needs read access to
/// that app — a PAT that can see it; an app-specific API key reaches only its own app (seed 002), so such a node → 21201.
/// </summary>
internal sealed class WorkflowModels(IModelRegistry registry, IAppAccess access)
{
    /// <summary>The checked plan of <paramref name="nodes"/> for a workflow of <paramref name="app"/>.</summary>
    public async ValueTask<WorkflowPlan> PlanAsync(CallContext context, AppRef app, IReadOnlyList<WorkflowNode> nodes, CancellationToken cancellationToken)
    {
        WorkflowGraph.CheckShape(nodes);
        var models = new IImageModel[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            models[i] = await FindAsync(context, app, nodes[i], cancellationToken).ConfigureAwait(false);
        }

        return WorkflowGraph.Plan(nodes, models);
    }

    /// <summary>The nodes as a new version stores them: each model's version pinned to the one found, so a version always runs the same models.</summary>
    public static IReadOnlyList<WorkflowNode> Pinned(WorkflowPlan plan) => plan.Nodes.Select(p =>
    {
        var node = p.Node.Clone();
        node.Model = new Model
        {
            Id = p.Node.Model.Id,
            UserId = p.Node.Model.UserId,
            AppId = p.Node.Model.AppId,
            ModelVersion = new ModelVersion { Id = p.Model.Descriptor.VersionId },
        };
        return node;
    }).ToList();

    private async ValueTask<IImageModel> FindAsync(CallContext context, AppRef workflowApp, WorkflowNode node, CancellationToken cancellationToken)
    {
        var owner = await OwnerAsync(context, workflowApp, node, cancellationToken).ConfigureAwait(false);
        var modelId = node.Model.Id;
        var versionId = node.Model.ModelVersion?.Id ?? string.Empty;
        var lookup = await registry.LookupAsync(owner, modelId, versionId, cancellationToken).ConfigureAwait(false);
        return lookup.State switch
        {
            ModelLookupState.Found => lookup.Model!,
            ModelLookupState.NoModel => throw new IrisException(StatusCode.ModelDoesNotExist,
                $"Node '{node.Id}': model '{modelId}' does not exist in app '{owner}' or among the public models of clarifai/main."),
            ModelLookupState.NoVersion => throw new IrisException(StatusCode.ModelDoesNotExist, $"Node '{node.Id}': model '{modelId}' has no version '{versionId}'."),
            _ => throw lookup.ToException($"Node '{node.Id}': "),
        };
    }

    /// <summary>The app a node's model is looked up in, after checking that the caller may read it.</summary>
    private async ValueTask<AppRef> OwnerAsync(CallContext context, AppRef workflowApp, WorkflowNode node, CancellationToken cancellationToken)
    {
        var m = node.Model;
        if (m.AppId.Length == 0)
        {
            return workflowApp;
        }

        var owner = new AppRef(m.UserId.Length > 0 ? m.UserId : workflowApp.UserId, m.AppId);
        if (owner == workflowApp)
        {
            return owner;
        }

        if (context.Principal is not { Kind: CredentialKind.PersonalAccessToken })
        {
            throw new IrisException(StatusCode.ModelPermissionDenied,
                $"Node '{node.Id}' uses model '{m.Id}' of app '{owner}': an app-specific API key reaches only models of its own app. Use a personal access token.");
        }

        try
        {
            return await access.ResolveAsync(context, new UserAppIDSet { UserId = owner.UserId, AppId = owner.AppId }, AppAccessKind.Read, cancellationToken).ConfigureAwait(false);
        }
        catch (IrisException e)
        {
            // Named for the node: which of the graph's models the caller cannot read.
            throw new IrisException(StatusCode.ModelPermissionDenied, $"Node '{node.Id}' uses model '{m.Id}' of app '{owner}', which you cannot read ({e.Details})");
        }
    }
}
