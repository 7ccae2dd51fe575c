using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Identity;

/// <summary>
/// The access matrix of seeds/002 ("Changes to the Use of PATs and API Keys"): every kind of caller × read and write,
/// over gRPC and REST, each cell asserting the exact status code, description, details and HTTP status. Reads are
/// GetApp; writes are PatchApp for PATs (PAT-only RPC) and PatchCollaborators for API keys (a KeyAuth write).
/// </summary>
public abstract class AccessMatrixTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : IdentityFixture
{
    private const string Ok = "Ok";
    private const string NotExist = "Resource does not exist";
    private const string BadKey = "Invalid API key or Invalid API key/application pair";
    private const string Scopes = "Insufficient API key scopes";
    private const string KeyReachesOwnApp = "An app-specific API key reaches only its own app; use a personal access token to reach app '{0}' of user '{1}'.";

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    public enum Caller
    {
        Owner,
        Collaborator,
        Stranger,
        KeyA,
        NarrowKey,
        ExpiredKey,
        DeletedKey,
    }

    /// <summary>A probe: the RPC, the app it names (null user and app = the short route), and the expected answer.</summary>
    public sealed record Cell(Caller Caller, string Rpc, string? User, string? App, int Code, string Description, string Details, HttpStatusCode Http)
    {
        public override string ToString() => $"{Caller} {Rpc} {User}/{App} → {Code}";
    }

    public static TheoryData<Cell> Cells => new()
    {
        // Owner PAT: own app, read and write.
        new(Caller.Owner, "GetApp", "admin", IdentityFixture.AppA, 10000, Ok, "", HttpStatusCode.OK),
        new(Caller.Owner, "PatchApp", "me", IdentityFixture.AppA, 10000, Ok, "", HttpStatusCode.OK),
        // A PAT must name the app.
        new(Caller.Owner, "GetApp", null, null, 11008, BadKey, "Must provide app external ID in API authorizer", HttpStatusCode.Unauthorized),
        // Collaborator PAT: reads within the granted scopes; writing needs Apps_Add, which was not granted.
        new(Caller.Collaborator, "GetApp", "admin", IdentityFixture.AppA, 10000, Ok, "", HttpStatusCode.OK),
        new(Caller.Collaborator, "PatchApp", "admin", IdentityFixture.AppA, 11007, Scopes,
            "As a collaborator on app 'app-a' of user 'admin' you lack the scope Apps_Add required by PatchApp.", HttpStatusCode.Forbidden),
        // Collaborator on an app not shared with them, and stranger: exactly as an app that does not exist.
        new(Caller.Collaborator, "GetApp", "admin", IdentityFixture.AppB, 11101, NotExist, "App 'app-b' of user 'admin' does not exist.", HttpStatusCode.NotFound),
        new(Caller.Stranger, "GetApp", "admin", IdentityFixture.AppA, 11101, NotExist, "App 'app-a' of user 'admin' does not exist.", HttpStatusCode.NotFound),
        new(Caller.Stranger, "GetApp", "admin", "no-such-app", 11101, NotExist, "App 'no-such-app' of user 'admin' does not exist.", HttpStatusCode.NotFound),
        new(Caller.Stranger, "PatchApp", "admin", IdentityFixture.AppA, 11101, NotExist, "App 'app-a' of user 'admin' does not exist.", HttpStatusCode.NotFound),
        // API key of app A: on its app (short route, or naming it), on app B, and on PAT-only RPCs.
        new(Caller.KeyA, "GetApp", null, null, 10000, Ok, "", HttpStatusCode.OK),
        new(Caller.KeyA, "GetApp", "admin", IdentityFixture.AppA, 10000, Ok, "", HttpStatusCode.OK),
        new(Caller.KeyA, "PatchCollaborators", "admin", IdentityFixture.AppA, 10000, Ok, "", HttpStatusCode.OK),
        new(Caller.KeyA, "GetApp", "admin", IdentityFixture.AppB, 11008, BadKey, string.Format(null, KeyReachesOwnApp, "app-b", "admin"), HttpStatusCode.Unauthorized),
        new(Caller.KeyA, "PatchCollaborators", "admin", IdentityFixture.AppB, 11008, BadKey, string.Format(null, KeyReachesOwnApp, "app-b", "admin"), HttpStatusCode.Unauthorized),
        new(Caller.KeyA, "PatchApp", "admin", IdentityFixture.AppA, 11008, BadKey,
            "PatchApp takes a personal access token; an app-specific API key cannot call it.", HttpStatusCode.Unauthorized),
        // A key lacking scopes: named from cl_depending_scopes.
        new(Caller.NarrowKey, "GetApp", null, null, 11007, Scopes, "The API key lacks the scope Workflows_Get required by GetApp.", HttpStatusCode.Forbidden),
        new(Caller.NarrowKey, "PatchCollaborators", "admin", IdentityFixture.AppA, 11007, Scopes,
            "The API key lacks the scopes Collaborators_Add, Collaborators_Get, Collaborators_Delete required by PatchCollaborators.", HttpStatusCode.Forbidden),
        // Expired and deleted keys stop working.
        new(Caller.ExpiredKey, "GetApp", null, null, 11008, BadKey, "expired", HttpStatusCode.Unauthorized),
        new(Caller.ExpiredKey, "PatchCollaborators", "admin", IdentityFixture.AppA, 11008, BadKey, "expired", HttpStatusCode.Unauthorized),
        new(Caller.DeletedKey, "GetApp", null, null, 11009, "API key not found", "No API key or personal access token matches the key provided.", HttpStatusCode.Unauthorized),
        new(Caller.DeletedKey, "PatchCollaborators", "admin", IdentityFixture.AppA, 11009, "API key not found",
            "No API key or personal access token matches the key provided.", HttpStatusCode.Unauthorized),
        // Public clarifai/main: a PAT reads, never writes; an API key does not reach it at all.
        new(Caller.Stranger, "GetApp", "clarifai", "main", 10000, Ok, "", HttpStatusCode.OK),
        new(Caller.Owner, "PatchApp", "clarifai", "main", 11101, NotExist,
            "App 'main' of user 'clarifai' is public and read-only: only its owner and collaborators can change it.", HttpStatusCode.NotFound),
        new(Caller.KeyA, "GetApp", "clarifai", "main", 11008, BadKey, string.Format(null, KeyReachesOwnApp, "main", "clarifai"), HttpStatusCode.Unauthorized),
        new(Caller.KeyA, "PatchCollaborators", "clarifai", "main", 11008, BadKey, string.Format(null, KeyReachesOwnApp, "main", "clarifai"), HttpStatusCode.Unauthorized),
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task gRPC_cell(Cell cell)
    {
        var metadata = IdentityFixture.Auth(Token(cell.Caller));
        var ids = cell.App is null ? null : new UserAppIDSet { UserId = cell.User, AppId = cell.App };
        Clarifai.Api.Status.Status status;
        App? app = null;
        switch (cell.Rpc)
        {
            case "GetApp":
                var get = await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = ids }, metadata);
                (status, app) = (get.Status, get.App);
                break;
            case "PatchApp":
                var patch = await iris.Grpc.PatchAppAsync(new PatchAppRequest { UserAppId = ids, App = new App { Description = "patched over gRPC" }, Action = "overwrite" }, metadata);
                (status, app) = (patch.Status, patch.App);
                break;
            default:
                var collaborators = new PatchCollaboratorsRequest { UserAppId = ids, Action = "overwrite" };
                collaborators.Collaborators.Add(new Collaborator { User = new User { Id = "carol" }, Scopes = { IdentityFixture.CarolScopes } });
                status = (await iris.Grpc.PatchCollaboratorsAsync(collaborators, metadata)).Status;
                break;
        }

