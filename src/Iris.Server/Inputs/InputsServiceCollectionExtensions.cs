using Iris.Core.Apps;
using Iris.Core.Fetching;
using Iris.Core.Inputs;
using Iris.Server.Api;
using Iris.Server.Rest;
using Iris.Storage;
using Iris.Storage.Inputs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Iris.Server.Inputs;

public static class InputsServiceCollectionExtensions
{
    /// <summary>Inputs, concepts, annotations, datasets, the ingestion workers and hosted image serving.</summary>
    public static IServiceCollection AddIrisInputs(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ => IngestionOptions.FromEnvironment());
        services.AddSingleton<IMigrationSet, InputsMigrations>();
        services.AddSingleton<SqliteInputStore>();
        services.AddSingleton<IInputStore>(sp => sp.GetRequiredService<SqliteInputStore>());
        services.AddSingleton<IDatasetStore>(sp => sp.GetRequiredService<SqliteInputStore>());
        services.AddSingleton<IWorkQueue, SqliteWorkQueue>();
        services.AddSingleton<IAppLifecycleListener, InputsAppLifecycle>();
        services.TryAddSingleton(_ => UrlFetcherOptions.FromEnvironment());
        services.TryAddSingleton<UrlFetcher>();
        services.AddSingleton<HostedUrls>();
        services.AddSingleton<InputMapper>();
        services.AddSingleton<IngestionWorkers>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<IngestionWorkers>());
        services.AddSingleton<IInputLookup, InputLookup>();
        services.AddSingleton<IRawRestHandler, HostedImageHandler>();
        services.AddSingleton<IApiModule, InputsModule>();
        services.AddSingleton<IApiModule, ConceptsModule>();
        services.AddSingleton<IApiModule, AnnotationsModule>();
        services.AddSingleton<IApiModule, DatasetsModule>();
        return services;
    }
}
