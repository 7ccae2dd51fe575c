using System.Net;
using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Models;

/// <summary>GetModel, ListModels, GetModelOutputInfo, ListModelConcepts, model versions and model types.</summary>
public sealed class ModelReadTests(ModelsFixture iris) : IClassFixture<ModelsFixture>, IDisposable
{
    private static readonly UserAppIDSet Main = new() { UserId = "clarifai", AppId = "main" };

    private static readonly string[] Builtins =
        ["age-demographics-recognition", "face-attributes", "face-detection", "face-sentiment-recognition", "gender-demographics-recognition", "general-image-detection", "general-image-embedding",
         "general-image-recognition", "image-subject-segmentation", "nsfw-recognition", "ocr-scene-english-paddleocr", "person-segmentation"];

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task ListModels_lists_the_public_models_with_versions_and_applies_filters_and_pages()
    {
        var all = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main, SortAscending = true }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, all.Status.Code);
        Assert.Equal(Builtins, all.Models.Select(m => m.Id).ToArray());
        Assert.All(all.Models, m =>
        {
            Assert.Equal("main", m.AppId);
            Assert.Equal("clarifai", m.UserId);
            Assert.Equal(Visibility.Types.Gettable.Public, m.Visibility.Gettable);
            Assert.Equal(StatusCode.ModelTrained, m.ModelVersion.Status.Code);
            Assert.False(string.IsNullOrEmpty(m.Metadata.Fields["source_package"].StringValue));
            Assert.False(string.IsNullOrEmpty(m.Metadata.Fields["license"].StringValue));
        });

        var two = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main, PerPage = 2 }, IrisFixture.PatMetadata);
        Assert.Equal(2, two.Models.Count);
        var beyond = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main, Page = 1000, PerPage = 500 }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, beyond.Status.Code);
        Assert.Empty(beyond.Models);

        var detectors = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main, ModelTypeId = "visual-detector", SortAscending = true }, IrisFixture.PatMetadata);
        Assert.Equal(["face-attributes", "face-detection", "general-image-detection", "ocr-scene-english-paddleocr"], detectors.Models.Select(m => m.Id).ToArray());
        var byOutput = new ListModelsRequest { UserAppId = Main };
        byOutput.OutputFields.Add("embeddings");
        Assert.Equal(["general-image-embedding"], (await iris.Grpc.ListModelsAsync(byOutput, IrisFixture.PatMetadata)).Models.Select(m => m.Id).ToArray());
        var search = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main, Search = "face" }, IrisFixture.PatMetadata);
        Assert.Equal(["age-demographics-recognition", "face-attributes", "face-detection", "face-sentiment-recognition", "gender-demographics-recognition"],
            search.Models.Select(m => m.Id).Order(StringComparer.Ordinal).ToArray());
        Assert.Empty((await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main, FeaturedOnly = true }, IrisFixture.PatMetadata)).Models);

        // REST, in the caller's own app: the public models are listed there too (Clarifai fetches from main).
        await iris.CreateAppAsync("my-app");
        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps/my-app/models?per_page=3&model_type_id=visual-classifier"));
        Assert.Equal(HttpStatusCode.OK, status);
        var ids = body.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToArray();
        Assert.Equal(3, ids.Length);
        (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps/my-app/models?per_page=3&page=2&model_type_id=visual-classifier"));
        Assert.Equal(HttpStatusCode.OK, status);
        var next = body.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToArray();
        Assert.Empty(ids.Intersect(next));
        Assert.Contains("general-image-recognition", ids.Concat(next));
    }

    [Fact]
    public async Task GetModel_and_GetModelOutputInfo_describe_the_model_and_its_concepts()
    {
        var model = await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = Main, ModelId = "general-image-recognition" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, model.Status.Code);
        Assert.Equal("visual-classifier", model.Model.ModelTypeId);
        Assert.Contains("80 COCO", model.Model.Notes, StringComparison.Ordinal);
        Assert.Equal(80u, model.Model.ModelVersion.ActiveConceptCount);
        Assert.Null(model.Model.ModelVersion.OutputInfo.Data);

        var info = await iris.Grpc.GetModelOutputInfoAsync(new GetModelRequest { UserAppId = Main, ModelId = "general-image-recognition" }, IrisFixture.PatMetadata);
        var concepts = info.Model.ModelVersion.OutputInfo.Data.Concepts;
        Assert.Equal(80, concepts.Count);
        Assert.Contains(concepts, c => c.Id == "ai_HLmqFqBf" && c.Name == "train");
        Assert.Equal(concepts.Count, concepts.Select(c => c.Id).Distinct().Count());

        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/clarifai/apps/main/models/nope"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(11101, body.Code());
        Assert.Equal("model_id 'nope' not found. Check the url of your request.", body.Details());
    }

    [Fact]
    public async Task ListModelConcepts_pages_and_searches_the_vocabulary()
    {
        var page = await iris.Grpc.ListModelConceptsAsync(new ListModelConceptsRequest { UserAppId = Main, ModelId = "face-attributes", PerPage = 5 }, IrisFixture.PatMetadata);
        Assert.Equal(5, page.Concepts.Count);
        var all = await iris.Grpc.ListModelConceptsAsync(new ListModelConceptsRequest { UserAppId = Main, ModelId = "face-attributes" }, IrisFixture.PatMetadata);
        Assert.Equal(["age_appearance", "emotion", "gender_appearance"], all.Concepts.Select(c => c.VocabId).Distinct().Order(StringComparer.Ordinal).ToArray());
        var found = await iris.Grpc.ListModelConceptsAsync(new ListModelConceptsRequest { UserAppId = Main, ModelId = "general-image-detection", Search = "bear" }, IrisFixture.PatMetadata);
        Assert.Equal(["bear", "teddy bear"], found.Concepts.Select(c => c.Name).ToArray());
    }

    [Fact]
    public async Task Versions_are_listed_and_found_by_id()
    {
        var versions = await iris.Grpc.ListModelVersionsAsync(new ListModelVersionsRequest { UserAppId = Main, ModelId = "face-detection" }, IrisFixture.PatMetadata);
        var version = Assert.Single(versions.ModelVersions);
        Assert.Equal(StatusCode.ModelTrained, version.Status.Code);
        var got = await iris.Grpc.GetModelVersionAsync(new GetModelVersionRequest { UserAppId = Main, ModelId = "face-detection", VersionId = version.Id }, IrisFixture.PatMetadata);
        Assert.Equal(version.Id, got.ModelVersion.Id);
        Assert.Equal("MIT", got.ModelVersion.License);
        var missing = await iris.Grpc.GetModelVersionAsync(new GetModelVersionRequest { UserAppId = Main, ModelId = "face-detection", VersionId = "nope" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, missing.Status.Code);
    }

    [Fact]
    public async Task Model_types_tell_the_SDK_what_each_model_takes_and_gives()
    {
        var types = await iris.Grpc.ListModelTypesAsync(new ListModelTypesRequest { UserAppId = Main }, IrisFixture.PatMetadata);
        Assert.Equal(["visual-classifier", "visual-detector", "visual-embedder", "visual-segmenter", "embedding-classifier", "detect", "detect-concept", "detect-embed"], types.ModelTypes.Select(t => t.Id).ToArray());
        Assert.All(types.ModelTypes, t => Assert.Equal(["image"], t.InputFields.ToArray()));
        Assert.All(types.ModelTypes.Where(t => !t.Id.StartsWith("detect", StringComparison.Ordinal)), t => Assert.True(t.Trainable));

        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/clarifai/apps/main/models/types/visual-detector"));
        Assert.Equal(HttpStatusCode.OK, status);
        var type = body.GetProperty("model_type");
        Assert.Equal("image", type.GetProperty("input_fields")[0].GetString());
        Assert.Equal("regions[...].data.concepts", type.GetProperty("output_fields")[1].GetString());
        var missing = await iris.Grpc.GetModelTypeAsync(new GetModelTypeRequest { UserAppId = Main, ModelTypeId = "nope" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, missing.Status.Code);
        // All built-in models' types are listed.
        var models = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = Main }, IrisFixture.PatMetadata);
        Assert.All(models.Models, m => Assert.Contains(m.ModelTypeId, types.ModelTypes.Select(t => t.Id)));
    }
}
