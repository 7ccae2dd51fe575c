using Iris.Storage;
using Iris.Storage.Blobs;
using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Vectors;
using Iris.Storage.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Iris.Server.Hosting;

public static class StorageRegistration
{
    /// <summary>
    /// The metadata database the options name (SQLite in the data directory by default, or PostgreSQL), the blob store,
    /// the job queue and every area's store. The schema is migrated by <see cref="IrisServer.StartAsync"/>.
    /// </summary>
    public static IServiceCollection AddIrisStorage(this IServiceCollection services, IrisServerOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => Database.Create(options.DatabaseUrl, options.DataDir, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IBlobStore>(_ => new FileBlobStore(options.EffectiveBlobDir));
        services.AddSingleton<JobQueue>();
        services.AddSingleton<IIdentityStore, SqlIdentityStore>();
        services.AddSingleton<SqlInputStore>();
        services.AddSingleton<IInputStore>(sp => sp.GetRequiredService<SqlInputStore>());
        services.AddSingleton<IDatasetStore>(sp => sp.GetRequiredService<SqlInputStore>());
        services.AddSingleton<IQueryableBackfillStore, SqlQueryableBackfillStore>();
        services.AddSingleton<IInputIndexStore, SqlInputIndexStore>();
        services.AddSingleton<IWorkflowStore, SqlWorkflowStore>();
        return services;
    }

    /// <summary>Migrates every area once (several nodes starting together take turns).</summary>
    public static Task MigrateStorageAsync(this IServiceProvider services, CancellationToken cancellationToken) =>
        services.GetRequiredService<Database>().MigrateAsync(StorageAreas.Migrations, cancellationToken);
}
