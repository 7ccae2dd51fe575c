using System.Net;
using System.Text.Json;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Identity;

/// <summary>The remaining identity RPCs over REST, as curl users call them: patching apps and keys, collaborators, users, scopes.</summary>
public abstract class IdentityRestTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : IdentityFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task Apps_are_patched_by_action_and_details_only_change_notes_and_description()
    {
        await iris.CreateAppAsync("patchy");
        var (http, body) = await Send(HttpMethod.Patch, "/v2/users/me/apps",
            """{"apps":[{"id":"patchy","name":"Patchy","metadata":{"a":1,"nested":{"x":1}}}],"action":"overwrite"}""");
        Assert.Equal(HttpStatusCode.OK, http);
        (http, body) = await Send(HttpMethod.Patch, "/v2/users/me/apps",
            """{"apps":[{"id":"patchy","metadata":{"b":2,"nested":{"y":2}}}],"action":"merge"}""");
        Assert.Equal(HttpStatusCode.OK, http);
        var app = body.GetProperty("apps")[0];
        Assert.Equal("Patchy", app.GetProperty("name").GetString());
        Assert.Equal("""{"a":1,"nested":{"x":1,"y":2},"b":2}""", JsonSerializer.Serialize(app.GetProperty("metadata")));

        (http, body) = await Send(HttpMethod.Patch, "/v2/users/me/apps/patchy/partial", """{"apps":[{"notes":"some notes","description":"desc"}],"action":"overwrite"}""");
        Assert.Equal(HttpStatusCode.OK, http);
        Assert.Equal(("some notes", "desc", "Patchy"), (body.GetProperty("apps")[0].GetProperty("notes").GetString(),
            body.GetProperty("apps")[0].GetProperty("description").GetString(), body.GetProperty("apps")[0].GetProperty("name").GetString()));

        (http, body) = await Send(HttpMethod.Patch, "/v2/users/me/apps/patchy", """{"app":{"visibility":{"gettable":20}},"action":"overwrite"}""");
        Assert.Equal(HttpStatusCode.BadRequest, http);
        Assert.Equal((11100, "Invalid value 20 for enum field 'app.visibility.gettable' (Gettable)."), (body.Code(), body.Details()));

        (http, body) = await Send(HttpMethod.Patch, "/v2/users/me/apps", """{"apps":[{"id":"missing-app","name":"x"}],"action":"overwrite"}""");
        Assert.Equal((HttpStatusCode.NotFound, 11101, "App 'missing-app' of user 'admin' does not exist."), (http, body.Code(), body.Details()));
    }

    [Fact]
    public async Task Keys_are_listed_filtered_patched_and_deleted()
    {
        var (http, body) = await Send(HttpMethod.Post, "/v2/users/me/keys",
            """{"keys":[{"description":"reader","scopes":["Inputs_Get"],"endpoints":["PostModelOutputs"],"apps":[{"id":"app-a"}]}]}""");
        Assert.Equal(HttpStatusCode.OK, http);
        var created = body.GetProperty("keys")[0];
        Assert.Equal(["/clarifai.api.V2/PostModelOutputs"], created.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        var secret = created.GetProperty("id").GetString()!;

        (_, body) = await Send(HttpMethod.Get, "/v2/users/me/keys?scopes=Inputs_Get&type=app_specific_key&not_expired=true");
        var listed = Assert.Single(body.GetProperty("keys").EnumerateArray());
        var keyId = listed.GetProperty("id").GetString()!;
        Assert.NotEqual(secret, keyId);

        (http, body) = await Send(HttpMethod.Patch, "/v2/users/me/keys", $$"""{"keys":[{"id":"{{keyId}}","scopes":["Concepts_Get"],"description":"reader 2"}],"action":"merge"}""");
        Assert.Equal(HttpStatusCode.OK, http);
        Assert.Equal(["Inputs_Get", "Concepts_Get"], body.GetProperty("keys")[0].GetProperty("scopes").EnumerateArray().Select(e => e.GetString()));

        // The key's endpoint lets it predict without the Predict scope; GetApp still needs its scopes.
        var scopes = await Send(HttpMethod.Get, "/v2/myscopes", token: secret);
        Assert.Equal(["Concepts_Get", "Inputs_Get"], scopes.Body.GetProperty("scopes").EnumerateArray().Select(e => e.GetString()));

        (http, body) = await Send(HttpMethod.Delete, $"/v2/users/me/keys/{keyId}");
        Assert.Equal(HttpStatusCode.OK, http);
        (http, body) = await Send(HttpMethod.Get, $"/v2/users/me/keys/{keyId}");
        Assert.Equal((HttpStatusCode.NotFound, 11101, "User 'admin' has no key with the given key_id."), (http, body.Code(), body.Details()));
        (http, _) = await Send(HttpMethod.Get, "/v2/myscopes", token: secret);
        Assert.Equal(HttpStatusCode.Unauthorized, http);
    }

    [Fact]
    public async Task Collaborators_are_added_patched_and_removed_by_the_owner_only()
    {
        await iris.CreateAppAsync("shared");
        var (http, body) = await Send(HttpMethod.Post, "/v2/users/me/apps/shared/collaborators", """{"collaborators":[{"user":{"id":"steve"},"scopes":["Apps_Get"]}]}""");
        Assert.Equal(HttpStatusCode.OK, http);
        Assert.Equal("steve", body.GetProperty("collaborators")[0].GetProperty("user").GetProperty("id").GetString());

        (http, body) = await Send(HttpMethod.Post, "/v2/users/me/apps/shared/collaborators", """{"collaborators":[{"user":{"id":"steve"},"scopes":["Apps_Get"]}]}""");
        Assert.Equal((HttpStatusCode.BadRequest, "User 'steve' already collaborates on app 'shared'."), (http, body.Details()));
        (http, body) = await Send(HttpMethod.Post, "/v2/users/me/apps/shared/collaborators", """{"collaborators":[{"user":{"id":"nobody"},"scopes":["Apps_Get"]}]}""");
        Assert.Equal((HttpStatusCode.NotFound, "User 'nobody' does not exist."), (http, body.Details()));

        // Steve now reads the app (Apps_Get) but GetApp also needs Workflows_Get; patch it in, then he can.
        (http, body) = await Send(HttpMethod.Get, "/v2/users/admin/apps/shared", token: iris.StevePat);
        Assert.Equal((HttpStatusCode.Forbidden, "As a collaborator on app 'shared' of user 'admin' you lack the scope Workflows_Get required by GetApp."), (http, body.Details()));
        (http, _) = await Send(HttpMethod.Patch, "/v2/users/me/apps/shared/collaborators", """{"collaborators":[{"user":{"id":"steve"},"scopes":["Workflows_Get"]}],"action":"merge"}""");
        Assert.Equal(HttpStatusCode.OK, http);
        (http, _) = await Send(HttpMethod.Get, "/v2/users/admin/apps/shared", token: iris.StevePat);
        Assert.Equal(HttpStatusCode.OK, http);

        // A collaborator cannot manage collaborators.
        (http, body) = await Send(HttpMethod.Delete, "/v2/users/admin/apps/shared/collaborators", """{"collaborator_ids":["steve"]}""", iris.StevePat);
        Assert.Equal((HttpStatusCode.Forbidden, 11007), (http, body.Code()));

        (http, _) = await Send(HttpMethod.Delete, "/v2/users/me/apps/shared/collaborators", """{"collaborator_ids":["steve"]}""");
        Assert.Equal(HttpStatusCode.OK, http);
        (http, body) = await Send(HttpMethod.Get, "/v2/users/admin/apps/shared", token: iris.StevePat);
        Assert.Equal((HttpStatusCode.NotFound, "App 'shared' of user 'admin' does not exist."), (http, body.Details()));
    }

    [Fact]
    public async Task Users_are_visible_to_themselves_and_when_public()
    {
        var (http, body) = await Send(HttpMethod.Get, "/v2/users/me");
        Assert.Equal(HttpStatusCode.OK, http);
        Assert.Equal("admin", body.GetProperty("user").GetProperty("id").GetString());

        (http, body) = await Send(HttpMethod.Get, "/v2/users/clarifai", token: iris.StevePat);
        Assert.Equal(HttpStatusCode.OK, http);
        Assert.False(body.GetProperty("user").TryGetProperty("user_detail", out _));

        (http, body) = await Send(HttpMethod.Get, "/v2/users/carol", token: iris.StevePat);
        Assert.Equal((HttpStatusCode.NotFound, 11101, "User 'carol' does not exist."), (http, body.Code(), body.Details()));

        (http, body) = await Send(HttpMethod.Get, "/v2/users/me/myscopes");
        Assert.Equal(["All"], body.GetProperty("scopes").EnumerateArray().Select(e => e.GetString()));
        (http, body) = await Send(HttpMethod.Get, "/v2/myscopesroot");
        Assert.Equal(HttpStatusCode.OK, http);
    }

    private async Task<(HttpStatusCode Http, JsonElement Body)> Send(HttpMethod method, string path, string? json = null, string? token = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("Authorization", "Key " + (token ?? IrisFixture.Pat));
        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        var (http, body, _) = await Json.SendAsync(iris.Http, request);
        return (http, body);
    }
}

public sealed class IdentityRestTestsOnSqlite(IdentityFixture iris) : IdentityRestTests<IdentityFixture>(iris);

public sealed class IdentityRestTestsOnPostgres(PostgresIdentityFixture iris) : IdentityRestTests<PostgresIdentityFixture>(iris);
