using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Models;
using static Iris.Server.Tests.Workflows.WorkflowCrudTests<Iris.Server.Tests.Workflows.WorkflowsFixture>;
using static Iris.Server.Tests.Workflows.WorkflowsFixture;

namespace Iris.Server.Tests.Workflows;

/// <summary>
/// PostWorkflowResults over REST and gRPC: the seed's response shape, public workflows on real photos with floors, a
/// detector feeding classifiers on each face crop, suppress_output, output_info_override, output_config, per-input status
/// and the 32-input limit.
/// </summary>
public abstract class WorkflowResultsTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : WorkflowsFixture
{
    private static readonly ByteString Metro = ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.MetroNorth));
    private static readonly ByteString Faces = ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.FaceDetect));

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private static Input Bytes(ByteString bytes, string? id = null) => new() { Id = id ?? string.Empty, Data = new Data { Image = new Image { Base64 = bytes } } };

    private async Task<PostWorkflowResultsResponse> RunAsync(UserAppIDSet app, string workflowId, OutputConfig? config, params Input[] inputs)
    {
        var request = new PostWorkflowResultsRequest { UserAppId = app, WorkflowId = workflowId, OutputConfig = config };
        request.Inputs.AddRange(inputs);
        return await iris.Grpc.PostWorkflowResultsAsync(request, IrisFixture.PatMetadata);
    }

    [Fact]
    public async Task REST_General_answers_in_the_shape_of_the_seed_with_max_concepts_applied()
    {
        var body = JsonSerializer.Serialize(new
        {
            inputs = new[] { new { data = new { image = new { base64 = Convert.ToBase64String(Metro.ToByteArray()) } } } },
            output_config = new { max_concepts = 3 },
        });
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, "/v2/users/clarifai/apps/main/workflows/General/results", body));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        Assert.Equal("General", json.GetProperty("workflow").GetProperty("id").GetString());
        var result = Assert.Single(json.GetProperty("results").EnumerateArray());
        Assert.Matches("^[0-9a-f]{32}$", result.GetProperty("id").GetString());
        Assert.Equal(10000, result.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("dHJ1ZQ==", result.GetProperty("input").GetProperty("data").GetProperty("image").GetProperty("base64").GetString());
        var outputs = result.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(2, outputs.Length);

        // outputs[0]: the recognition node, its trimmed model as predict writes it (seed 000/002), 3 concepts.
        var model = outputs[0].GetProperty("model");
        Assert.Equal(("general-image-recognition", "main", "clarifai", "visual-classifier"),
            (model.GetProperty("id").GetString(), model.GetProperty("app_id").GetString(), model.GetProperty("user_id").GetString(), model.GetProperty("model_type_id").GetString()));
        Assert.False(model.TryGetProperty("description", out _));
        Assert.Equal(21100, model.GetProperty("model_version").GetProperty("status").GetProperty("code").GetInt32());
        var concepts = outputs[0].GetProperty("data").GetProperty("concepts").EnumerateArray().ToArray();
        Assert.Equal(3, concepts.Length);
        // The same concepts and scores as PostModelOutputs of the model alone on the same photo.
        var alone = new PostModelOutputsRequest { UserAppId = Main, ModelId = "general-image-recognition", Inputs = { Bytes(Metro) } };
        alone.Model = new Model { ModelVersion = new ModelVersion { OutputInfo = new OutputInfo { OutputConfig = new OutputConfig { MaxConcepts = 3 } } } };
        var separate = (await iris.Grpc.PostModelOutputsAsync(alone, IrisFixture.PatMetadata)).Outputs[0].Data.Concepts;
        Assert.Equal(separate.Select(c => c.Id), concepts.Select(c => c.GetProperty("id").GetString()));
        Assert.All(separate.Zip(concepts), p => Assert.Equal(p.First.Value, p.Second.GetProperty("value").GetSingle(), 0.02f));
        Assert.True(concepts[0].GetProperty("value").GetSingle() >= 0.3f);

        // outputs[1]: the embedding node, one unit-length 1280-d vector.
        Assert.Equal("general-image-embedding", outputs[1].GetProperty("model").GetProperty("id").GetString());
        var embedding = Assert.Single(outputs[1].GetProperty("data").GetProperty("embeddings").EnumerateArray());
        Assert.Equal(1280, embedding.GetProperty("num_dimensions").GetInt32());
        var norm = Math.Sqrt(embedding.GetProperty("vector").EnumerateArray().Sum(v => v.GetDouble() * v.GetDouble()));
        Assert.InRange(norm, 0.999, 1.001);
    }

    [Fact]
    public async Task Demographics_finds_the_five_faces_and_describes_each_with_separate_age_and_gender_models()
    {
        var response = await RunAsync(Main, "Demographics", null, Bytes(Faces));
        Ok(response.Status);
        var outputs = response.Results[0].Outputs;
        Assert.Equal(["face-detection", "age-demographics-recognition", "gender-demographics-recognition"], outputs.Select(o => o.Model.Id));
        var faces = outputs[0].Data.Regions;
        Assert.Equal(5, faces.Count);
        // Decoded once at full size for the crops (predict alone decodes the detector's input smaller): scores shift a little.
        Assert.All(faces, f => Assert.True(f.Value >= 0.7f, $"face score {f.Value}"));
        foreach (var (output, vocab, size) in new[] { (outputs[1], "age_appearance", 9), (outputs[2], "gender_appearance", 2) })
        {
            // One region per face, the detector's box and id, with this model's concepts (each with its vocab_id).
            Assert.Equal(faces.Select(f => f.Id), output.Data.Regions.Select(r => r.Id));
            Assert.Equal(faces.Select(f => f.RegionInfo.BoundingBox), output.Data.Regions.Select(r => r.RegionInfo.BoundingBox));
            Assert.All(output.Data.Regions, r =>
            {
                Assert.Equal(size, r.Data.Concepts.Count);
                Assert.All(r.Data.Concepts, c => Assert.Equal(vocab, c.VocabId));
                Assert.InRange(r.Data.Concepts.Sum(c => c.Value), 0.98f, 1.02f);
            });
        }

        // The screenshot's faces are adults: most of each face's age mass lies between 10 and 59.
        var adult = new HashSet<string> { "10-19", "20-29", "30-39", "40-49", "50-59" };
        Assert.All(outputs[1].Data.Regions, r => Assert.True(r.Data.Concepts.Where(c => adult.Contains(c.Name)).Sum(c => c.Value) >= 0.6f, r.Data.ToString()));
    }

    [Fact]
    public async Task A_detector_feeds_classifiers_per_face_with_suppress_output_and_output_info_override()
    {
        var app = await iris.CreateAppAsync("wf-graph", "Empty");
        var detect = Node("detect", "face-detection");
        detect.SuppressOutput = true;
        var age = Node("age", "age-demographics-recognition", "detect");
        age.OutputInfoOverride = new OutputInfo { OutputConfig = new OutputConfig { MaxConcepts = 2 } };
        var sentiment = Node("mood", "face-sentiment-recognition", "detect");
        var post = new PostWorkflowsRequest { UserAppId = App(app), Workflows = { new Workflow { Id = "faces", Nodes = { detect, age, sentiment } } } };
        Ok((await iris.Grpc.PostWorkflowsAsync(post, IrisFixture.PatMetadata)).Status);

        var response = await RunAsync(App(app), "faces", null, Bytes(Faces, "the-faces"), Bytes(Metro));
        Ok(response.Status);
        Assert.Equal("the-faces", response.Results[0].Input.Id);
        var outputs = response.Results[0].Outputs;
        // The suppressed detector is not answered; its children are, in node order.
        Assert.Equal(["age-demographics-recognition", "face-sentiment-recognition"], outputs.Select(o => o.Model.Id));
        Assert.Equal(5, outputs[0].Data.Regions.Count);
        Assert.All(outputs[0].Data.Regions, r => Assert.Equal(2, r.Data.Concepts.Count));
        Assert.All(outputs[1].Data.Regions, r => Assert.Equal(7, r.Data.Concepts.Count));
        Assert.All(outputs[1].Data.Regions, r => Assert.All(r.Data.Concepts, c => Assert.Equal("emotion", c.VocabId)));
        // No face on the train: no regions for either child.
        Assert.All(response.Results[1].Outputs, o => Assert.Empty(o.Data.Regions));

        // The request's output_config applies to every node on top of the override.
        var confident = await RunAsync(App(app), "faces", new OutputConfig { MinValue = 0.3f }, Bytes(Faces));
        Assert.All(confident.Results[0].Outputs.SelectMany(o => o.Data.Regions).SelectMany(r => r.Data.Concepts), c => Assert.True(c.Value >= 0.3f));
    }

    [Fact]
    public async Task Each_input_has_its_own_status_and_a_given_version_runs_that_graph()
    {
        var app = await iris.CreateAppAsync("wf-status", "Empty");
        var post = new PostWorkflowsRequest { UserAppId = App(app), Workflows = { new Workflow { Id = "two", Nodes = { Node("concepts", "general-image-recognition") } } } };
        var created = await iris.Grpc.PostWorkflowsAsync(post, IrisFixture.PatMetadata);
        Ok(created.Status);
        var first = created.Workflows[0].Version.Id;
        var patch = new PatchWorkflowsRequest { UserAppId = App(app), Action = "overwrite", Workflows = { new Workflow { Id = "two", Nodes = { Node("embed", "general-image-embedding") } } } };
        Ok((await iris.Grpc.PatchWorkflowsAsync(patch, IrisFixture.PatMetadata)).Status);

        var mixed = await RunAsync(App(app), "two", null, Bytes(Metro), new Input { Data = new Data { Image = new Image { Url = iris.PhotoBase + "/missing.jpg" } } });
        Assert.Equal(StatusCode.MixedStatus, mixed.Status.Code);
        Assert.Equal(StatusCode.Success, mixed.Results[0].Status.Code);
        Assert.Equal("general-image-embedding", mixed.Results[0].Outputs.Single().Model.Id);
        Assert.Equal(StatusCode.InputFailed, mixed.Results[1].Status.Code);
        Assert.Empty(mixed.Results[1].Outputs);

        var old = await iris.Grpc.PostWorkflowResultsAsync(new PostWorkflowResultsRequest { UserAppId = App(app), WorkflowId = "two", VersionId = first, Inputs = { Bytes(Metro) } }, IrisFixture.PatMetadata);
        Ok(old.Status);
        Assert.Equal("general-image-recognition", old.Results[0].Outputs.Single().Model.Id);
        Assert.Equal(first, old.Workflow.Version.Id);

        var unknown = await iris.Grpc.PostWorkflowResultsAsync(new PostWorkflowResultsRequest { UserAppId = App(app), WorkflowId = "two", VersionId = "nope", Inputs = { Bytes(Metro) } }, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.WorkflowDoesNotExist, "Workflow 'two' has no version 'nope'."), (unknown.Status.Code, unknown.Status.Details));
        var none = await RunAsync(App(app), "no-such-workflow", null, Bytes(Metro));
        Assert.Equal(StatusCode.WorkflowDoesNotExist, none.Status.Code);
    }

    [Fact]
    public async Task Face_and_OCR_public_workflows_describe_every_face_and_read_the_text_predict_reads()
    {
        var face = await RunAsync(Main, "Face", null, Bytes(Faces));
        Ok(face.Status);
        var outputs = face.Results[0].Outputs;
        Assert.Equal(["face-detection", "face-sentiment-recognition", "age-demographics-recognition", "gender-demographics-recognition"], outputs.Select(o => o.Model.Id));
        Assert.All(outputs, o => Assert.Equal(5, o.Data.Regions.Count));
        Assert.All(outputs[1].Data.Regions, r => Assert.Equal("emotion", r.Data.Concepts[0].VocabId));

        var ocr = await RunAsync(Main, "OCR", null, Bytes(Faces));
        Ok(ocr.Status);
        var lines = ocr.Results[0].Outputs.Single().Data.Regions;
        Assert.True(lines.Count(r => r.Data.Text.Raw.Length >= 3) >= 3, $"{lines.Count} lines read");
        // The same lines as the OCR model alone.
        var alone = await iris.Grpc.PostModelOutputsAsync(new PostModelOutputsRequest { UserAppId = Main, ModelId = "ocr-scene-english-paddleocr", Inputs = { Bytes(Faces) } }, IrisFixture.PatMetadata);
        Assert.Equal(alone.Outputs[0].Data.Regions.Select(r => r.Data.Text.Raw), lines.Select(r => r.Data.Text.Raw));
    }

    [Fact]
    public async Task At_most_32_inputs_per_request()
    {
        var inputs = Enumerable.Range(0, 33).Select(_ => Bytes(Metro)).ToArray();
        var response = await RunAsync(Main, "General", null, inputs);
        Assert.Equal((StatusCode.ConnInvalidRequest, "At most 32 inputs can be run through a workflow in one request; got 33."), (response.Status.Code, response.Status.Details));
        Assert.Empty(response.Results);

        var selectNothing = await RunAsync(Main, "General", new OutputConfig { SelectConcepts = { new Concept { Name = "unicorn" } } }, Bytes(Metro));
        Assert.Equal((StatusCode.ModelInvalidArgument, "None of select_concepts (unicorn) is a concept of a model of workflow 'General'."), (selectNothing.Status.Code, selectNothing.Status.Details));
        var selectTrain = await RunAsync(Main, "General", new OutputConfig { SelectConcepts = { new Concept { Name = "train" } } }, Bytes(Metro));
        Ok(selectTrain.Status);
        Assert.Equal(["train"], selectTrain.Results[0].Outputs[0].Data.Concepts.Select(c => c.Name));
        Assert.Single(selectTrain.Results[0].Outputs[1].Data.Embeddings);
    }
}

public sealed class WorkflowResultsTestsOnSqlite(WorkflowsFixture iris) : WorkflowResultsTests<WorkflowsFixture>(iris);

public sealed class WorkflowResultsTestsOnPostgres(PostgresWorkflowsFixture iris) : WorkflowResultsTests<PostgresWorkflowsFixture>(iris);
