using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Transport;

/// <summary>
/// How REST requests are bound and responses written (CLARIFAI_FACTS.md 1.1–1.8): body, query and path binding, both name
/// styles, enum names and aliases, <c>cl_default_float</c>, <c>me</c>, snake_case output, integer enums, RFC 3339,
/// <c>cl_show_if_empty</c>, request ids and error mapping. Uses the echo handlers of <see cref="EchoFixture"/>.
/// </summary>
public sealed class RestConventionTests(EchoFixture iris) : IClassFixture<EchoFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task A_JSON_body_with_both_name_styles_binds_like_gRPC_and_the_path_wins()
    {
        const string body = """
            {
              "user_app_id": {"user_id": "someone-else", "app_id": "ignored"},
              "model_id": "also-ignored",
              "inputs": [
                {"id": "a", "data": {"image": {"url": "https://example.com/a.jpg"}, "concepts": [{"id": "dog"}, {"id": "cat", "value": 0}]}},
                {"id": "b", "data": {"image": {"base64": "aGVsbG8="}, "metadata": {}}, "unknownField": {"x": 1}}
              ],
              "modelVersion": {"id": "camel"},
              "totally_unknown": true
            }
            """;
        var (status, json, _) = await Json.SendAsync(iris.Http,
            IrisFixture.Authorized(HttpMethod.Post, "/v2/users/me/apps/my-app/workflows/general-image-recognition/versions/v1/results", body));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        var outputs = json.GetProperty("results");
        Assert.Equal(2, outputs.GetArrayLength());
        var model = outputs[0].GetProperty("outputs")[0].GetProperty("model");
        Assert.Equal("general-image-recognition", model.GetProperty("id").GetString());
        Assert.Equal("admin", model.GetProperty("user_id").GetString());
        Assert.Equal("my-app", model.GetProperty("app_id").GetString());
        Assert.Equal("v1", model.GetProperty("model_version").GetProperty("id").GetString());

        // cl_default_float: a JSON concept without value is positive (1.0); an explicit 0 stays 0 and is still written.
        var concepts = outputs[0].GetProperty("input").GetProperty("data").GetProperty("concepts");
        Assert.Equal(1.0, concepts[0].GetProperty("value").GetDouble());
        Assert.Equal(0.0, concepts[1].GetProperty("value").GetDouble());
        Assert.Equal("aGVsbG8=", outputs[1].GetProperty("input").GetProperty("data").GetProperty("image").GetProperty("base64").GetString());
        Assert.Equal(JsonValueKind.Object, outputs[1].GetProperty("input").GetProperty("data").GetProperty("metadata").ValueKind);
        Assert.Equal("{}", outputs[1].GetProperty("input").GetProperty("data").GetProperty("metadata").GetRawText());

        // snake_case names and RFC 3339 timestamps in UTC.
        Assert.Equal("2024-05-06T07:08:09.123Z", outputs[0].GetProperty("created_at").GetString());
        Assert.False(outputs[0].TryGetProperty("createdAt", out _));
    }

    [Fact]
    public async Task Over_binary_gRPC_a_concept_without_value_is_zero()
    {
        var request = new PostWorkflowResultsRequest { WorkflowId = "w" };
        request.Inputs.Add(new Input { Id = "a", Data = new Data { Concepts = { new Concept { Id = "dog" } } } });

        var response = await iris.Grpc.PostWorkflowResultsAsync(request, IrisFixture.PatMetadata);

        Assert.Equal(StatusCode.Success, response.Status.Code);
        Assert.Equal(0f, response.Results[0].Input.Data.Concepts[0].Value);
    }

    [Fact]
    public async Task A_GET_binds_the_query_string_with_dotted_names_repeated_keys_and_enum_names()
    {
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get,
            "/v2/users/me/apps/app1/workflows?page=2&perPage=7&additional_fields=a&additional_fields=b&visibility.gettable=PUBLIC&sort_by_id=true&unknown.thing=3"));

        Assert.Equal(HttpStatusCode.OK, status);
        var models = json.GetProperty("workflows");
        Assert.Equal(["a", "b"], models.EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray());
        var first = models[0];
        Assert.Equal("admin", first.GetProperty("user_id").GetString());
        Assert.Equal("app1", first.GetProperty("app_id").GetString());
        Assert.Equal(50, first.GetProperty("visibility").GetProperty("gettable").GetInt32());
        var metadata = first.GetProperty("metadata");
        Assert.Equal(2, metadata.GetProperty("page").GetInt32());
        Assert.Equal(7, metadata.GetProperty("per_page").GetInt32());
        Assert.True(metadata.GetProperty("sort_by_id").GetBoolean());
        Assert.Equal("admin", metadata.GetProperty("caller").GetString());
    }

    [Fact]
    public async Task Enum_names_every_alias_and_integers_are_accepted_in_JSON_bodies()
    {
        foreach (var code in new[] { "\"INPUT_DOWNLOAD_SUCCESS\"", "\"INPUT_SUCCESS\"", "30000" })
        {
            var body = $$$"""{"inputs": [{"id": "x", "status": {"code": {{{code}}}}}]}""";
            var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, "/v2/users/me/apps/a/workflows/w/results", body));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(30000, json.GetProperty("results")[0].GetProperty("input").GetProperty("status").GetProperty("code").GetInt32());
        }
    }

    [Fact]
    public async Task The_short_route_and_a_DELETE_body_are_served()
    {
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, "/v2/workflows/w/results", """{"inputs":[{"id":"q"}]}"""));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("w", json.GetProperty("workflow").GetProperty("id").GetString());

        var (deleteStatus, deleted, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Delete, "/v2/workflows", """{"ids":["a","b"]}"""));
        Assert.Equal(HttpStatusCode.NotImplemented, deleteStatus);
        Assert.Equal(10040, deleted.Code());
        Assert.Equal("DeleteWorkflows is not implemented in this version of Iris.", deleted.Details());
    }

    [Fact]
    public async Task Malformed_JSON_answers_11100_with_details_and_the_empty_payload_list()
    {
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, "/v2/workflows/w/results", """{"inputs": [ {"id": """));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11100, json.Code());
        Assert.Equal("Bad request format", json.Description());
        Assert.StartsWith("Could not parse the request body as JSON for PostWorkflowResultsRequest:", json.Details(), StringComparison.Ordinal);
        Assert.False(json.TryGetProperty("results", out _));
    }

    [Fact]
    public async Task A_wrongly_typed_query_value_answers_11100()
    {
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/workflows?page=two"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11100, json.Code());
        Assert.Equal("Invalid value 'two' for field 'page'.", json.Details());
    }

    [Fact]
    public async Task Unknown_paths_and_wrong_methods_have_their_own_codes()
    {
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/no/such/thing"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(11101, json.Code());
        Assert.Equal("Resource does not exist", json.Description());
        Assert.Equal("No API route matches GET /v2/no/such/thing. Check the url of your request.", json.Details());

        var (wrong, wrongJson, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Put, "/v2/status_codes"));
        Assert.Equal(HttpStatusCode.BadRequest, wrong);
        Assert.Equal(11103, wrongJson.Code());
        Assert.Equal("Method not allowed", wrongJson.Description());
    }

    [Fact]
    public async Task Every_response_has_a_unique_request_id_in_body_and_header()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in new[] { "/v2/status_codes/10000", "/v2/status_codes/10000", "/v2/nowhere", "/v2/workflows" })
        {
            var (_, json, response) = await Json.GetAsync(iris.Http, path);
            var id = json.GetProperty("status").GetProperty("req_id").GetString()!;
            Assert.Matches("^[0-9a-f]{32}$", id);
            Assert.Equal(id, response.Headers.GetValues("X-Clarifai-Request-ID").Single());
            Assert.True(seen.Add(id));
        }

        var withPrefix = new HttpRequestMessage(HttpMethod.Get, "/v2/status_codes/10000");
        withPrefix.Headers.Add("X-Clarifai-Request-ID-Prefix", "sdk-python");
        var (_, prefixed, _) = await Json.SendAsync(iris.Http, withPrefix);
        Assert.Matches("^sdk-python-[0-9a-f]{32}$", prefixed.GetProperty("status").GetProperty("req_id").GetString()!);
    }

    [Fact]
    public async Task gRPC_returns_the_request_id_as_response_metadata()
    {
        using var call = iris.Grpc.GetStatusCodeAsync(new GetStatusCodeRequest { StatusCodeId = "10000" });
        var response = await call.ResponseAsync;
        var headers = await call.ResponseHeadersAsync;
        Assert.Equal(response.Status.ReqId, headers.GetValue("x-clarifai-request-id"));
    }

    [Fact]
    public async Task Messages_over_the_4_MiB_gRPC_default_are_accepted()
    {
        var request = new PostWorkflowResultsRequest { WorkflowId = "w" };
        request.Inputs.Add(new Input { Id = "big", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(new byte[24 * 1024 * 1024]) } } });

        var response = await iris.Grpc.PostWorkflowResultsAsync(request, IrisFixture.PatMetadata);

        Assert.Equal(StatusCode.Success, response.Status.Code);
        Assert.Equal(24 * 1024 * 1024, response.Results[0].Input.Data.Image.Base64.Length);
    }

    [Fact]
    public async Task Health_endpoints_report_ready()
    {
        var response = await iris.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok\n", await response.Content.ReadAsStringAsync());

        var health = new global::Grpc.Health.V1.Health.HealthClient(iris.Channel);
        var check = await health.CheckAsync(new global::Grpc.Health.V1.HealthCheckRequest());
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, check.Status);
    }
}
