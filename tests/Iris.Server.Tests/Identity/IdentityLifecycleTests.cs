using System.Net;
using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Server.Identity;
using Iris.Server.Tests.Infrastructure;
using Iris.Storage.Db;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Identity;

/// <summary>
/// Lifecycles around the matrix: key secrets shown once and stored as hashes, tokens made by the operator working at
/// once, deleted tokens and users stopping at once, apps deleted asynchronously, app fields, scopes read from the descriptors.
/// </summary>
public abstract class IdentityLifecycleTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : IdentityFixture
{
    private static UserAppIDSet Me => new() { UserId = "me" };

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task A_key_secret_is_shown_once_and_stored_only_as_a_hash()
    {
        var secret = await iris.CreateKeyAsync(IdentityFixture.AppA, "All");
        Assert.Matches("^[0-9a-f]{32}$", secret);

        // GetKey takes the public id or the secret, and never returns the secret.
        var bySecret = await iris.Grpc.GetKeyAsync(new GetKeyRequest { UserAppId = Me, KeyId = secret }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, bySecret.Status.Code);
        Assert.Matches("^[0-9a-f]{12}$", bySecret.Key.Id);

        var listed = await iris.Grpc.ListAppKeysAsync(new ListAppKeysRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = IdentityFixture.AppA } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, listed.Status.Code);
        Assert.DoesNotContain(listed.Keys, k => k.Id == secret);
        var key = Assert.Single(listed.Keys, k => k.Id == bySecret.Key.Id);
        Assert.Equal("app_specific_key", key.Type);
        Assert.Equal(["All"], key.Scopes);
        Assert.Equal(IdentityFixture.AppA, Assert.Single(key.Apps).Id);

        // Whatever the backend, no stored column holds the secret, its bytes or its hex.
        await using (var database = Database.Create(iris.DatabaseUrl, iris.DataDir, TimeProvider.System))
        await using (var session = await database.ReadAsync(CancellationToken.None))
        {
            var rows = await session.QueryAsync(r => (Id: r.GetString(0), Description: r.GetString(1), Hash: Sql.Bytes(r, 2)), "SELECT id, description, secret_hash FROM identity_keys;");
            Assert.NotEmpty(rows);
            Assert.DoesNotContain(rows, r => r.Id == secret || r.Description == secret || System.Text.Encoding.UTF8.GetString(r.Hash) == secret
                || Convert.ToHexString(r.Hash).Equals(secret, StringComparison.OrdinalIgnoreCase));
        }

        Assert.DoesNotContain(iris.Logs.Messages, m => m.Contains(secret, StringComparison.Ordinal));
        Assert.Contains(iris.Logs.Messages, m => m.StartsWith("Key created: " + bySecret.Key.Id + " (app_specific_key) for user admin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tokens_made_by_the_operator_work_at_once_and_stop_at_once()
    {
        await using var admin = await UserAdministration.OpenAsync(iris.DataDir, iris.DatabaseUrl);
        await admin.CreateUserAsync("olivia", "Olivia", "Operator", string.Empty);
        var (_, secret) = await admin.CreateTokenAsync("olivia", "cli");

        var user = await iris.Grpc.GetUserAsync(new GetUserRequest { UserAppId = Me }, IdentityFixture.Auth(secret));
        Assert.Equal(StatusCode.Success, user.Status.Code);
        Assert.Equal("olivia", user.User.Id);
        Assert.Equal("Olivia", user.User.FirstName);

        // A PAT made over the API, deleted over the API, stops at once.
        var post = new PostKeysRequest { UserAppId = Me, Keys = { new Key { Type = "personal_access_token", Description = "second" } } };
        var created = await iris.Grpc.PostKeysAsync(post, IdentityFixture.Auth(secret));
        Assert.Equal(StatusCode.Success, created.Status.Code);
        var pat = created.Keys.Single();
        Assert.Equal(["All"], pat.Scopes);
        Assert.Empty(pat.Apps);
        Assert.Equal(StatusCode.Success, (await iris.Grpc.GetUserAsync(new GetUserRequest { UserAppId = Me }, IdentityFixture.Auth(pat.Id))).Status.Code);
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteKeyAsync(new DeleteKeyRequest { UserAppId = Me, KeyId = pat.Id }, IdentityFixture.Auth(secret))).Status.Code);
        Assert.Equal(StatusCode.ConnKeyNotFound, (await iris.Grpc.GetUserAsync(new GetUserRequest { UserAppId = Me }, IdentityFixture.Auth(pat.Id))).Status.Code);
        Assert.Contains(iris.Logs.Messages, m => m.StartsWith("Key deleted: ", StringComparison.Ordinal) && m.Contains("of user olivia", StringComparison.Ordinal));

        // Deleting the user stops their tokens at once.
        await admin.DeleteUserAsync("olivia");
        var after = await iris.Grpc.GetUserAsync(new GetUserRequest { UserAppId = Me }, IdentityFixture.Auth(secret));
        Assert.Equal(StatusCode.ConnKeyNotFound, after.Status.Code);
    }

