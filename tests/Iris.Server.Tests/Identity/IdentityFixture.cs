using System.Collections.Concurrent;
using Clarifai.Api;
using Grpc.Core;
using Iris.Core.Apps;
using Iris.Server.Identity;
using Iris.Storage.Identity;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Identity;

/// <summary>
/// A server with the cast of the access matrix: owner <c>admin</c> (bootstrap PAT) with apps <c>app-a</c> and <c>app-b</c>;
/// <c>carol</c> collaborating on app-a with read scopes; <c>steve</c>, a stranger; API keys of app-a (all scopes, only
/// Apps_Get, expired, deleted). Users and their PATs are made with <see cref="UserAdministration"/> on the live data
/// directory, as <c>iris users</c> does. A lifecycle listener records purged apps.
/// </summary>
public class IdentityFixture : IrisFixture, IAsyncLifetime
{
    public const string AppA = "app-a";
    public const string AppB = "app-b";
    public static readonly string[] CarolScopes = ["Apps_Get", "Workflows_Get", "Collaborators_Get"];

    public RecordingListener Listener { get; } = new();

    public string CarolPat { get; private set; } = string.Empty;

    public string StevePat { get; private set; } = string.Empty;

    public string KeyA { get; private set; } = string.Empty;

    public string NarrowKey { get; private set; } = string.Empty;

    public string ExpiredKey { get; private set; } = string.Empty;

    public string DeletedKey { get; private set; } = string.Empty;

    public static Metadata Auth(string token) => new() { { "authorization", "Key " + token } };

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IAppLifecycleListener>(Listener);

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await using var admin = await UserAdministration.OpenAsync(DataDir, DatabaseUrl);
        await admin.CreateUserAsync("carol", "Carol", "Collaborator", "carol@example.com");
        await admin.CreateUserAsync("steve", "Steve", "Stranger", string.Empty);
        CarolPat = (await admin.CreateTokenAsync("carol", "test")).Secret;
        StevePat = (await admin.CreateTokenAsync("steve", "test")).Secret;

        await CreateAppAsync(AppA);
        await CreateAppAsync(AppB);
        var collaborators = new PostCollaboratorsRequest { UserAppId = new UserAppIDSet { UserId = "admin", AppId = AppA } };
        collaborators.Collaborators.Add(new Collaborator { User = new User { Id = "carol" }, Scopes = { CarolScopes } });
        Ok((await Grpc.PostCollaboratorsAsync(collaborators, PatMetadata)).Status);

        KeyA = await CreateKeyAsync(AppA, "All");
        NarrowKey = await CreateKeyAsync(AppA, "Apps_Get");
        ExpiredKey = await CreateKeyAsync(AppA, "All", DateTimeOffset.UtcNow.AddHours(1));
        DeletedKey = await CreateKeyAsync(AppA, "All");

        // Expiry in the past cannot be set through the API; move it in the store, as time would.
        var store = Server.Services.GetRequiredService<IIdentityStore>();
        var expired = (await store.ListKeysAsync("admin", AppA, default)).Single(k => k.ExpiresAt is not null);
        await store.UpdateKeyAsync(expired with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) }, default);

        var delete = await Grpc.DeleteKeyAsync(new DeleteKeyRequest { UserAppId = new UserAppIDSet { UserId = "me" }, KeyId = DeletedKey }, PatMetadata);
        Ok(delete.Status);
    }

    public async Task<string> CreateKeyAsync(string appId, string scope, DateTimeOffset? expires = null)
    {
        var request = new PostKeysRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        var key = new Key { Description = "test key " + scope, Scopes = { scope }, Apps = { new App { Id = appId, UserId = "admin" } } };
        if (expires is { } e)
        {
            key.ExpiresAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(e);
        }

        request.Keys.Add(key);
        var response = await Grpc.PostKeysAsync(request, PatMetadata);
        Ok(response.Status);
        return response.Keys.Single().Id;
    }

    public static void Ok(Clarifai.Api.Status.Status status)
    {
        if (status.Code != StatusCode.Success)
        {
            throw new InvalidOperationException($"{status.Code} {status.Description}: {status.Details}");
        }
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    /// <summary>Records the apps the deletion worker purges, so tests wait on a condition instead of sleeping.</summary>
    public sealed class RecordingListener : IAppLifecycleListener
    {
        private readonly ConcurrentDictionary<AppRef, TaskCompletionSource> _purged = new();

        public Task Purged(AppRef app) => _purged.GetOrAdd(app, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
        {
            _purged.GetOrAdd(app, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            return Task.CompletedTask;
        }

        public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>The same server on PostgreSQL: the test classes that take this fixture run unchanged against it.</summary>
public sealed class PostgresIdentityFixture : IdentityFixture
{
    protected override bool OnPostgres => true;
}
