using Iris.Server.Inputs;
using Iris.Storage.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Iris.Server.Jobs;

public static class JobRegistration
{
    /// <summary>
    /// Registers an area's job handlers (made from the container, so they can use its services) and, once, the runner
    /// that runs every registered kind. Lease and back-off come from <c>IRIS_INGEST_LEASE_SECONDS</c> / <c>IRIS_INGEST_RETRY_MS</c>.
    /// </summary>
    public static IServiceCollection AddIrisJobs(this IServiceCollection services, Func<IServiceProvider, IEnumerable<IJobHandler>> handlers)
    {
        services.AddSingleton(new HandlerSource(handlers));
        if (services.Any(d => d.ServiceType == typeof(JobRunner)))
        {
            return services;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<JobSignal>();
        services.TryAddSingleton(sp =>
        {
            var ingestion = sp.GetRequiredService<IngestionOptions>();
            return new JobRunnerOptions(TimeSpan.FromSeconds(ingestion.LeaseSeconds), TimeSpan.FromMilliseconds(ingestion.RetryBaseMs));
        });
        services.AddSingleton(sp => new JobRunner(
            sp.GetRequiredService<Iris.Storage.Jobs.JobQueue>(),
            sp.GetRequiredService<JobSignal>(),
            sp.GetServices<HandlerSource>().SelectMany(s => s.Make(sp)).ToList(),
            sp.GetRequiredService<JobRunnerOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<JobRunner>>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<JobRunner>());
        return services;
    }

    private sealed record HandlerSource(Func<IServiceProvider, IEnumerable<IJobHandler>> Make);
}
