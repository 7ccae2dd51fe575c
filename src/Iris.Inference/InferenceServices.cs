using Iris.Core.Ingestion;
using Iris.Inference.Engine;
using Iris.Inference.Indexing;
using Iris.Inference.Zoo;
using Iris.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Iris.Inference;

public static class InferenceServices
{
    /// <summary>The engine, the built-in models, the inference migrations and the base-workflow indexer.</summary>
    public static IServiceCollection AddIrisInferenceEngine(this IServiceCollection services, string dataDir, InferenceOptions? options = null)
    {
        options ??= InferenceOptions.FromEnvironment();
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new ModelSources(sp.GetRequiredService<InferenceOptions>(), dataDir));
        services.TryAddSingleton(sp => new InferenceEngine(sp.GetRequiredService<InferenceOptions>(), sp.GetRequiredService<ModelSources>(), sp.GetRequiredService<ILogger<InferenceEngine>>()));
        services.TryAddSingleton<ModelZoo>();
        services.AddSingleton<IMigrationSet, InferenceMigrations>();
        services.TryAddSingleton<IInputIndexStore>(sp => new SqliteInputIndexStore(sp.GetRequiredService<SqliteDatabase>()));
        services.AddSingleton<IInputIndexer, BaseWorkflowIndexer>();
        return services;
    }
}
