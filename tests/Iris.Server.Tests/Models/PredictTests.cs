using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Models;

/// <summary>PostModelOutputs with the built-in models over gRPC and REST: shapes of the seed, output config, per-output status.</summary>
public abstract class PredictTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : ModelsFixture
{
    private static readonly UserAppIDSet Main = new() { UserId = "clarifai", AppId = "main" };
    private static readonly ByteString Metro = ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.MetroNorth));

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task REST_predict_by_base64_answers_in_the_shape_of_the_seed()
    {
        var body = JsonSerializer.Serialize(new
        {
            user_app_id = new { user_id = "clarifai", app_id = "main" },
            inputs = new[] { new { data = new { image = new { base64 = Convert.ToBase64String(Metro.ToByteArray()) } } } },
        });
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, "/v2/models/general-image-recognition/outputs", body));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        var output = Assert.Single(json.GetProperty("outputs").EnumerateArray());
        Assert.Matches("^[0-9a-f]{32}$", output.GetProperty("id").GetString());
        Assert.Equal(10000, output.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("Ok", output.GetProperty("status").GetProperty("description").GetString());
        Assert.EndsWith("Z", output.GetProperty("created_at").GetString(), StringComparison.Ordinal);

        var model = output.GetProperty("model");
        Assert.Equal("general-image-recognition", model.GetProperty("id").GetString());
        Assert.Equal("Image Recognition", model.GetProperty("name").GetString());
        Assert.Equal("main", model.GetProperty("app_id").GetString());
        Assert.Equal("clarifai", model.GetProperty("user_id").GetString());
        Assert.Equal("visual-classifier", model.GetProperty("model_type_id").GetString());
        Assert.Equal(50, model.GetProperty("visibility").GetProperty("gettable").GetInt32());
        Assert.False(model.GetProperty("workflow_recommended").GetBoolean());
        Assert.False(model.TryGetProperty("description", out _));
        Assert.False(model.TryGetProperty("notes", out _));
        var version = model.GetProperty("model_version");
        Assert.Matches("^[0-9a-f]{32}$", version.GetProperty("id").GetString());
        Assert.Equal(21100, version.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("Model is trained and ready for deployment", version.GetProperty("status").GetProperty("description").GetString());
        Assert.Equal(50, version.GetProperty("visibility").GetProperty("gettable").GetInt32());
        Assert.Equal("MIT", version.GetProperty("metadata").GetProperty("license").GetString());
        Assert.False(version.TryGetProperty("output_info", out _));

        var input = output.GetProperty("input");
        Assert.Matches("^[0-9a-f]{32}$", input.GetProperty("id").GetString());
        Assert.Equal("dHJ1ZQ==", input.GetProperty("data").GetProperty("image").GetProperty("base64").GetString());

        var concepts = output.GetProperty("data").GetProperty("concepts").EnumerateArray().ToArray();
        Assert.Equal(20, concepts.Length);
        var top = concepts.Take(3).Select(c => c.GetProperty("name").GetString()).ToArray();
        Assert.Contains("train", top);
        var train = concepts.Single(c => c.GetProperty("name").GetString() == "train");
        Assert.Equal("ai_HLmqFqBf", train.GetProperty("id").GetString());
        Assert.Equal("main", train.GetProperty("app_id").GetString());
        Assert.Equal("clarifai", train.GetProperty("user_id").GetString());
        Assert.True(train.GetProperty("value").GetSingle() >= 0.2f);
    }

    [Fact]
    public async Task gRPC_output_config_max_concepts_min_value_and_select_concepts()
    {
        var three = await PredictAsync("general-image-recognition", Config(maxConcepts: 3));
        Assert.Equal(3, three.Outputs[0].Data.Concepts.Count);

        var confident = await PredictAsync("general-image-recognition", Config(minValue: 0.2f));
        Assert.NotEmpty(confident.Outputs[0].Data.Concepts);
        Assert.All(confident.Outputs[0].Data.Concepts, c => Assert.True(c.Value >= 0.2f));

        var selected = await PredictAsync("general-image-recognition", Config(select: [new Concept { Name = "train" }, new Concept { Id = ConceptId("dog") }]));
        Assert.Equal(StatusCode.Success, selected.Status.Code);
        Assert.Equal(["train", "dog"], selected.Outputs[0].Data.Concepts.Select(c => c.Name).ToArray());

        // The SDK's place: model.model_version.output_info wins over model.output_info.
        var request = Request("general-image-recognition", Config(maxConcepts: 7));
        request.Model.ModelVersion = new ModelVersion { OutputInfo = new OutputInfo { OutputConfig = new OutputConfig { MaxConcepts = 2 } } };
        var sdk = await iris.Grpc.PostModelOutputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(2, sdk.Outputs[0].Data.Concepts.Count);

        var partly = await PredictAsync("general-image-recognition", Config(select: [new Concept { Name = "train" }, new Concept { Name = "unicorn" }]));
        Assert.Equal(StatusCode.MixedStatus, partly.Status.Code);
        Assert.Contains("unicorn", partly.Status.Details, StringComparison.Ordinal);
        Assert.Equal(["train"], partly.Outputs[0].Data.Concepts.Select(c => c.Name).ToArray());

        var none = await PredictAsync("general-image-recognition", Config(select: [new Concept { Name = "unicorn" }]));
        Assert.Equal(StatusCode.ModelInvalidArgument, none.Status.Code);
        Assert.Contains("unicorn", none.Status.Details, StringComparison.Ordinal);
        Assert.Empty(none.Outputs);
    }

    [Fact]
    public async Task Every_builtin_model_answers_with_its_kind_of_data()
    {
        var detection = await PredictAsync("general-image-detection");
        var train = detection.Outputs[0].Data.Regions.Single(r => r.Data.Concepts[0].Name == "train");
        Assert.True(train.RegionInfo.BoundingBox.BottomRow > train.RegionInfo.BoundingBox.TopRow);
        Assert.Equal("visual-detector", detection.Outputs[0].Model.ModelTypeId);

        var embedding = await PredictAsync("general-image-embedding");
        Assert.Equal(1280u, embedding.Outputs[0].Data.Embeddings[0].NumDimensions);
        Assert.Equal(1280, embedding.Outputs[0].Data.Embeddings[0].Vector.Count);

        var nsfw = await PredictAsync("nsfw-recognition");
        Assert.Equal("neutral", nsfw.Outputs[0].Data.Concepts[0].Name);

        var faces = await PredictAsync("face-detection", bytes: ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.FaceDetect)));
        Assert.Equal(5, faces.Outputs[0].Data.Regions.Count);

        var attributes = await PredictAsync("face-attributes", bytes: ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.FaceDetect)));
        Assert.All(attributes.Outputs[0].Data.Regions, r => Assert.Contains(r.Data.Concepts, c => c.VocabId == "age_appearance"));

        var mask = await PredictAsync("person-segmentation", bytes: ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.FaceDetect)));
        Assert.NotEmpty(mask.Outputs[0].Data.Regions[0].RegionInfo.Mask.Image.Base64);

        // Subject segmentation by Clarifai's legacy id: one mask the size of the photo.
        var subject = await PredictAsync("6a3dc529acf3f720a629cdc8c6ad41a9", bytes: ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.Vrm)));
        Assert.Equal(("image-subject-segmentation", "visual-segmenter"), (subject.Outputs[0].Model.Id, subject.Outputs[0].Model.ModelTypeId));
        var foreground = Assert.Single(subject.Outputs[0].Data.Regions);
        Assert.Equal("foreground", foreground.Data.Concepts[0].Name);
        Assert.Equal((800, 653), (foreground.RegionInfo.Mask.Image.ImageInfo.Width, foreground.RegionInfo.Mask.Image.ImageInfo.Height));

        // Clarifai's legacy id and the version id resolve to the same model.
        var legacy = await PredictAsync("aaa03c23b3724a16a56b629203edc62c", Config(maxConcepts: 1));
        Assert.Equal("general-image-recognition", legacy.Outputs[0].Model.Id);
        var versioned = Request("general-image-recognition", Config(maxConcepts: 1));
        versioned.VersionId = legacy.Outputs[0].Model.ModelVersion.Id;
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostModelOutputsAsync(versioned, IrisFixture.PatMetadata)).Status.Code);
    }

    [Fact]
    public async Task Predict_by_URL_downloads_and_a_broken_URL_fails_that_output_with_30002()
    {
        var request = new PostModelOutputsRequest { UserAppId = Main, ModelId = "general-image-recognition" };
        request.Inputs.Add(new Input { Id = "by-url", Data = new Data { Image = new Image { Url = iris.PhotoBase + "/metro-north.jpg" } } });
        var ok = await iris.Grpc.PostModelOutputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, ok.Status.Code);
        Assert.Equal("by-url", ok.Outputs[0].Input.Id);
        Assert.Equal(iris.PhotoBase + "/metro-north.jpg", ok.Outputs[0].Input.Data.Image.Url);
        Assert.Contains("train", ok.Outputs[0].Data.Concepts.Take(3).Select(c => c.Name));

        var body = JsonSerializer.Serialize(new
        {
            user_app_id = new { user_id = "clarifai", app_id = "main" },
            inputs = new[] { new { data = new { image = new { url = iris.PhotoBase + "/missing.jpg" } } } },
        });
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, "/v2/users/clarifai/apps/main/models/general-image-recognition/outputs", body));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(30002, json.Code());
        var output = json.GetProperty("outputs")[0];
        Assert.Equal(30002, output.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Contains("HTTP 404", output.GetProperty("status").GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_good_and_a_bad_input_give_mixed_status_with_a_status_per_output()
    {
        var request = new PostModelOutputsRequest { UserAppId = Main, ModelId = "nsfw-recognition" };
        request.Inputs.Add(new Input { Data = new Data { Image = new Image { Base64 = Metro } } });
        request.Inputs.Add(new Input { Data = new Data() });
        request.Inputs.Add(new Input { Data = new Data { Image = new Image { Base64 = ByteString.CopyFromUtf8("not an image") } } });
        request.Inputs.Add(new Input { Id = "stored-input" });
        var response = await iris.Grpc.PostModelOutputsAsync(request, IrisFixture.PatMetadata);

        Assert.Equal(StatusCode.MixedStatus, response.Status.Code);
        Assert.Equal(4, response.Outputs.Count);
        Assert.Equal(StatusCode.Success, response.Outputs[0].Status.Code);
        Assert.Equal(StatusCode.InputInvalidArgument, response.Outputs[1].Status.Code);
        Assert.Empty(response.Outputs[1].Data?.Concepts ?? []);
        Assert.Equal(StatusCode.InputUnsupportedFormat, response.Outputs[2].Status.Code);
        // clarifai/main stores no inputs: the stored input cannot be found.
        Assert.Equal(StatusCode.InputDoesNotExist, response.Outputs[3].Status.Code);
        Assert.Equal("Input 'stored-input' does not exist in app 'clarifai/main'.", response.Outputs[3].Status.Details);
    }

    [Fact]
    public async Task Bad_requests_get_precise_statuses()
    {
        var unknown = await iris.Grpc.PostModelOutputsAsync(Request("no-such-model"), IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ModelDoesNotExist, unknown.Status.Code);
        Assert.Equal("Model does not exist", unknown.Status.Description);

        var badVersion = Request("general-image-recognition");
        badVersion.VersionId = "aa7f35c01e0642fda5cf400f543e7c40";
        Assert.Equal(StatusCode.ModelDoesNotExist, (await iris.Grpc.PostModelOutputsAsync(badVersion, IrisFixture.PatMetadata)).Status.Code);

        var tooMany = new PostModelOutputsRequest { UserAppId = Main, ModelId = "general-image-recognition" };
        for (var i = 0; i < 129; i++)
        {
            tooMany.Inputs.Add(new Input { Data = new Data { Image = new Image { Url = "http://127.0.0.1:1/x.jpg" } } });
        }

        var limited = await iris.Grpc.PostModelOutputsAsync(tooMany, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnInvalidRequest, limited.Status.Code);
        Assert.Contains("128", limited.Status.Details, StringComparison.Ordinal);

        var empty = await iris.Grpc.PostModelOutputsAsync(new PostModelOutputsRequest { UserAppId = Main, ModelId = "general-image-recognition" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnInvalidRequest, empty.Status.Code);
    }

    private static string ConceptId(string name) => Iris.Inference.Zoo.ConceptIds.For(name);

    private static Model Config(uint maxConcepts = 0, float minValue = 0, Concept[]? select = null)
    {
        var config = new OutputConfig { MaxConcepts = maxConcepts, MinValue = minValue };
        config.SelectConcepts.AddRange(select ?? []);
#pragma warning disable CS0612 // model.output_info is where the docs' curl examples put it.
        return new Model { OutputInfo = new OutputInfo { OutputConfig = config } };
#pragma warning restore CS0612
    }

    private static PostModelOutputsRequest Request(string modelId, Model? model = null, ByteString? bytes = null)
    {
        var request = new PostModelOutputsRequest { UserAppId = Main, ModelId = modelId, Model = model };
        request.Inputs.Add(new Input { Data = new Data { Image = new Image { Base64 = bytes ?? Metro } } });
        return request;
    }

    private async Task<MultiOutputResponse> PredictAsync(string modelId, Model? model = null, ByteString? bytes = null)
    {
        var response = await iris.Grpc.PostModelOutputsAsync(Request(modelId, model, bytes), IrisFixture.PatMetadata);
        Assert.True(response.Status.Code is StatusCode.Success or StatusCode.MixedStatus or StatusCode.ModelInvalidArgument, $"{response.Status.Code} {response.Status.Details}");
        return response;
    }
}

public sealed class PredictTestsOnSqlite(ModelsFixture iris) : PredictTests<ModelsFixture>(iris);

public sealed class PredictTestsOnPostgres(PostgresModelsFixture iris) : PredictTests<PostgresModelsFixture>(iris);
