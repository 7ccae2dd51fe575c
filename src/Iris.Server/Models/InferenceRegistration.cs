using Iris.Core.Apps;
using Iris.Core.Fetching;
using Iris.Core.Inputs;
using Iris.Inference;
using Iris.Inference.Engine;
using Iris.Inference.Predict;
using Iris.Inference.Registry;
using Iris.Inference.Training;
using Iris.Server.Jobs;
using Iris.Storage.Models;
using Iris.Storage.Vectors;
using Iris.Server.Api;
using Iris.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Iris.Server.Models;

public static class InferenceRegistration
{
    /// <summary>The inference engine, the built-in models and the model RPCs (PostModelOutputs and the model reads).</summary>
    public static IServiceCollection AddIrisInference(this IServiceCollection services, IrisServerOptions options, InferenceOptions inference, UrlFetcherOptions fetching)
    {
        services.AddIrisInferenceEngine(options.DataDir, inference);
        // Predict by URL downloads through the same fetcher (and SSRF policy) as ingestion.
        services.TryAddSingleton(fetching);
        services.TryAddSingleton<UrlFetcher>();
        services.AddSingleton(sp => new ImagePredictor(sp.GetRequiredService<InferenceEngine>(), sp.GetRequiredService<UrlFetcher>(), sp.GetService<IInputLookup>()));
        services.AddSingleton<IApiModule, ModelsModule>();
        services.AddSingleton<IAppLifecycleListener, InferenceAppLifecycle>();

        // Users' models: the store, the registry over it and the built-ins (in place of the built-ins-only one), training.
        services.TryAddSingleton<IModelStore, SqlModelStore>();
        services.TryAddSingleton<ITrainingData, SqlTrainingData>();
        services.AddSingleton<StoredModelRegistry>();
        services.Replace(ServiceDescriptor.Singleton<IModelRegistry>(sp => sp.GetRequiredService<StoredModelRegistry>()));
        services.TryAddSingleton<EnrichmentNegatives>();
        services.AddSingleton<TrainingJob>();
        services.AddSingleton<EvaluationJob>();
        services.AddIrisJobs(sp => [sp.GetRequiredService<TrainingJob>(), sp.GetRequiredService<EvaluationJob>()]);
        services.AddSingleton<IAppLifecycleListener, ModelsAppLifecycle>();
        return services;
    }
}
