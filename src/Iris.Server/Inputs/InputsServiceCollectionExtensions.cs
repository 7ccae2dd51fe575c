using Iris.Core.Apps;
using Iris.Core.Fetching;
using Iris.Core.Inputs;
using Iris.Server.Api;
using Iris.Server.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Iris.Server.Jobs;

namespace Iris.Server.Inputs;

public static class InputsServiceCollectionExtensions
{
    /// <summary>Inputs, concepts, annotations, datasets, the ingestion jobs and hosted image serving, with their validated settings.</summary>
    public static IServiceCollection AddIrisInputs(this IServiceCollection services, IngestionOptions options, UrlFetcherOptions fetching)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton<IAppLifecycleListener, InputsAppLifecycle>();
        services.TryAddSingleton(fetching);
        services.TryAddSingleton<UrlFetcher>();
        services.AddSingleton<HostedUrls>();
        services.AddSingleton<InputMapper>();
        services.AddSingleton(sp => new ModelNames(sp.GetService<Iris.Inference.Zoo.ModelZoo>()));
        services.AddSingleton<IngestionWorkers>();
        services.AddIrisJobs(sp => sp.GetRequiredService<IngestionWorkers>().Handlers());
        services.AddSingleton<QueryableBackfill>();
        services.AddIrisJobs(sp => [sp.GetRequiredService<QueryableBackfill>()]);
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<QueryableBackfill>());
        services.AddSingleton<IInputLookup, InputLookup>();
        services.AddSingleton<IRawRestHandler, HostedImageHandler>();
        services.AddSingleton<IApiModule, InputsModule>();
        services.AddSingleton<IApiModule, ConceptsModule>();
        services.AddSingleton<IApiModule, AnnotationsModule>();
        services.AddSingleton<IApiModule, DatasetsModule>();
        return services;
    }
}
