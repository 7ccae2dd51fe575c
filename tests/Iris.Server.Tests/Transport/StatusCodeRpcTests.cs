using System.Net;
using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Transport;

/// <summary>The NoAuth RPCs (ListStatusCodes, GetStatusCode, ListOpenSourceLicenses) answer the same over gRPC and REST.</summary>
public sealed class StatusCodeRpcTests(IrisFixture iris) : IClassFixture<IrisFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task ListStatusCodes_over_gRPC_lists_every_code_with_a_description()
    {
        var response = await iris.Grpc.ListStatusCodesAsync(new ListStatusCodesRequest());

        Assert.Equal(StatusCode.Success, response.Status.Code);
        Assert.Equal("Ok", response.Status.Description);
        Assert.Matches("^[0-9a-f]{32}$", response.Status.ReqId);
        var distinct = Enum.GetValues<StatusCode>().Select(c => (int)c).Where(c => c != 0).Distinct().Count();
        Assert.Equal(distinct, response.Statuses.Count);
        Assert.True(distinct > 300, $"only {distinct} codes");
        Assert.All(response.Statuses, s => Assert.False(string.IsNullOrWhiteSpace(s.Description)));
        Assert.Equal("Model does not exist", response.Statuses.Single(s => s.Code == StatusCode.ModelDoesNotExist).Description);
        Assert.Equal("Download pending", response.Statuses.Single(s => s.Code == StatusCode.InputPending).Description);
        Assert.Equal("Invalid API key or Invalid API key/application pair", response.Statuses.Single(s => s.Code == StatusCode.ConnKeyInvalid).Description);
    }

    [Fact]
    public async Task ListStatusCodes_over_REST_needs_no_key_and_writes_integer_codes()
    {
        var (status, body, response) = await Json.GetAsync(iris.Http, "/v2/status_codes");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, body.Code());
        Assert.Equal("Ok", body.Description());
        var statuses = body.GetProperty("statuses");
        Assert.True(statuses.GetArrayLength() > 300);
        var first = statuses[0];
        Assert.Equal(System.Text.Json.JsonValueKind.Number, first.GetProperty("code").ValueKind);
        Assert.Equal(10000, first.GetProperty("code").GetInt32());
        Assert.Equal(body.GetProperty("status").GetProperty("req_id").GetString(), response.Headers.GetValues("X-Clarifai-Request-ID").Single());
    }

    [Theory]
    [InlineData("21200", 21200, "Model does not exist", "MODEL_DOES_NOT_EXIST")]
    [InlineData("30001", 30001, "Download pending", "INPUT_PENDING")]
    [InlineData("11009", 11009, "API key not found", "CONN_KEY_NOT_FOUND")]
    [InlineData("24150", 24150, "Annotation success", "ANNOTATION_SUCCESS")]
    [InlineData("21110", 21110, "Model training no data", "MODEL_TRAINING_NO_DATA")]
    public async Task GetStatusCode_describes_the_code_asked_for(string id, int code, string description, string name)
    {
        var (status, body, _) = await Json.GetAsync(iris.Http, "/v2/status_codes/" + id);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(code, body.Code());
        Assert.Equal(description, body.Description());
        Assert.Equal(name, body.Details());

        var grpc = await iris.Grpc.GetStatusCodeAsync(new GetStatusCodeRequest { StatusCodeId = id });
        Assert.Equal(code, (int)grpc.Status.Code);
        Assert.Equal(description, grpc.Status.Description);
    }

    [Theory]
    [InlineData("12345", HttpStatusCode.NotFound, 11101, "status code 12345 does not exist.")]
    [InlineData("0", HttpStatusCode.NotFound, 11101, "status code 0 does not exist.")]
    [InlineData("abc", HttpStatusCode.BadRequest, 11102, "status_code_id 'abc' is not a number.")]
    public async Task GetStatusCode_refuses_what_is_no_code(string id, HttpStatusCode http, int code, string details)
    {
        var (status, body, _) = await Json.GetAsync(iris.Http, "/v2/status_codes/" + id);
        Assert.Equal(http, status);
        Assert.Equal(code, body.Code());
        Assert.Equal(details, body.Details());
    }

    [Fact]
    public async Task ListOpenSourceLicenses_answers_on_both_transports()
    {
        var grpc = await iris.Grpc.ListOpenSourceLicensesAsync(new ListOpenSourceLicensesRequest());
        Assert.Equal(StatusCode.Success, grpc.Status.Code);
        Assert.Contains("Apache-2.0", grpc.Licenses);
        Assert.Contains("MIT", grpc.Licenses);
        Assert.Contains("AGPL-3.0", grpc.Licenses);

        var (status, body, _) = await Json.GetAsync(iris.Http, "/v2/open_source_licenses");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(grpc.Licenses.ToArray(), body.GetProperty("licenses").EnumerateArray().Select(e => e.GetString()).ToArray());
    }

    [Fact]
    public void Every_code_has_a_description_and_an_HTTP_status()
    {
        foreach (var code in StatusCatalog.AllCodes)
        {
            Assert.False(string.IsNullOrWhiteSpace(StatusCatalog.Describe(code)));
            Assert.InRange(StatusCatalog.HttpStatus(code), 200, 599);
        }
    }

    [Theory]
    [InlineData(StatusCode.Success, 200)]
    [InlineData(StatusCode.MixedStatus, 200)]
    [InlineData(StatusCode.Failure, 400)]
    [InlineData(StatusCode.NotImplemented, 501)]
    [InlineData(StatusCode.ConnKeyInvalid, 401)]
    [InlineData(StatusCode.ConnKeyNotFound, 401)]
    [InlineData(StatusCode.ConnInsufficientScopes, 403)]
    [InlineData(StatusCode.ConnDoesNotExist, 404)]
    [InlineData(StatusCode.ModelDoesNotExist, 404)]
    [InlineData(StatusCode.WorkflowDoesNotExist, 404)]
    [InlineData(StatusCode.InputDoesNotExist, 404)]
    [InlineData(StatusCode.ConnBadRequestFormat, 400)]
    [InlineData(StatusCode.ConnInvalidRequest, 400)]
    [InlineData(StatusCode.ConnMethodNotAllowed, 400)]
    [InlineData(StatusCode.ConnThrottled, 429)]
    [InlineData(StatusCode.ConnExceedHourlyLimit, 429)]
    [InlineData(StatusCode.InternalServerIssue, 500)]
    [InlineData(StatusCode.ModelBusyPleaseRetry, 503)]
    [InlineData(StatusCode.Accepted, 202)]
    public void HTTP_status_follows_the_Clarifai_mapping(StatusCode code, int http) => Assert.Equal(http, StatusCatalog.HttpStatus(code));
}
