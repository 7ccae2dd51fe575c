using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Models;

/// <summary>
/// The custom-model lifecycle of seed 002 on a real server: PostModels creates no version, PostModelVersions trains an
/// embedding-classifier on the stored embeddings of processed inputs (21103 → 21101 → 21100), predict uses the trained
/// head, PatchModels / PatchModelVersions edit in place, versions and models are deleted — over gRPC and REST.
/// </summary>
public abstract class TrainingTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : TrainingFixture
{
    private static readonly global::Grpc.Core.Metadata Pat = IrisFixture.PatMetadata;

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private async Task<MultiOutputResponse> PredictAsync(string appId, string modelId, byte[] image, string versionId = "")
    {
        var request = new PostModelOutputsRequest { UserAppId = TrainingFixture.App(appId), ModelId = modelId, VersionId = versionId };
        request.Inputs.Add(new Input { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(image) } } });
        return await iris.Grpc.PostModelOutputsAsync(request, Pat);
    }

    [Fact]
    public async Task gRPC_the_seed_flow_create_train_predict_patch_version_again_delete()
    {
        var app = await iris.PetsAppAsync("pets-grpc");

        var created = await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = TrainingFixture.App(app), Models = { new Model { Id = "pets", ModelTypeId = "embedding-classifier" } } }, Pat);
        Assert.Equal(StatusCode.Success, created.Status.Code);
        Assert.Equal("embedding-classifier", created.Model.ModelTypeId);
        Assert.Equal(app, created.Model.AppId);
        Assert.Equal("admin", created.Model.UserId);
        Assert.Null(created.Model.ModelVersion);
        var none = await iris.Grpc.ListModelVersionsAsync(new ListModelVersionsRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets" }, Pat);
        Assert.Equal(StatusCode.Success, none.Status.Code);
        Assert.Empty(none.ModelVersions);
        var untrained = await PredictAsync(app, "pets", TrainingPhotos.Views("chelsea.png", 1, offset: 20)[0]);
        Assert.Equal(StatusCode.ModelUntrained, untrained.Status.Code);

        var posted = await iris.Grpc.PostModelVersionsAsync(TrainingFixture.Train(app, "pets", ["cat", "coffee"], enrich: "Disabled"), Pat);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        var first = posted.Model.ModelVersion;
        Assert.Matches("^[0-9a-f]{32}$", first.Id);
        Assert.Contains(first.Status.Code, new[] { StatusCode.ModelQueuedForTraining, StatusCode.ModelTraining });
        Assert.Equal(["cat", "coffee"], first.OutputInfo.Data.Concepts.Select(c => c.Id).ToArray());
        Assert.Equal("general-image-embedding", first.InputInfo.BaseEmbedModel.Id);
        Assert.Equal(18u, first.TotalInputCount);

        var trained = await iris.WaitTrainedAsync(app, "pets", first.Id);
        Assert.Equal(StatusCode.ModelTrained, trained.Status.Code);
        Assert.Equal("Model is trained and ready for deployment", trained.Status.Description);
        Assert.NotNull(trained.CompletedAt);

        // Held-out views (windows the training never saw) of each subject: the right concept wins, by a margin.
        foreach (var (photo, concept) in new[] { ("chelsea.png", "cat"), ("coffee.png", "coffee") })
        {
            var predicted = await PredictAsync(app, "pets", TrainingPhotos.Views(photo, 1, offset: 20)[0]);
            Assert.Equal(StatusCode.Success, predicted.Status.Code);
            var concepts = predicted.Outputs[0].Data.Concepts;
            Assert.Equal(2, concepts.Count);
            Assert.Equal(concept, concepts[0].Id);
            Assert.True(concepts[0].Value >= 0.6f, $"{concept}: {concepts[0].Value}");
            Assert.True(concepts[1].Value <= 0.4f, $"{concepts[1].Id}: {concepts[1].Value}");
            Assert.Equal(app, concepts[0].AppId);
            Assert.Equal("admin", concepts[0].UserId);
            Assert.Equal("pets", predicted.Outputs[0].Model.Id);
            Assert.Equal(first.Id, predicted.Outputs[0].Model.ModelVersion.Id);
            Assert.Equal(app, predicted.Outputs[0].Model.AppId);
        }

        // A rocket was labelled negative for both: neither concept claims it.
        var rocket = await PredictAsync(app, "pets", TrainingPhotos.Views("rocket.jpg", 1, offset: 20)[0], first.Id);
        Assert.All(rocket.Outputs[0].Data.Concepts, c => Assert.True(c.Value <= 0.5f, $"{c.Id}: {c.Value}"));

        // Predict by stored input id, with select_concepts and max_concepts from model.model_version.output_info.
        var byId = new PostModelOutputsRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets", Inputs = { new Input { Id = "cat-0" } } };
        byId.Model = new Model { ModelVersion = new ModelVersion { OutputInfo = new OutputInfo { OutputConfig = new OutputConfig { MaxConcepts = 1 } } } };
        var one = await iris.Grpc.PostModelOutputsAsync(byId, Pat);
        Assert.Equal(StatusCode.Success, one.Status.Code);
        Assert.Equal("cat", Assert.Single(one.Outputs[0].Data.Concepts).Id);
        byId.Model = new Model { ModelVersion = new ModelVersion { OutputInfo = new OutputInfo { OutputConfig = new OutputConfig { SelectConcepts = { new Concept { Id = "coffee" } } } } } };
        Assert.Equal("coffee", Assert.Single((await iris.Grpc.PostModelOutputsAsync(byId, Pat)).Outputs[0].Data.Concepts).Id);

        // PatchModels changes model fields only: no version is created.
        var patch = new PatchModelsRequest { UserAppId = TrainingFixture.App(app), Action = "merge" };
        patch.Models.Add(new Model { Id = "pets", Description = "cats and coffee", Notes = "seed flow", Metadata = new Struct { Fields = { ["team"] = Value.ForString("vision") } } });
        var patched = await iris.Grpc.PatchModelsAsync(patch, Pat);
        Assert.Equal(StatusCode.Success, patched.Status.Code);
        Assert.Equal("cats and coffee", patched.Models[0].Description);
        Assert.Equal(1, patched.Models[0].VersionCount);
        Assert.Equal(first.Id, patched.Models[0].ModelVersion.Id);

        // PatchModelVersions edits the version in place and keeps its status; concepts cannot change.
        var patchVersion = new PatchModelVersionsRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets", Action = "merge" };
        patchVersion.ModelVersions.Add(new ModelVersion { Id = first.Id, Description = "first try", License = "CC-BY-4.0" });
        var edited = await iris.Grpc.PatchModelVersionsAsync(patchVersion, Pat);
        Assert.Equal(StatusCode.Success, edited.Status.Code);
        Assert.Equal("first try", edited.ModelVersions[0].Description);
        Assert.Equal("CC-BY-4.0", edited.ModelVersions[0].License);
        Assert.Equal(StatusCode.ModelTrained, edited.ModelVersions[0].Status.Code);
        patchVersion.ModelVersions[0].OutputInfo = new OutputInfo { Data = new Data { Concepts = { new Concept { Id = "rocket" } } } };
        Assert.Equal(StatusCode.ModelInvalidArgument, (await iris.Grpc.PatchModelVersionsAsync(patchVersion, Pat)).Status.Code);

        // A second version: mutually exclusive, enriched (Automatic) — the values of one prediction sum to at most 1.
        var second = (await iris.Grpc.PostModelVersionsAsync(TrainingFixture.Train(app, "pets", ["cat", "coffee"], exclusive: true), Pat)).Model.ModelVersion;
        Assert.Equal(StatusCode.ModelTrained, (await iris.WaitTrainedAsync(app, "pets", second.Id)).Status.Code);
        var exclusive = await PredictAsync(app, "pets", TrainingPhotos.Views("coffee.png", 1, offset: 21)[0]);
        Assert.Equal(second.Id, exclusive.Outputs[0].Model.ModelVersion.Id);
        Assert.Equal("coffee", exclusive.Outputs[0].Data.Concepts[0].Id);
        Assert.True(exclusive.Outputs[0].Data.Concepts.Sum(c => c.Value) <= 1.0001f);
        var versions = await iris.Grpc.ListModelVersionsAsync(new ListModelVersionsRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets" }, Pat);
        Assert.Equal([second.Id, first.Id], versions.ModelVersions.Select(v => v.Id).ToArray());
        var withConcept = await iris.Grpc.ListModelVersionsAsync(new ListModelVersionsRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets", ConceptIds = { "rocket" } }, Pat);
        Assert.Empty(withConcept.ModelVersions);

        // The older version still answers by id; deleting it leaves the newer one.
        Assert.Equal(first.Id, (await PredictAsync(app, "pets", TrainingPhotos.Views("chelsea.png", 1, offset: 22)[0], first.Id)).Outputs[0].Model.ModelVersion.Id);
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteModelVersionAsync(new DeleteModelVersionRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets", VersionId = first.Id }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ModelDoesNotExist, (await PredictAsync(app, "pets", TrainingPhotos.Views("chelsea.png", 1)[0], first.Id)).Status.Code);
        var info = await iris.Grpc.GetModelOutputInfoAsync(new GetModelRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets" }, Pat);
        Assert.Equal(second.Id, info.Model.ModelVersion.Id);
        Assert.Equal(["cat", "coffee"], info.Model.ModelVersion.OutputInfo.Data.Concepts.Select(c => c.Id).ToArray());
#pragma warning disable CS0612
        Assert.Equal(["cat", "coffee"], info.Model.OutputInfo.Data.Concepts.Select(c => c.Id).ToArray());
#pragma warning restore CS0612

        // Delete the model: reads answer 11101, predict 21200.
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteModelAsync(new DeleteModelRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets" }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = TrainingFixture.App(app), ModelId = "pets" }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ModelDoesNotExist, (await PredictAsync(app, "pets", TrainingPhotos.Views("chelsea.png", 1)[0])).Status.Code);
    }

    [Fact]
    public async Task REST_the_legacy_client_flow_model_body_then_empty_versions_post_then_output_info_then_predict()
    {
        var app = await iris.PetsAppAsync("pets-rest");
        var body = """
            {"model":{"id":"legacy","name":"legacy","type":"concept","output_info":{"data":{"concepts":[{"id":"cat"},{"id":"coffee"}]},
             "output_config":{"concepts_mutually_exclusive":false,"closed_environment":false}}}}
            """;
        var (status, created, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{app}/models", body));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, created.Code());
        Assert.Equal("embedding-classifier", created.GetProperty("model").GetProperty("model_type_id").GetString());
        Assert.False(created.GetProperty("model").TryGetProperty("model_version", out _));

        // The legacy client's train(): POST …/versions with no body trains on the model's output_info.
        var (trainStatus, trained, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{app}/models/legacy/versions", "{}"));
        Assert.Equal(HttpStatusCode.OK, trainStatus);
        var versionId = trained.GetProperty("model").GetProperty("model_version").GetProperty("id").GetString()!;
        Assert.Equal(StatusCode.ModelTrained, (await iris.WaitTrainedAsync(app, "legacy", versionId)).Status.Code);

        var (infoStatus, info, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/admin/apps/{app}/models/legacy/output_info"));
        Assert.Equal(HttpStatusCode.OK, infoStatus);
        Assert.Equal(21100, info.GetProperty("model").GetProperty("model_version").GetProperty("status").GetProperty("code").GetInt32());
        var concepts = info.GetProperty("model").GetProperty("output_info").GetProperty("data").GetProperty("concepts").EnumerateArray().ToArray();
        Assert.Equal(["cat", "coffee"], concepts.Select(c => c.GetProperty("id").GetString()!).ToArray());
        Assert.Equal(app, concepts[0].GetProperty("app_id").GetString());

        var predict = JsonSerializer.Serialize(new { inputs = new[] { new { data = new { image = new { base64 = Convert.ToBase64String(TrainingPhotos.Views("chelsea.png", 1, offset: 20)[0]) } } } } });
        var (predictStatus, predicted, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{app}/models/legacy/outputs", predict));
        Assert.Equal(HttpStatusCode.OK, predictStatus);
        Assert.Equal(10000, predicted.Code());
        var top = predicted.GetProperty("outputs")[0].GetProperty("data").GetProperty("concepts")[0];
        Assert.Equal("cat", top.GetProperty("id").GetString());
        Assert.Equal("admin", top.GetProperty("user_id").GetString());

        // PostModelsSearches (the legacy client's models.search): by name with a wildcard and by type.
        var (searchStatus, found, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{app}/models/searches",
            """{"model_query":{"name":"leg*","model_type_id":"embedding-classifier"}}"""));
        Assert.Equal(HttpStatusCode.OK, searchStatus);
        Assert.Equal(["legacy"], found.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray());

        // PatchModelIds renames the model with its versions.
        var (renameStatus, renamed, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Patch, $"/v2/users/admin/apps/{app}/models/ids",
            """{"ids":[{"id":"legacy","new_id":"renamed"}],"action":"overwrite"}"""));
        Assert.Equal(HttpStatusCode.OK, renameStatus);
        Assert.Equal(versionId, renamed.GetProperty("models")[0].GetProperty("model_version").GetProperty("id").GetString());
        var (goneStatus, gone, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/admin/apps/{app}/models/legacy"));
        Assert.Equal(HttpStatusCode.NotFound, goneStatus);
        Assert.Equal(11101, gone.Code());
    }

    [Fact]
    public async Task Training_failures_answer_precise_statuses_and_untrained_versions_do_not_predict()
    {
        var app = await iris.PetsAppAsync("failures");
        async Task<ModelVersion> TrainAsync(string modelId, PostModelVersionsRequest request)
        {
            Assert.Equal(StatusCode.Success, (await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = TrainingFixture.App(app), Models = { new Model { Id = modelId } } }, Pat)).Status.Code);
            var posted = await iris.Grpc.PostModelVersionsAsync(request, Pat);
            Assert.Equal(StatusCode.Success, posted.Status.Code);
            return await iris.WaitTrainedAsync(app, modelId, posted.Model.ModelVersion.Id);
        }

        var noData = await TrainAsync("no-data", TrainingFixture.Train(app, "no-data", ["unicorn"]));
        Assert.Equal(StatusCode.ModelTrainingNoData, noData.Status.Code);
        Assert.Contains("processed", noData.Status.Details, StringComparison.Ordinal);

        // An input labelled 0 on a concept is data, but no positive.
        await iris.AddLabelledAsync(app, [("neg-only", TrainingPhotos.Views("astronaut.png", 1)[0], [("astronaut", 0f)])]);
        var noPositives = await TrainAsync("no-positives", TrainingFixture.Train(app, "no-positives", ["astronaut"]));
        Assert.Equal(StatusCode.ModelTrainingNoPositives, noPositives.Status.Code);

        // One concept, every example positive, no enrichment: nothing to tell it from.
        await iris.AddLabelledAsync(app, TrainingPhotos.Views("motorcycle_left.png", 3).Select((b, i) => ($"moto-{i}", b, new[] { ("motorcycle", 1f) })));
        var insufficient = await TrainAsync("insufficient", TrainingFixture.Train(app, "insufficient", ["motorcycle"], enrich: "Disabled"));
        Assert.Equal(StatusCode.ModelTrainingInsufficientData, insufficient.Status.Code);
        // The same with the enrichment negatives trains.
        var enriched = await TrainAsync("enriched", TrainingFixture.Train(app, "enriched", ["motorcycle"], enrich: "Automatic"));
        Assert.Equal(StatusCode.ModelTrained, enriched.Status.Code);

        var invalid = await TrainAsync("invalid", TrainingFixture.Train(app, "invalid", ["cat", "coffee"], enrich: "Sometimes"));
        Assert.Equal(StatusCode.ModelTrainingInvalidParams, invalid.Status.Code);
        Assert.Contains("enrich_dataset", invalid.Status.Details, StringComparison.Ordinal);

        // A failed version does not predict: 21102 naming the failure; the model has no trained version either.
        var byVersion = await PredictAsync(app, "invalid", TrainingPhotos.Views("chelsea.png", 1)[0], invalid.Id);
        Assert.Equal(StatusCode.ModelUntrained, byVersion.Status.Code);
        Assert.Contains("21118", byVersion.Status.Details, StringComparison.Ordinal);
        Assert.Equal(StatusCode.ModelUntrained, (await PredictAsync(app, "invalid", TrainingPhotos.Views("chelsea.png", 1)[0])).Status.Code);

        // Only inputs processed when the version was created train it: labels added afterwards are not used.
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = TrainingFixture.App(app), Models = { new Model { Id = "late" } } }, Pat)).Status.Code);
        var late = await iris.Grpc.PostModelVersionsAsync(TrainingFixture.Train(app, "late", ["horse", "cat"]), Pat);
        await iris.AddLabelledAsync(app, [("horse-0", TrainingPhotos.Views("horse.png", 1)[0], [("horse", 1f)])]);
        var lateVersion = await iris.WaitTrainedAsync(app, "late", late.Model.ModelVersion.Id);
        Assert.Equal(StatusCode.ModelTrainingNoPositives, lateVersion.Status.Code);
        Assert.Contains("horse", lateVersion.Status.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lifecycle_requests_are_validated_and_access_is_the_apps()
    {
        var app = "rules";
        await iris.CreateAppAsync(app);
        var ids = TrainingFixture.App(app);
        Assert.Equal(StatusCode.ModelInvalidArgument, (await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "bad id!" } } }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ModelInvalidArgument, (await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "x", ModelTypeId = "no-such-type" } } }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ConnInvalidRequest, (await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids }, Pat)).Status.Code);

        // facedetect → detect (seed 002, 2020-02-12): the type is stored and filtered under its current id.
        var face = await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "faces", ModelTypeId = "facedetect" } } }, Pat);
        Assert.Equal("detect", face.Model.ModelTypeId);
        var listed = await iris.Grpc.ListModelsAsync(new ListModelsRequest { UserAppId = ids, ModelTypeId = "facedetect" }, Pat);
        Assert.Equal(["faces"], listed.Models.Select(m => m.Id).ToArray());
        Assert.Equal("detect-concept", (await iris.Grpc.GetModelTypeAsync(new GetModelTypeRequest { UserAppId = ids, ModelTypeId = "facedetect-identity" }, Pat)).ModelType.Id);
        // Iris trains embedding-classifiers only: versions of other types are not implemented.
        Assert.Equal(StatusCode.NotImplemented, (await iris.Grpc.PostModelVersionsAsync(new PostModelVersionsRequest { UserAppId = ids, ModelId = "faces" }, Pat)).Status.Code);

        var duplicate = await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "faces" } } }, Pat);
        Assert.Equal(StatusCode.ModelInvalidArgument, duplicate.Status.Code);
        Assert.Contains("already exists", duplicate.Status.Details, StringComparison.Ordinal);
        Assert.Equal(StatusCode.ModelDoesNotExist, (await iris.Grpc.PostModelVersionsAsync(new PostModelVersionsRequest { UserAppId = ids, ModelId = "nope" }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ModelDoesNotExist, (await iris.Grpc.DeleteModelAsync(new DeleteModelRequest { UserAppId = ids, ModelId = "nope" }, Pat)).Status.Code);
        Assert.Equal(StatusCode.ModelPermissionDenied, (await iris.Grpc.PostModelVersionsAsync(new PostModelVersionsRequest { UserAppId = ids, ModelId = "general-image-recognition" }, Pat)).Status.Code);

        // ListModelTypes describes embedding-classifier as trainable, with the enum options of enrich_dataset.
        var type = (await iris.Grpc.GetModelTypeAsync(new GetModelTypeRequest { UserAppId = ids, ModelTypeId = "embedding-classifier" }, Pat)).ModelType;
        Assert.True(type.Trainable);
        var enrich = type.ModelTypeFields.Single(f => f.Path == "train_info.params.enrich_dataset");
        Assert.Equal(ModelTypeField.Types.ModelTypeFieldType.Enum, enrich.FieldType);
        Assert.Equal(["Automatic", "Disabled"], enrich.ModelTypeEnumOptions.Select(o => o.Id).ToArray());
        Assert.Equal("Automatic", enrich.DefaultValue.StringValue);

        // A stranger sees nothing of admin's app and cannot write to it.
        var steve = TrainingFixture.Auth(iris.StevePat);
        var read = await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = ids, ModelId = "faces" }, steve);
        Assert.Equal(StatusCode.ConnDoesNotExist, read.Status.Code);
        Assert.Equal($"App '{app}' of user 'admin' does not exist.", read.Status.Details);
        var write = await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "intruder" } } }, steve);
        Assert.Equal(StatusCode.ConnDoesNotExist, write.Status.Code);
        var predict = await iris.Grpc.PostModelOutputsAsync(new PostModelOutputsRequest { UserAppId = ids, ModelId = "faces", Inputs = { new Input { Id = "x" } } }, steve);
        Assert.Equal(StatusCode.ConnDoesNotExist, predict.Status.Code);
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = ids, ModelId = "intruder" }, Pat)).Status.Code);

        // DeleteApp takes the app's models with it; an app of the same id starts without them.
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteAppAsync(new DeleteAppRequest { UserAppId = ids }, Pat)).Status.Code);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await iris.Grpc.PostAppsAsync(new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" }, Apps = { new App { Id = app } } }, Pat)).Status.Code != StatusCode.Success)
        {
            Assert.True(DateTime.UtcNow < deadline, "the app was not purged within 30 s");
            await Task.Delay(100);
        }

        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetModelAsync(new GetModelRequest { UserAppId = ids, ModelId = "faces" }, Pat)).Status.Code);
    }
}

public sealed class TrainingTestsOnSqlite(TrainingFixture iris) : TrainingTests<TrainingFixture>(iris);

public sealed class TrainingTestsOnPostgres(PostgresTrainingFixture iris) : TrainingTests<PostgresTrainingFixture>(iris);
