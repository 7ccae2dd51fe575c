using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Models;
using static Iris.Server.Tests.Workflows.WorkflowCrudTests<Iris.Server.Tests.Workflows.WorkflowsFixture>;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Workflows;

/// <summary>
/// A training server (<see cref="TrainingFixture"/>: a second user, labelled photos) whose embedding-classifier
/// <c>pets</c> (cat / coffee, negatives: a rocket) is trained once for the test class, in app <c>wf-pets</c>.
/// </summary>
public class CustomModelNodeFixture : TrainingFixture
{
    public const string PetsApp = "wf-pets";

    private readonly Lazy<Task<string>> _pets;

    public CustomModelNodeFixture() => _pets = new Lazy<Task<string>>(TrainPetsAsync);

    /// <summary>The id of the trained version of <c>pets</c> in <see cref="PetsApp"/> (trained on first use).</summary>
    public Task<string> PetsVersionAsync() => _pets.Value;

    private async Task<string> TrainPetsAsync()
    {
        await PetsAppAsync(PetsApp);
        var created = await Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = App(PetsApp), Models = { new Model { Id = "pets", ModelTypeId = "embedding-classifier" } } }, PatMetadata);
        WorkflowsFixture.Ok(created.Status);
        var posted = await Grpc.PostModelVersionsAsync(Train(PetsApp, "pets", ["cat", "coffee"], enrich: "Disabled"), PatMetadata);
        WorkflowsFixture.Ok(posted.Status);
        var trained = await WaitTrainedAsync(PetsApp, "pets", posted.Model.ModelVersion.Id);
        Assert.Equal(StatusCode.ModelTrained, trained.Status.Code);
        return trained.Id;
    }
}

public sealed class PostgresCustomModelNodeFixture : CustomModelNodeFixture
{
    protected override bool OnPostgres => true;
}