    [Fact]
    public async Task DeleteApp_hides_the_app_at_once_and_purges_it_in_the_background()
    {
        await iris.CreateAppAsync("doomed");
        var key = await iris.CreateKeyAsync("doomed", "All");
        // The purge job is done when the app's row is gone too (after every area purged its data).
        var rowRemoved = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        iris.Server.Services.GetRequiredService<AppDeletionWorker>().Purged += app =>
        {
            if (app == new AppRef("admin", "doomed"))
            {
                rowRemoved.TrySetResult();
            }
        };
        var ids = new UserAppIDSet { UserId = "me", AppId = "doomed" };

        var deleted = await iris.Grpc.DeleteAppAsync(new DeleteAppRequest { UserAppId = ids }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, deleted.Status.Code);

        var get = await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = ids }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, get.Status.Code);
        Assert.Equal("App 'doomed' of user 'admin' does not exist.", get.Status.Details);
        Assert.Equal(StatusCode.ConnKeyNotFound, (await iris.Grpc.GetAppAsync(new GetAppRequest(), IdentityFixture.Auth(key))).Status.Code);

        await iris.Listener.Purged(new AppRef("admin", "doomed")).WaitAsync(TimeSpan.FromSeconds(30));
        await rowRemoved.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Once purged, the id can be used again.
        var again = await iris.Grpc.PostAppsAsync(new PostAppsRequest { UserAppId = Me, Apps = { new App { Id = "doomed" } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, again.Status.Code);
    }

    [Fact]
    public async Task Apps_keep_their_fields_and_list_search_and_rename()
    {
        var request = new PostAppsRequest { UserAppId = Me };
        var metadata = new Google.Protobuf.WellKnownTypes.Struct();
        metadata.Fields["team"] = Google.Protobuf.WellKnownTypes.Value.ForString("vision");
#pragma warning disable CS0612 // default_workflow_id is deprecated but clients send it.
        request.Apps.Add(new App
        {
            Id = "fields", Name = "Fields app", Description = "d", DefaultLanguage = "fr", DefaultWorkflowId = "General",
            Visibility = new Visibility { Gettable = Visibility.Types.Gettable.Public }, Metadata = metadata,
        });
        var created = await iris.Grpc.PostAppsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, created.Status.Code);
        var app = created.Apps.Single();
        Assert.Equal("General", app.DefaultWorkflowId);
#pragma warning restore CS0612
        Assert.Equal(("Fields app", "fr", "admin", Visibility.Types.Gettable.Public), (app.Name, app.DefaultLanguage, app.UserId, app.Visibility.Gettable));
        Assert.Equal("vision", app.Metadata.Fields["team"].StringValue);

        var duplicate = await iris.Grpc.PostAppsAsync(new PostAppsRequest { UserAppId = Me, Apps = { new App { Id = "fields" } } }, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.ConnInvalidRequest, "App 'fields' already exists."), (duplicate.Status.Code, duplicate.Status.Details));
        var invalid = await iris.Grpc.PostAppsAsync(new PostAppsRequest { UserAppId = Me, Apps = { new App { Id = "bad id!" } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnInvalidRequest, invalid.Status.Code);

        // A public app of another user is visible to a stranger's PAT, for reading only.
        var searched = await iris.Grpc.PostAppsSearchesAsync(new PostAppsSearchesRequest { UserAppId = Me, AppQuery = new AppQuery { Name = "Fiel*" } }, IdentityFixture.Auth(iris.StevePat));
        Assert.Equal("fields", Assert.Single(searched.Apps).Id);
        var listed = await iris.Grpc.ListAppsAsync(new ListAppsRequest { UserAppId = new UserAppIDSet { UserId = "admin" } }, IdentityFixture.Auth(iris.StevePat));
        Assert.Equal(["fields"], listed.Apps.Select(a => a.Id));

        var (http, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Patch, "/v2/users/me/apps/ids", """{"ids":[{"id":"fields","new_id":"renamed"}],"action":"overwrite"}"""));
        Assert.Equal(HttpStatusCode.OK, http);
        Assert.Equal("renamed", body.GetProperty("apps")[0].GetProperty("id").GetString());
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = "fields" } }, IrisFixture.PatMetadata)).Status.Code);
    }

    [Fact]
    public async Task Scopes_come_from_the_descriptors()
    {
        var mine = await iris.Grpc.MyScopesAsync(new MyScopesRequest(), IdentityFixture.Auth(iris.NarrowKey));
        Assert.Equal(StatusCode.Success, mine.Status.Code);
        Assert.Equal(["Apps_Get"], mine.Scopes);
        Assert.Equal(IdentityFixture.AppA, mine.App.Id);

        var carol = await iris.Grpc.MyScopesAsync(new MyScopesRequest { UserAppId = new UserAppIDSet { UserId = "admin", AppId = IdentityFixture.AppA } }, IdentityFixture.Auth(iris.CarolPat));
        Assert.Equal(IdentityFixture.CarolScopes, carol.Scopes);

        var (http, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/scopes"));
        Assert.Equal(HttpStatusCode.OK, http);
        var deps = body.GetProperty("scope_deps").EnumerateArray().ToDictionary(e => e.GetProperty("scope").GetString()!, e => e);
        Assert.Equal(["Apps_Add", "Apps_Get"], deps["Apps_Delete"].GetProperty("depending_scopes").EnumerateArray().Select(e => e.GetString()));
        var endpoints = body.GetProperty("endpoint_deps").EnumerateArray().ToDictionary(e => e.GetProperty("endpoint").GetString()!, e => e);
        Assert.Equal(["Apps_Get", "Workflows_Get"], endpoints["/clarifai.api.V2/GetApp"].GetProperty("depending_scopes").EnumerateArray().Select(e => e.GetString()));
        Assert.DoesNotContain("/clarifai.api.V2/PostApps", endpoints.Keys);

        var badScope = new PostKeysRequest { UserAppId = Me, Keys = { new Key { Scopes = { "Everything" }, Apps = { new App { Id = IdentityFixture.AppA } } } } };
        var refused = await iris.Grpc.PostKeysAsync(badScope, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.ConnInvalidRequest, "Unknown scope 'Everything'. ListScopes lists the scopes."), (refused.Status.Code, refused.Status.Details));
    }

    [Fact]
    public async Task Collaborations_are_listed_for_the_collaborator()
    {
        var collaborations = await iris.Grpc.ListCollaborationsAsync(new ListCollaborationsRequest { UserAppId = Me }, IdentityFixture.Auth(iris.CarolPat));
        var collaboration = Assert.Single(collaborations.Collaborations);
        Assert.Equal((IdentityFixture.AppA, "admin"), (collaboration.App.Id, collaboration.AppOwner.Id));

        var listed = await iris.Grpc.ListCollaboratorsAsync(new ListCollaboratorsRequest { UserAppId = new UserAppIDSet { UserId = "admin", AppId = IdentityFixture.AppA } }, IdentityFixture.Auth(iris.CarolPat));
        Assert.Equal(StatusCode.Success, listed.Status.Code);
        Assert.Equal("carol", Assert.Single(listed.Collaborators).User.Id);
        Assert.Equal("admin", listed.AppOwner.Id);

        var stranger = await iris.Grpc.ListCollaborationsAsync(new ListCollaborationsRequest { UserAppId = Me }, IdentityFixture.Auth(iris.StevePat));
        Assert.Empty(stranger.Collaborations);
        var otherUser = await iris.Grpc.ListCollaborationsAsync(new ListCollaborationsRequest { UserAppId = new UserAppIDSet { UserId = "carol" } }, IdentityFixture.Auth(iris.StevePat));
        Assert.Equal((StatusCode.ConnDoesNotExist, "User 'carol' does not exist."), (otherUser.Status.Code, otherUser.Status.Details));
    }
}

public sealed class IdentityLifecycleTestsOnSqlite(IdentityFixture iris) : IdentityLifecycleTests<IdentityFixture>(iris);

public sealed class IdentityLifecycleTestsOnPostgres(PostgresIdentityFixture iris) : IdentityLifecycleTests<PostgresIdentityFixture>(iris);
