using Iris.Core.Apps;

namespace Iris.Storage.Workflows;

/// <summary>A workflow's own fields (what PatchWorkflows changes without a new version).</summary>
public sealed record WorkflowRecord(
    AppRef App,
    string Id,
    string Description,
    string Notes,
    string MetadataJson,
    int Visibility,
    IReadOnlyList<string> UseCases,
    long CreatedUs,
    long ModifiedUs);

/// <summary>
/// One version of a workflow: its graph (<see cref="NodesJson"/>, the JSON of its nodes as the API writes them; opaque
/// to the store) and its own descriptive fields. <see cref="Seq"/> orders the versions of a workflow (latest = highest).
/// </summary>
public sealed record WorkflowVersionRecord(
    string WorkflowId,
    string Id,
    long Seq,
    string NodesJson,
    string Description,
    string License,
    string MetadataJson,
    int Visibility,
    long CreatedUs,
    long ModifiedUs);

/// <summary>A workflow with its latest version.</summary>
public sealed record StoredWorkflow(WorkflowRecord Workflow, WorkflowVersionRecord Latest);

/// <summary>Reindex states of an app's inputs after its base workflow changed (status codes 30500–30503).</summary>
public static class ReindexStates
{
    public const int Success = 30500;
    public const int Pending = 30501;
    public const int Failed = 30502;
    public const int InProgress = 30503;
}

/// <summary>How many of an app's inputs are in each reindex state.</summary>
public sealed record ReindexCounts(long Reindexed, long ToReindex, long Errors, long Reindexing);

/// <summary>Job kinds of the workflows area.</summary>
public static class WorkflowJobKinds
{
    /// <summary>Queue a reindex of every processed input of an app with its base workflow. Target: the workflow id.</summary>
    public const string ReindexApp = "reindex_app";

    /// <summary>Re-run the app's base workflow on one input. Target: the input id.</summary>
    public const string ReindexInput = "reindex";
}

/// <summary>
/// The workflows of apps and their versions. Creation of several workflows is all or nothing; ids are unique by the
/// primary keys (a racing creator gets false, never a second row). Reads by app, so an app's workflows are listed in memory
/// (apps hold tens of workflows, not millions).
/// </summary>
public interface IWorkflowStore
{
    /// <summary>Creates the workflows with their first versions; returns the id of one that already exists (nothing written), or null.</summary>
    Task<string?> CreateAsync(IReadOnlyList<StoredWorkflow> workflows, CancellationToken cancellationToken);

    Task<StoredWorkflow?> FindAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Every workflow of the app with its latest version, by id.</summary>
    Task<IReadOnlyList<StoredWorkflow>> ListAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the workflow's own fields and, when <paramref name="newVersion"/> is given, adds it as the latest
    /// version (its <see cref="WorkflowVersionRecord.Seq"/> is assigned here). False when the workflow is gone.
    /// </summary>
    Task<bool> UpdateAsync(WorkflowRecord workflow, WorkflowVersionRecord? newVersion, CancellationToken cancellationToken);

    /// <summary>Renames a workflow (its versions follow). False when <paramref name="to"/> is taken or <paramref name="from"/> is gone.</summary>
    Task<bool> RenameAsync(AppRef app, string from, string to, long nowUs, CancellationToken cancellationToken);

    /// <summary>Deletes the workflows (and their versions); returns the ids that existed.</summary>
    Task<IReadOnlyList<string>> DeleteAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken);

    Task<IReadOnlyList<WorkflowVersionRecord>> ListVersionsAsync(AppRef app, string workflowId, CancellationToken cancellationToken);

    Task<WorkflowVersionRecord?> FindVersionAsync(AppRef app, string workflowId, string versionId, CancellationToken cancellationToken);

    /// <summary>Replaces a version's descriptive fields (never its nodes). False when it is gone.</summary>
    Task<bool> UpdateVersionAsync(AppRef app, WorkflowVersionRecord version, CancellationToken cancellationToken);

    /// <summary>Deletes versions; returns the ids that existed. The caller keeps at least one version.</summary>
    Task<IReadOnlyList<string>> DeleteVersionsAsync(AppRef app, string workflowId, IReadOnlyList<string> versionIds, CancellationToken cancellationToken);

    /// <summary>Queues the reindex of an app with base workflow <paramref name="workflowId"/> (a <see cref="WorkflowJobKinds.ReindexApp"/> job).</summary>
    Task QueueReindexAppAsync(AppRef app, string workflowId, long nowUs, CancellationToken cancellationToken);

    /// <summary>Marks the inputs pending reindex with <paramref name="workflowId"/> and queues one job each, in one transaction.</summary>
    Task QueueReindexInputsAsync(AppRef app, string workflowId, IReadOnlyList<string> inputIds, long nowUs, CancellationToken cancellationToken);

    /// <summary>Sets an input's reindex state; a no-op when the input has no reindex row.</summary>
    Task SetReindexStateAsync(AppRef app, string inputId, int status, string details, long nowUs, CancellationToken cancellationToken);

    Task<ReindexCounts> CountReindexAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>Deleted inputs leave the reindex counts.</summary>
    Task ForgetReindexAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken);

    /// <summary>DeleteApp: the app's workflows, versions and reindex state go.</summary>
    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>PatchAppsIds: the app's rows move to its new id.</summary>
    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);
}
