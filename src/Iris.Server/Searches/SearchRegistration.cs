using Iris.Core.Apps;
using Iris.Search.Index;
using Iris.Search.Planning;
using Iris.Server.Api;
using Iris.Storage.Blobs;
using Iris.Storage.Searches;
using Iris.Storage.Vectors;
using Iris.Server.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Hosting;

namespace Iris.Server.Searches;

public static class SearchRegistration
{
    /// <summary>
    /// The search store, this node's vector indexes (which follow the store and forget deleted or renamed apps), the
    /// periodic pruning of the vector change log, the planner and the search RPCs.
    /// </summary>
    public static IServiceCollection AddIrisSearch(this IServiceCollection services, SearchOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<ISearchStore, SqlSearchStore>();
        services.AddSingleton<ISavedSearchStore, SqlSavedSearchStore>();
        services.AddSingleton<IAppLifecycleListener, SavedSearchesAppLifecycle>();
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<SearchOptions>();
            ILogger engines = sp.GetService<ILogger<AutoIndex>>() ?? (ILogger)NullLogger.Instance;
            return new VectorIndexes(sp.GetRequiredService<IInputIndexStore>(), sp.GetRequiredService<IBlobStore>(), sp.GetService<ILogger<VectorIndexes>>())
            {
                Factory = () => settings.NewIndex(engines),
                Restore = snapshot => settings.RestoreIndex(snapshot, engines),
            };
        });
        services.AddSingleton<IAppLifecycleListener>(sp => sp.GetRequiredService<VectorIndexes>());
        services.AddSingleton<VectorLogPruning>();
        services.AddIrisJobs(sp => [sp.GetRequiredService<VectorLogPruning>()]);
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<VectorLogPruning>());
        services.AddSingleton<SearchPlanner>();
        services.AddSingleton<IApiModule, SearchesModule>();
        return services;
    }
}

/// <summary>DeleteApp and PatchAppsIds for saved searches: they go or move with the app.</summary>
internal sealed class SavedSearchesAppLifecycle(ISavedSearchStore store) : IAppLifecycleListener
{
    public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken) => store.PurgeAppAsync(app, cancellationToken);

    public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken) => store.RenameAppAsync(from, to, cancellationToken);
}
