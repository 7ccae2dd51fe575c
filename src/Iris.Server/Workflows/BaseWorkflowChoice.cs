using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Workflows;
using Iris.Storage.Db;
using Iris.Storage.Jobs;
using Iris.Storage.Workflows;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Task = System.Threading.Tasks.Task;

namespace Iris.Server.Workflows;

/// <summary>
/// The base-workflow part of PostApps and PatchApps (CLARIFAI_FACTS.md 8.3): <c>default_workflow</c>
/// (<c>{id, app_id: "main", user_id: "clarifai"}</c>, as the SDKs send it, or the deprecated <c>default_workflow_id</c>)
/// must name a base-workflow choice of <c>clarifai/main</c>; an app created without one gets
/// <see cref="PublicWorkflows.DefaultForNewApps"/>. A change with <c>reindex</c> queues the reindex of the app's inputs.
/// </summary>
internal sealed class BaseWorkflowChoice(PublicWorkflows workflows, AppBaseWorkflows bases, IWorkflowStore store, JobSignal signal, TimeProvider time)
{
    /// <summary>The base workflow id <paramref name="app"/> asks for, checked; null when it names none.</summary>
    public string? Requested(App app)
    {
#pragma warning disable CS0612 // default_workflow_id is deprecated but still sent by clients.
        var legacyId = app.DefaultWorkflowId;
#pragma warning restore CS0612
        var named = app.DefaultWorkflow;
        var id = named?.Id is { Length: > 0 } w ? w : legacyId;
        if (id.Length == 0)
        {
            return null;
        }

        if (named is { Id.Length: > 0 } && ((named.AppId.Length > 0 && named.AppId != AppRef.ClarifaiMain.AppId) || (named.UserId.Length > 0 && named.UserId != AppRef.ClarifaiMain.UserId)))
        {
            throw new IrisException(StatusCode.WorkflowInvalidArgument,
                $"default_workflow names workflow '{id}' of app '{named.UserId}/{named.AppId}'; Iris' base workflows are public workflows of clarifai/main: {Choices}.");
        }

        var workflow = workflows.Find(id) ?? throw new IrisException(StatusCode.WorkflowDoesNotExist,
            $"default_workflow '{id}' is not a workflow of clarifai/main; base workflows are {Choices}.");
        if (!workflow.BaseChoice)
        {
            throw new IrisException(StatusCode.WorkflowInvalidArgument,
                $"Workflow '{id}' of clarifai/main cannot be a base workflow in Iris; base workflows are {Choices}.");
        }

        return workflow.Id;
    }

    /// <summary>The base workflow a new app is created with.</summary>
    public string ForNewApp(App app) => Requested(app) ?? PublicWorkflows.DefaultForNewApps;

    /// <summary>
    /// After an app's <c>default_workflow</c> changed from <paramref name="before"/> to <paramref name="after"/>:
    /// with <paramref name="reindex"/>, every processed input is run through the new base workflow as jobs (input states
    /// 30501 → 30503 → 30500 / 30502, counted by GetInputCount). Without it, only new inputs use the new workflow.
    /// </summary>
    public async Task ChangedAsync(AppRef app, string before, string after, bool reindex, CancellationToken cancellationToken)
    {
        if (!reindex || string.Equals(bases.EffectiveId(before), bases.EffectiveId(after), StringComparison.Ordinal))
        {
            return;
        }

        await store.QueueReindexAppAsync(app, bases.EffectiveId(after), Clock.NowMicros(time), cancellationToken).ConfigureAwait(false);
        signal.Wake(WorkflowJobKinds.ReindexApp);
    }

    private string Choices => string.Join(", ", workflows.BaseChoices);
}
