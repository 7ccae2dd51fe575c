using System.Net;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Models;

/// <summary>
/// GetModelOutputInfo also fills the deprecated <c>model.output_info.data.concepts</c> that older clients (the legacy JS
/// client's <c>models.getOutputInfo</c>) read, next to <c>model.model_version.output_info</c>, on every route; GetModel does not.
/// </summary>
public sealed class OutputInfoTests(ModelsFixture iris) : IClassFixture<ModelsFixture>, IDisposable
{
    private static readonly UserAppIDSet Main = new() { UserId = "clarifai", AppId = "main" };

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task Over_gRPC_a_built_in_model_has_its_concepts_in_both_places()
    {
        var info = await iris.Grpc.GetModelOutputInfoAsync(new GetModelRequest { UserAppId = Main, ModelId = "general-image-recognition" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, info.Status.Code);
#pragma warning disable CS0612 // the deprecated field under test
        var old = info.Model.OutputInfo.Data.Concepts;
        Assert.Equal(info.Model.ModelVersion.OutputInfo, info.Model.OutputInfo);
#pragma warning restore CS0612
        Assert.Equal(80, old.Count);
        Assert.Contains(old, c => c.Id == "ai_HLmqFqBf" && c.Name == "train");

        var version = await VersionOf("face-attributes");
        var versioned = await iris.Grpc.GetModelOutputInfoAsync(new GetModelRequest { UserAppId = Main, ModelId = "face-attributes", VersionId = version }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, versioned.Status.Code);
#pragma warning disable CS0612
        Assert.Equal(versioned.Model.ModelVersion.OutputInfo.Data.Concepts.Count, versioned.Model.OutputInfo.Data.Concepts.Count);
        Assert.True(versioned.Model.OutputInfo.Data.Concepts.Count > 10);

        var plain = await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = Main, ModelId = "general-image-recognition" }, IrisFixture.PatMetadata);
        Assert.Null(plain.Model.OutputInfo);
#pragma warning restore CS0612
    }

    [Theory]
    [InlineData("/v2/users/clarifai/apps/main/models/general-image-recognition/output_info")]
    [InlineData("/v2/users/clarifai/apps/main/models/general-image-recognition/versions/{version}/output_info")]
    public async Task Over_REST_both_routes_write_output_info_data_concepts_on_the_model(string route)
    {
        var path = route.Replace("{version}", await VersionOf("general-image-recognition"), StringComparison.Ordinal);
        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, path));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, body.Code());
        var model = body.GetProperty("model");
        var old = model.GetProperty("output_info").GetProperty("data").GetProperty("concepts");
        var current = model.GetProperty("model_version").GetProperty("output_info").GetProperty("data").GetProperty("concepts");
        Assert.Equal(80, old.GetArrayLength());
        Assert.Equal(current.GetRawText(), old.GetRawText());
        Assert.Contains(old.EnumerateArray(), c => c.GetProperty("name").GetString() == "train" && c.GetProperty("value").GetDouble() == 1.0);

        // GetModel keeps the older field out, as Clarifai does.
        var (_, plain, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/clarifai/apps/main/models/general-image-recognition"));
        Assert.False(plain.GetProperty("model").TryGetProperty("output_info", out _));
    }

    [Fact]
    public async Task A_user_model_without_a_version_shows_the_concepts_it_was_created_with()
    {
        var app = await iris.CreateAppAsync("output-info");
        const string create = """{"model":{"id":"pets","model_type_id":"embedding-classifier","output_info":{"data":{"concepts":[{"id":"cat","value":true},{"id":"dog"}]}}}}""";
        var (created, createdBody, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{app}/models", create));
        Assert.Equal(HttpStatusCode.OK, created);
        Assert.Equal(10000, createdBody.Code());

        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/models/pets/output_info"));
        Assert.Equal(HttpStatusCode.OK, status);
        var concepts = body.GetProperty("model").GetProperty("output_info").GetProperty("data").GetProperty("concepts");
        Assert.Equal(["cat", "dog"], concepts.EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToArray());
    }

    private async Task<string> VersionOf(string modelId) =>
        (await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = Main, ModelId = modelId }, IrisFixture.PatMetadata)).Model.ModelVersion.Id;
}
