using Iris.Core.Ingestion;
using Iris.Inference.Engine;
using Iris.Inference.Indexing;
using Iris.Inference.Predict;
using Iris.Inference.Workflows;
using Iris.Inference.Zoo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Iris.Inference;

public static class InferenceServices
{
    /// <summary>The engine, the built-in models and the base-workflow indexer (its store, <c>IInputIndexStore</c>, comes with the storage services).</summary>
    public static IServiceCollection AddIrisInferenceEngine(this IServiceCollection services, string dataDir, InferenceOptions? options = null)
    {
        options ??= InferenceOptions.FromEnvironment();
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new ModelSources(sp.GetRequiredService<InferenceOptions>(), dataDir));
        services.TryAddSingleton(sp => new InferenceEngine(sp.GetRequiredService<InferenceOptions>(), sp.GetRequiredService<ModelSources>(), sp.GetRequiredService<ILogger<InferenceEngine>>()));
        services.TryAddSingleton<ModelZoo>();
        services.TryAddSingleton<IModelRegistry, ZooModelRegistry>();
        services.TryAddSingleton<PublicWorkflows>();
        services.TryAddSingleton<AppBaseWorkflows>();
        services.TryAddSingleton<IBaseWorkflows>(sp => sp.GetRequiredService<AppBaseWorkflows>());
        services.TryAddSingleton<WorkflowRunner>();
        services.AddSingleton<IInputIndexer, BaseWorkflowIndexer>();
        return services;
    }
}
