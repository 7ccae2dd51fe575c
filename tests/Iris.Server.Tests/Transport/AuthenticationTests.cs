using System.Net;
using Clarifai.Api;
using Grpc.Core;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Transport;

/// <summary>The auth seam answers each failure of CLARIFAI_FACTS.md 1.7 exactly, on gRPC and REST, and lets the bootstrap PAT through.</summary>
public sealed class AuthenticationTests(IrisFixture iris) : IClassFixture<IrisFixture>, IDisposable
{
    private const string Malformed = "Empty or malformed authorization header. Please provide an API key or session token.";

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    public static TheoryData<string?, int, string, string, HttpStatusCode> Failures => new()
    {
        { null, 11102, "Invalid request", Malformed, HttpStatusCode.BadRequest },
        { "", 11102, "Invalid request", Malformed, HttpStatusCode.BadRequest },
        { "key " + IrisFixture.Pat, 11102, "Invalid request", Malformed, HttpStatusCode.BadRequest },
        { "Bearer " + IrisFixture.Pat, 11102, "Invalid request", Malformed, HttpStatusCode.BadRequest },
        { "Key", 11102, "Invalid request", Malformed, HttpStatusCode.BadRequest },
        { "Key a b", 11102, "Invalid request", Malformed, HttpStatusCode.BadRequest },
        { "Key not!a@key", 11008, "Invalid API key or Invalid API key/application pair", "Invalid format of key.", HttpStatusCode.Unauthorized },
        { "Key 0123456789abcdef0123456789abcdef", 11009, "API key not found", "No API key or personal access token matches the key provided.", HttpStatusCode.Unauthorized },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task REST_refuses_bad_credentials_precisely(string? header, int code, string description, string details, HttpStatusCode http)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v2/users/me/apps/main/models");
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", header);
        }

        var (status, body, _) = await Json.SendAsync(iris.Http, request);

        Assert.Equal(http, status);
        Assert.Equal(code, body.Code());
        Assert.Equal(description, body.Description());
        Assert.Equal(details, body.Details());
        Assert.Equal(0, body.GetProperty("models").GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task gRPC_refuses_bad_credentials_precisely(string? header, int code, string description, string details, HttpStatusCode http)
    {
        _ = http;
        var metadata = new Metadata();
        if (!string.IsNullOrEmpty(header))
        {
            metadata.Add("authorization", header);
        }

        var response = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = new UserAppIDSet { UserId = "me", AppId = "main" } }, metadata);

        Assert.Equal(code, (int)response.Status.Code);
        Assert.Equal(description, response.Status.Description);
        Assert.Equal(details, response.Status.Details);
    }

    [Fact]
    public async Task The_bootstrap_PAT_is_accepted_and_reaches_the_handler_stage()
    {
        // Compute clusters are a hosted-platform concept Iris does not serve.
        var response = await iris.Grpc.ListComputeClustersAsync(new ListComputeClustersRequest(), IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.NotImplemented, response.Status.Code);

        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/compute_clusters"));
        Assert.Equal(HttpStatusCode.NotImplemented, status);
        Assert.Equal(10040, body.Code());
    }

    [Fact]
    public async Task Denied_requests_are_logged_without_the_secret()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v2/models");
        request.Headers.TryAddWithoutValidation("Authorization", "Key 0123456789abcdef0123456789abcdef");
        await Json.SendAsync(iris.Http, request);

        Assert.Contains(iris.Logs.Messages, m => m.StartsWith("Denied ListModels: status 11009", StringComparison.Ordinal));
        Assert.DoesNotContain(iris.Logs.Messages, m => m.Contains("0123456789abcdef0123456789abcdef", StringComparison.Ordinal));
    }

    [Fact]
    public void The_bootstrap_token_file_is_written_only_when_no_token_is_given()
    {
        // The fixture passes IRIS_BOOTSTRAP_PAT's equivalent, so nothing is generated or written.
        Assert.False(iris.Server.Bootstrap.Generated);
        Assert.False(File.Exists(Path.Combine(iris.DataDir, "bootstrap-pat")));
    }
}
