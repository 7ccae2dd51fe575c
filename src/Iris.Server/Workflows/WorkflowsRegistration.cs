using Iris.Core.Apps;
using Iris.Core.Ingestion;
using Iris.Server.Api;
using Iris.Server.Jobs;
using Iris.Storage.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Workflows;

/// <summary>DeleteApp and PatchAppsIds for the workflows area: an app's workflows, versions and reindex state go or move with it.</summary>
internal sealed class WorkflowsAppLifecycle(IWorkflowStore store) : IAppLifecycleListener
{
    public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken) => store.PurgeAppAsync(app, cancellationToken);

    public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken) => store.RenameAppAsync(from, to, cancellationToken);
}

/// <summary>An input's deletion takes it out of the reindex state (the base-workflow indexer removes its embedding).</summary>
internal sealed class ReindexStateCleanup(IWorkflowStore store) : IInputIndexer
{
    public ValueTask IndexAsync(IndexedInput input, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken) =>
        new(store.ForgetReindexAsync(app, inputIds, cancellationToken));
}

public static class WorkflowsRegistration
{
    /// <summary>The workflow RPCs, the base-workflow choice of apps and the reindex jobs (the store comes with the storage services).</summary>
    public static IServiceCollection AddIrisWorkflows(this IServiceCollection services)
    {
        services.AddSingleton<WorkflowModels>();
        services.AddSingleton<BaseWorkflowChoice>();
        services.AddSingleton<ReindexWorker>();
        services.AddIrisJobs(sp => sp.GetRequiredService<ReindexWorker>().Handlers());
        services.AddSingleton<IAppLifecycleListener, WorkflowsAppLifecycle>();
        services.AddSingleton<IInputIndexer, ReindexStateCleanup>();
        services.AddSingleton<IApiModule, WorkflowsModule>();
        return services;
    }
}