/// <summary>
/// Issue 13's "a workflow with a trained custom model": a user's trained embedding-classifier as a workflow node (by id
/// and by version), alone and fed by a detector's crops, over gRPC and REST; nodes on models with no trained version
/// refused at write time with the registry's status; another user's model refused by the workflow access rules.
/// </summary>
public abstract class CustomModelNodeTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : CustomModelNodeFixture
{
    private static readonly global::Grpc.Core.Metadata Pat = IrisFixture.PatMetadata;
    private const string PetsApp = CustomModelNodeFixture.PetsApp;

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private static Input Bytes(byte[] image) => new() { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(image) } } };

    private async Task<MultiWorkflowResponse> PostAsync(string app, global::Grpc.Core.Metadata auth, params Workflow[] workflows)
    {
        var request = new PostWorkflowsRequest { UserAppId = TrainingFixture.App(app) };
        request.Workflows.AddRange(workflows);
        return await iris.Grpc.PostWorkflowsAsync(request, auth);
    }

    private async Task<PostWorkflowResultsResponse> RunAsync(string app, string workflowId, params byte[][] images)
    {
        var request = new PostWorkflowResultsRequest { UserAppId = TrainingFixture.App(app), WorkflowId = workflowId };
        request.Inputs.AddRange(images.Select(Bytes));
        return await iris.Grpc.PostWorkflowResultsAsync(request, Pat);
    }

    private static void AssertTrimmedPets(Model model, string versionId)
    {
        Assert.Equal(("pets", PetsApp, "admin", "embedding-classifier"), (model.Id, model.AppId, model.UserId, model.ModelTypeId));
        Assert.Equal(Visibility.Types.Gettable.Private, model.Visibility.Gettable);
        Assert.Equal((versionId, PetsApp, "admin"), (model.ModelVersion.Id, model.ModelVersion.AppId, model.ModelVersion.UserId));
        Assert.Equal(StatusCode.ModelTrained, model.ModelVersion.Status.Code);
        Assert.Equal(Visibility.Types.Gettable.Private, model.ModelVersion.Visibility.Gettable);
    }

    private static void AssertPetsConcepts(IList<Concept> concepts, string expected)
    {
        Assert.Equal(2, concepts.Count);
        Assert.Equal(["cat", "coffee"], concepts.Select(c => c.Id).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(expected, concepts[0].Id);
        Assert.True(concepts[0].Value >= 0.5f, $"{expected}: {concepts[0].Value}");
        Assert.True(concepts[1].Value < concepts[0].Value, $"{concepts[1].Id}: {concepts[1].Value} vs {expected}: {concepts[0].Value}");
        Assert.All(concepts, c => Assert.Equal((PetsApp, "admin"), (c.AppId, c.UserId)));
    }

    [Fact]
    public async Task gRPC_a_trained_custom_model_is_a_node_by_id_and_by_version_and_answers_as_predict_does()
    {
        var version = await iris.PetsVersionAsync();
        var created = await PostAsync(PetsApp, Pat,
            new Workflow { Id = "pets-latest", Nodes = { Node("classify", "pets") } },
            new Workflow { Id = "pets-pinned", Nodes = { Node("classify", "pets", version: version) } });
        WorkflowsFixture.Ok(created.Status);
        // Both pin the trained version: the latest one when none is named.
        Assert.All(created.Workflows, w => Assert.Equal(version, Assert.Single(w.Nodes).Model.ModelVersion.Id));

        // Held-out views (windows the training never saw) of each subject, in one request.
        var cat = TrainingPhotos.Views("chelsea.png", 1, offset: 20)[0];
        var coffee = TrainingPhotos.Views("coffee.png", 1, offset: 20)[0];
        foreach (var workflowId in new[] { "pets-latest", "pets-pinned" })
        {
            var response = await RunAsync(PetsApp, workflowId, cat, coffee);
            WorkflowsFixture.Ok(response.Status);
            Assert.Equal(2, response.Results.Count);
            foreach (var (result, expected, image) in new[] { (response.Results[0], "cat", cat), (response.Results[1], "coffee", coffee) })
            {
                Assert.Equal(StatusCode.Success, result.Status.Code);
                var output = Assert.Single(result.Outputs);
                AssertTrimmedPets(output.Model, version);
                AssertPetsConcepts(output.Data.Concepts, expected);

                // The same concepts and values as PostModelOutputs of the model alone on the same bytes.
                var alone = await iris.Grpc.PostModelOutputsAsync(new PostModelOutputsRequest { UserAppId = TrainingFixture.App(PetsApp), ModelId = "pets", Inputs = { Bytes(image) } }, Pat);
                WorkflowsFixture.Ok(alone.Status);
                var separate = alone.Outputs[0].Data.Concepts;
                Assert.Equal(separate.Select(c => c.Id), output.Data.Concepts.Select(c => c.Id));
                Assert.All(separate.Zip(output.Data.Concepts), p => Assert.Equal(p.First.Value, p.Second.Value, 0.02f));
            }
        }
    }

    [Fact]
    public async Task REST_a_workflow_with_the_custom_model_version_runs_by_bytes()
    {
        var version = await iris.PetsVersionAsync();
        var post = JsonSerializer.Serialize(new
        {
            workflows = new[]
            {
                new { id = "pets-rest", nodes = new[] { new { id = "classify", model = new { id = "pets", model_version = new { id = version } } } } },
            },
        });
        var (postStatus, created, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{PetsApp}/workflows", post));
        Assert.Equal(HttpStatusCode.OK, postStatus);
        Assert.Equal(10000, created.Code());
        var node = Assert.Single(created.GetProperty("workflows")[0].GetProperty("nodes").EnumerateArray());
        Assert.Equal(("pets", version), (node.GetProperty("model").GetProperty("id").GetString(), node.GetProperty("model").GetProperty("model_version").GetProperty("id").GetString()));

        var run = JsonSerializer.Serialize(new { inputs = new[] { new { data = new { image = new { base64 = Convert.ToBase64String(TrainingPhotos.Views("coffee.png", 1, offset: 21)[0]) } } } } });
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{PetsApp}/workflows/pets-rest/results", run));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        var result = Assert.Single(json.GetProperty("results").EnumerateArray());
        Assert.Equal(10000, result.GetProperty("status").GetProperty("code").GetInt32());
        var output = Assert.Single(result.GetProperty("outputs").EnumerateArray());
        var model = output.GetProperty("model");
        Assert.Equal(("pets", PetsApp, "admin", "embedding-classifier"),
            (model.GetProperty("id").GetString(), model.GetProperty("app_id").GetString(), model.GetProperty("user_id").GetString(), model.GetProperty("model_type_id").GetString()));
        Assert.Equal(10, model.GetProperty("visibility").GetProperty("gettable").GetInt32());
        var modelVersion = model.GetProperty("model_version");
        Assert.Equal((version, PetsApp, "admin", 21100, 10),
            (modelVersion.GetProperty("id").GetString(), modelVersion.GetProperty("app_id").GetString(), modelVersion.GetProperty("user_id").GetString(),
             modelVersion.GetProperty("status").GetProperty("code").GetInt32(), modelVersion.GetProperty("visibility").GetProperty("gettable").GetInt32()));
        var concepts = output.GetProperty("data").GetProperty("concepts").EnumerateArray().ToArray();
        Assert.Equal(2, concepts.Length);
        Assert.Equal("coffee", concepts[0].GetProperty("id").GetString());
        Assert.True(concepts[0].GetProperty("value").GetSingle() >= 0.5f, concepts[0].ToString());
        Assert.True(concepts[1].GetProperty("value").GetSingle() < concepts[0].GetProperty("value").GetSingle(), concepts[1].ToString());
        Assert.All(concepts, c => Assert.Equal((PetsApp, "admin"), (c.GetProperty("app_id").GetString(), c.GetProperty("user_id").GetString())));
    }

    [Fact]
    public async Task A_detector_feeds_the_custom_classifier_which_runs_on_each_region_crop()
    {
        var version = await iris.PetsVersionAsync();
        var created = await PostAsync(PetsApp, Pat, new Workflow { Id = "objects-then-pets", Nodes = { Node("detect", "general-image-detection"), Node("classify", "pets", "detect") } });
        WorkflowsFixture.Ok(created.Status);

        // The whole photographs: the detector finds the cat and the cup; the custom head runs on each crop.
        var photos = new[] { ("chelsea.png", "cat", "cat"), ("coffee.png", "cup", "coffee") };
        var response = await RunAsync(PetsApp, "objects-then-pets", photos.Select(p => File.ReadAllBytes(Path.Combine(TrainingPhotos.Dir, p.Item1))).ToArray());
        WorkflowsFixture.Ok(response.Status);
        foreach (var (result, (photo, detected, expected)) in response.Results.Zip(photos))
        {
            Assert.Equal(["general-image-detection", "pets"], result.Outputs.Select(o => o.Model.Id));
            var regions = result.Outputs[0].Data.Regions;
            Assert.NotEmpty(regions);
            var classified = result.Outputs[1].Data.Regions;
            AssertTrimmedPets(result.Outputs[1].Model, version);
            // One region per detected region, with the detector's id and box, and the custom model's two concepts.
            Assert.Equal(regions.Select(r => r.Id), classified.Select(r => r.Id));
            Assert.Equal(regions.Select(r => r.RegionInfo.BoundingBox), classified.Select(r => r.RegionInfo.BoundingBox));
            Assert.All(classified, r => Assert.Equal(2, r.Data.Concepts.Count));
            var subject = regions.Where(r => r.Data.Concepts[0].Name == detected).MaxBy(r => r.Value);
            Assert.True(subject is not null, $"{photo}: no '{detected}' region among {string.Join(", ", regions.Select(r => r.Data.Concepts[0].Name))}");
            AssertPetsConcepts(classified.Single(r => r.Id == subject.Id).Data.Concepts, expected);
        }
    }

    [Fact]
    public async Task A_node_on_a_model_with_no_trained_version_is_refused_at_write_time_and_nothing_is_stored()
    {
        var app = await iris.CreateAppAsync("wf-untrained");
        var ids = TrainingFixture.App(app);
        WorkflowsFixture.Ok((await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "bare", ModelTypeId = "embedding-classifier" } } }, Pat)).Status);
        // A version whose training failed: an input labelled 0 on the concept is data, but no positive (21111).
        await iris.AddLabelledAsync(app, [("neg-only", TrainingPhotos.Views("astronaut.png", 1)[0], [("astronaut", 0f)])]);
        WorkflowsFixture.Ok((await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = ids, Models = { new Model { Id = "failed" } } }, Pat)).Status);
        var posted = await iris.Grpc.PostModelVersionsAsync(TrainingFixture.Train(app, "failed", ["astronaut"]), Pat);
        WorkflowsFixture.Ok(posted.Status);
        var failed = await iris.WaitTrainedAsync(app, "failed", posted.Model.ModelVersion.Id);
        Assert.Equal(StatusCode.ModelTrainingNoPositives, failed.Status.Code);
        Assert.NotEmpty(failed.Status.Details);

        var noVersion = await PostAsync(app, Pat, new Workflow { Id = "on-bare", Nodes = { Node("classify", "bare") } });
        Assert.Equal((StatusCode.ModelUntrained, "Node 'classify': Model 'bare' has no version yet: create one with PostModelVersions to train it."), (noVersion.Status.Code, noVersion.Status.Details));
        Assert.Empty(noVersion.Workflows);
        // A version id the model does not have is "no such version", not "untrained", even when the model has none.
        const string unknown = "00000000000000000000000000000000";
        var unknownVersion = await PostAsync(app, Pat, new Workflow { Id = "on-bare", Nodes = { Node("classify", "bare", version: unknown) } });
        Assert.Equal((StatusCode.ModelDoesNotExist, $"Node 'classify': model 'bare' has no version '{unknown}'."), (unknownVersion.Status.Code, unknownVersion.Status.Details));

        var failedDetails = $"Node 'classify': Version '{failed.Id}' of model 'failed' is not trained: its training failed with 21111 ({failed.Status.Details}).";
        var latest = await PostAsync(app, Pat, new Workflow { Id = "on-failed", Nodes = { Node("classify", "failed") } });
        Assert.Equal((StatusCode.ModelUntrained, failedDetails), (latest.Status.Code, latest.Status.Details));
        var pinned = await PostAsync(app, Pat, new Workflow { Id = "on-failed-version", Nodes = { Node("classify", "failed", version: failed.Id) } });
        Assert.Equal((StatusCode.ModelUntrained, failedDetails), (pinned.Status.Code, pinned.Status.Details));

        // A good workflow in the same request is not stored either; a patch onto the failed model leaves the workflow as it was.
        var mixed = await PostAsync(app, Pat,
            new Workflow { Id = "fine", Nodes = { Node("concepts", "general-image-recognition") } },
            new Workflow { Id = "on-bare", Nodes = { Node("classify", "bare") } });
        Assert.Equal(StatusCode.ModelUntrained, mixed.Status.Code);
        var list = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = ids }, Pat);
        WorkflowsFixture.Ok(list.Status);
        Assert.Empty(list.Workflows);

        WorkflowsFixture.Ok((await PostAsync(app, Pat, new Workflow { Id = "fine", Nodes = { Node("concepts", "general-image-recognition") } })).Status);
        var patch = new PatchWorkflowsRequest { UserAppId = ids, Action = "overwrite", Workflows = { new Workflow { Id = "fine", Nodes = { Node("classify", "failed") } } } };
        var patched = await iris.Grpc.PatchWorkflowsAsync(patch, Pat);
        Assert.Equal((StatusCode.ModelUntrained, failedDetails), (patched.Status.Code, patched.Status.Details));
        var fine = await iris.Grpc.GetWorkflowAsync(new GetWorkflowRequest { UserAppId = ids, WorkflowId = "fine" }, Pat);
        WorkflowsFixture.Ok(fine.Status);
        Assert.Equal("general-image-recognition", Assert.Single(fine.Workflow.Nodes).Model.Id);
        var versions = await iris.Grpc.ListWorkflowVersionsAsync(new ListWorkflowVersionsRequest { UserAppId = ids, WorkflowId = "fine" }, Pat);
        Assert.Single(versions.WorkflowVersions);
    }

    [Fact]
    public async Task A_custom_model_of_another_app_of_the_same_user_is_a_node_and_a_deleted_version_is_named_when_run()
    {
        var version = await iris.PetsVersionAsync();
        // A node naming the model's app: a PAT that can read it may use it; the output names the model's own app.
        var other = await iris.CreateAppAsync("wf-other");
        var remote = Node("remote", "pets");
        remote.Model.UserId = "admin";
        remote.Model.AppId = PetsApp;
        WorkflowsFixture.Ok((await PostAsync(other, Pat, new Workflow { Id = "remote-pets", Nodes = { remote } })).Status);
        var request = new PostWorkflowResultsRequest { UserAppId = TrainingFixture.App(other), WorkflowId = "remote-pets", Inputs = { Bytes(TrainingPhotos.Views("chelsea.png", 1, offset: 22)[0]) } };
        var response = await iris.Grpc.PostWorkflowResultsAsync(request, Pat);
        WorkflowsFixture.Ok(response.Status);
        AssertTrimmedPets(response.Results[0].Outputs[0].Model, version);
        AssertPetsConcepts(response.Results[0].Outputs[0].Data.Concepts, "cat");
        // select_concepts knows the trained concepts.
        request.OutputConfig = new OutputConfig { SelectConcepts = { new Concept { Id = "coffee" } } };
        var selected = await iris.Grpc.PostWorkflowResultsAsync(request, Pat);
        WorkflowsFixture.Ok(selected.Status);
        Assert.Equal("coffee", Assert.Single(selected.Results[0].Outputs[0].Data.Concepts).Id);

        // A workflow pinned to a version that is then deleted: running it names the node and the missing version.
        WorkflowsFixture.Ok((await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = TrainingFixture.App(PetsApp), Models = { new Model { Id = "doomed" } } }, Pat)).Status);
        var posted = await iris.Grpc.PostModelVersionsAsync(TrainingFixture.Train(PetsApp, "doomed", ["cat", "coffee"], enrich: "Disabled"), Pat);
        WorkflowsFixture.Ok(posted.Status);
        var doomed = await iris.WaitTrainedAsync(PetsApp, "doomed", posted.Model.ModelVersion.Id);
        Assert.Equal(StatusCode.ModelTrained, doomed.Status.Code);
        WorkflowsFixture.Ok((await PostAsync(PetsApp, Pat, new Workflow { Id = "on-doomed", Nodes = { Node("classify", "doomed") } })).Status);
        WorkflowsFixture.Ok((await RunAsync(PetsApp, "on-doomed", TrainingPhotos.Views("coffee.png", 1, offset: 22)[0])).Status);
        var deleted = await iris.Grpc.DeleteModelVersionAsync(new DeleteModelVersionRequest { UserAppId = TrainingFixture.App(PetsApp), ModelId = "doomed", VersionId = doomed.Id }, Pat);
        WorkflowsFixture.Ok(deleted.Status);
        var gone = await RunAsync(PetsApp, "on-doomed", TrainingPhotos.Views("coffee.png", 1, offset: 22)[0]);
        Assert.Equal((StatusCode.ModelDoesNotExist, $"Node 'classify': model 'doomed' has no version '{doomed.Id}'."), (gone.Status.Code, gone.Status.Details));
        Assert.Empty(gone.Results);
    }

    [Fact]
    public async Task Another_users_trained_model_is_not_a_node_of_a_strangers_workflow()
    {
        var version = await iris.PetsVersionAsync();
        var steve = TrainingFixture.Auth(iris.StevePat);
        var app = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" }, Apps = { new App { Id = "steve-app" } } };
        WorkflowsFixture.Ok((await iris.Grpc.PostAppsAsync(app, steve)).Status);
        var steveApp = new UserAppIDSet { UserId = "steve", AppId = "steve-app" };

        foreach (var pinnedVersion in new[] { null, version })
        {
            var stolen = Node("stolen", "pets", version: pinnedVersion);
            stolen.Model.UserId = "admin";
            stolen.Model.AppId = PetsApp;
            var denied = await iris.Grpc.PostWorkflowsAsync(new PostWorkflowsRequest { UserAppId = steveApp, Workflows = { new Workflow { Id = "stolen", Nodes = { stolen } } } }, steve);
            Assert.Equal((StatusCode.ModelPermissionDenied, $"Node 'stolen' uses model 'pets' of app 'admin/{PetsApp}', which you cannot read (App '{PetsApp}' of user 'admin' does not exist.)"),
                (denied.Status.Code, denied.Status.Details));
        }

        // Without app_id the node names a model of steve's own app, where there is no 'pets'.
        var own = await iris.Grpc.PostWorkflowsAsync(new PostWorkflowsRequest { UserAppId = steveApp, Workflows = { new Workflow { Id = "own", Nodes = { Node("mine", "pets") } } } }, steve);
        Assert.Equal((StatusCode.ModelDoesNotExist, "Node 'mine': model 'pets' does not exist in app 'steve/steve-app' or among the public models of clarifai/main."),
            (own.Status.Code, own.Status.Details));
        var list = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = steveApp }, steve);
        WorkflowsFixture.Ok(list.Status);
        Assert.Empty(list.Workflows);

        // Nor can steve run admin's workflow on it.
        WorkflowsFixture.Ok((await PostAsync(PetsApp, Pat, new Workflow { Id = "pets-private", Nodes = { Node("classify", "pets") } })).Status);
        var run = await iris.Grpc.PostWorkflowResultsAsync(new PostWorkflowResultsRequest { UserAppId = TrainingFixture.App(PetsApp), WorkflowId = "pets-private", Inputs = { Bytes(TrainingPhotos.Views("chelsea.png", 1)[0]) } }, steve);
        Assert.Equal((StatusCode.ConnDoesNotExist, $"App '{PetsApp}' of user 'admin' does not exist."), (run.Status.Code, run.Status.Details));
        Assert.Empty(run.Results);
    }
}

public sealed class CustomModelNodeTestsOnSqlite(CustomModelNodeFixture iris) : CustomModelNodeTests<CustomModelNodeFixture>(iris);

public sealed class CustomModelNodeTestsOnPostgres(PostgresCustomModelNodeFixture iris) : CustomModelNodeTests<PostgresCustomModelNodeFixture>(iris);
