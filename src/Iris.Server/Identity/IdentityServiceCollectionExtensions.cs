using Iris.Server.Access;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Seams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Iris.Server.Jobs;

namespace Iris.Server.Identity;

public static class IdentityServiceCollectionExtensions
{
    /// <summary>Users, apps, keys, collaborators, the real <see cref="IAppAccess"/>, the credential store and the request budget.</summary>
    public static IServiceCollection AddIrisIdentity(this IServiceCollection services, IdentityOptions options)
    {
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.Replace(ServiceDescriptor.Singleton<ICredentialStore, DbCredentialStore>());
        services.AddSingleton<AppAccess>();
        services.AddSingleton<IAppAccess>(sp => sp.GetRequiredService<AppAccess>());
        services.AddSingleton<RequestBudget>();
        services.AddSingleton<AppDeletionWorker>();
        services.AddIrisJobs(sp => [sp.GetRequiredService<AppDeletionWorker>()]);
        services.AddSingleton<IApiModule, AppsModule>();
        services.AddSingleton<IApiModule, KeysModule>();
        services.AddSingleton<IApiModule, CollaboratorsModule>();
        services.AddSingleton<IApiModule, UsersModule>();
        return services;
    }
}