        Assert.Equal(cell.Code, (int)status.Code);
        Assert.Equal(cell.Description, status.Description);
        AssertDetails(cell, status.Details);
        Assert.Matches("^[0-9a-f]{32}$", status.ReqId);
        if (cell.Code == 10000 && app is not null)
        {
            Assert.Equal(cell.App ?? IdentityFixture.AppA, app.Id);
        }
        else if (cell.Code != 10000)
        {
            Assert.Null(app);
        }
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task REST_cell(Cell cell)
    {
        var prefix = cell.App is null ? "/v2/app" : $"/v2/users/{cell.User}/apps/{cell.App}";
        var request = cell.Rpc switch
        {
            "GetApp" => new HttpRequestMessage(HttpMethod.Get, prefix),
            "PatchApp" => new HttpRequestMessage(HttpMethod.Patch, prefix)
            {
                Content = Body("""{"app":{"description":"patched over REST"},"action":"overwrite"}"""),
            },
            _ => new HttpRequestMessage(HttpMethod.Patch, prefix + "/collaborators")
            {
                Content = Body("""{"action":"overwrite","collaborators":[{"user":{"id":"carol"},"scopes":["Apps_Get","Workflows_Get","Collaborators_Get"]}]}"""),
            },
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Key " + Token(cell.Caller));

        var (http, body, _) = await Json.SendAsync(iris.Http, request);

        Assert.Equal(cell.Http, http);
        Assert.Equal(cell.Code, body.Code());
        Assert.Equal(cell.Description, body.Description());
        AssertDetails(cell, body.GetProperty("status").TryGetProperty("details", out var d) ? d.GetString()! : string.Empty);
        if (cell.Rpc != "PatchCollaborators")
        {
            Assert.Equal(cell.Code == 10000, body.TryGetProperty("app", out var app) && app.ValueKind == JsonValueKind.Object);
        }
    }

    private static void AssertDetails(Cell cell, string details)
    {
        if (cell.Details == "expired")
        {
            Assert.Matches("^The key expired at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\\.$", details);
        }
        else
        {
            Assert.Equal(cell.Details, details);
        }
    }

    private static StringContent Body(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private string Token(Caller caller) => caller switch
    {
        Caller.Owner => IrisFixture.Pat,
        Caller.Collaborator => iris.CarolPat,
        Caller.Stranger => iris.StevePat,
        Caller.KeyA => iris.KeyA,
        Caller.NarrowKey => iris.NarrowKey,
        Caller.ExpiredKey => iris.ExpiredKey,
        _ => iris.DeletedKey,
    };
}

public sealed class AccessMatrixTestsOnSqlite(IdentityFixture iris) : AccessMatrixTests<IdentityFixture>(iris);

public sealed class AccessMatrixTestsOnPostgres(PostgresIdentityFixture iris) : AccessMatrixTests<PostgresIdentityFixture>(iris);
