using Iris.Core.Apps;
using Iris.Search.Index;
using Iris.Search.Planning;
using Iris.Server.Api;
using Iris.Storage.Searches;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Searches;

public static class SearchRegistration
{
    /// <summary>The search store, this node's vector indexes (which follow the store and forget deleted or renamed apps), the planner and the search RPCs.</summary>
    public static IServiceCollection AddIrisSearch(this IServiceCollection services)
    {
        services.AddSingleton<ISearchStore, SqlSearchStore>();
        services.AddSingleton<VectorIndexes>();
        services.AddSingleton<IAppLifecycleListener>(sp => sp.GetRequiredService<VectorIndexes>());
        services.AddSingleton<SearchPlanner>();
        services.AddSingleton<IApiModule, SearchesModule>();
        return services;
    }
}
