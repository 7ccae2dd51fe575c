using System.Net;
using Clarifai.Api;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// Annotations (concepts, bounding boxes, polygons), concepts (create, duplicate, patch, search, counts) and datasets
/// with frozen versions, over gRPC and REST, with the exact statuses CLARIFAI_FACTS.md 2.2, 3.5 and 4.6 give.
/// </summary>
public abstract class AnnotationsConceptsDatasetsTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : InputsFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private async Task AddTextInputsAsync(string app, params string[] ids)
    {
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        request.Inputs.Add(ids.Select(id => new Input { Id = id, Data = new Data { Text = new Text { Raw = "text of " + id } } }));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata)).Status.Code);
    }

    private static Region Box(string id, float top, float left, float bottom, float right, string concept) => new()
    {
        Id = id,
        RegionInfo = new RegionInfo { BoundingBox = new BoundingBox { TopRow = top, LeftCol = left, BottomRow = bottom, RightCol = right } },
        Data = new Data { Concepts = { new Concept { Id = concept, Value = 1 } } },
    };

    [Fact]
    public async Task Annotations_with_boxes_and_polygons_are_stored_listed_patched_and_deleted()
    {
        var app = await iris.CreateAppAsync("annotations");
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        request.Inputs.Add(new Input { Id = "img", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(FixtureImages.Metro) } } });
        await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);

        var polygon = new Region { Id = "poly", RegionInfo = new RegionInfo { Polygon = new Polygon() }, Data = new Data { Concepts = { new Concept { Id = "track", Value = 1 } } } };
        polygon.RegionInfo.Polygon.Points.Add([new Point { Row = 0.1f, Col = 0.1f }, new Point { Row = 0.9f, Col = 0.2f }, new Point { Row = 0.5f, Col = 0.8f }]);
        var post = new PostAnnotationsRequest { UserAppId = InputsFixture.App(app) };
        post.Annotations.Add(new Annotation { Id = "a-box", InputId = "img", Data = new Data { Regions = { Box("r1", 0.1f, 0.2f, 0.5f, 0.6f, "train") } } });
        post.Annotations.Add(new Annotation { Id = "a-poly", InputId = "img", Data = new Data { Regions = { polygon } } });
        var posted = await iris.Grpc.PostAnnotationsAsync(post, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        Assert.All(posted.Annotations, a => Assert.Equal(StatusCode.AnnotationSuccess, a.Status.Code));
        Assert.Equal(0.6f, posted.Annotations[0].Data.Regions[0].RegionInfo.BoundingBox.RightCol);

        var bad = new PostAnnotationsRequest { UserAppId = InputsFixture.App(app) };
        bad.Annotations.Add(new Annotation { InputId = "img", Data = new Data { Regions = { Box("r2", 0.6f, 0.2f, 0.5f, 0.6f, "train") } } });
        var refused = await iris.Grpc.PostAnnotationsAsync(bad, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.AnnotationInvalidArgument, refused.Status.Code);
        Assert.Contains("0 ≤ top_row < bottom_row ≤ 1", refused.Status.Details, StringComparison.Ordinal);
        var noInput = new PostAnnotationsRequest { UserAppId = InputsFixture.App(app), Annotations = { new Annotation { InputId = "ghost", Data = new Data { Concepts = { new Concept { Id = "x" } } } } } };
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.PostAnnotationsAsync(noInput, IrisFixture.PatMetadata)).Status.Code);
        Assert.Equal(StatusCode.AnnotationInvalidArgument, (await iris.Grpc.PostAnnotationsAsync(post, IrisFixture.PatMetadata)).Status.Code);

        var listed = await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app), InputIds = { "img" } }, IrisFixture.PatMetadata);
        Assert.Equal(3, listed.Annotations.Count); // the input-level one and the two posted
        var byId = await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app), Ids = { "a-poly" } }, IrisFixture.PatMetadata);
        Assert.Equal("a-poly", byId.Annotations.Single().Id);
        var byModel = await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app), ModelVersionIds = { "mv" } }, IrisFixture.PatMetadata);
        Assert.Empty(byModel.Annotations);
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/inputs/img/annotations/a-box"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0.1, json.GetProperty("annotation").GetProperty("data").GetProperty("regions")[0].GetProperty("region_info").GetProperty("bounding_box").GetProperty("top_row").GetDouble(), 5);

        var patch = new PatchAnnotationsRequest { UserAppId = InputsFixture.App(app), Action = "merge" };
        patch.Annotations.Add(new Annotation { Id = "a-box", InputId = "img", Data = new Data { Regions = { Box("r3", 0.5f, 0.5f, 0.9f, 0.9f, "person") } } });
        var patched = await iris.Grpc.PatchAnnotationsAsync(patch, IrisFixture.PatMetadata);
        Assert.Equal(["r1", "r3"], patched.Annotations.Single().Data.Regions.Select(r => r.Id));
        var empty = new PatchAnnotationsRequest { UserAppId = InputsFixture.App(app), Action = "remove", DeleteIfEmptyData = true };
        empty.Annotations.Add(new Annotation { Id = "a-poly", InputId = "img", Data = new Data { Regions = { new Region { Id = "poly" } } } });
        Assert.Empty((await iris.Grpc.PatchAnnotationsAsync(empty, IrisFixture.PatMetadata)).Annotations);
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetAnnotationAsync(new GetAnnotationRequest { UserAppId = InputsFixture.App(app), InputId = "img", AnnotationId = "a-poly" }, IrisFixture.PatMetadata)).Status.Code);

        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteAnnotationAsync(new DeleteAnnotationRequest { UserAppId = InputsFixture.App(app), InputId = "img", AnnotationId = "a-box" }, IrisFixture.PatMetadata)).Status.Code);
        Assert.Equal(StatusCode.ConnInvalidRequest, (await iris.Grpc.DeleteAnnotationsAsync(new DeleteAnnotationsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata)).Status.Code);
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteAnnotationsAsync(new DeleteAnnotationsRequest { UserAppId = InputsFixture.App(app), InputIds = { "img" } }, IrisFixture.PatMetadata)).Status.Code);
        Assert.Empty((await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata)).Annotations);
    }

    [Fact]
    public async Task Concepts_are_created_once_patched_searched_and_counted()
    {
        var app = await iris.CreateAppAsync("concepts");
        var post = new PostConceptsRequest { UserAppId = InputsFixture.App(app), Concepts = { new Concept { Id = "cat", Name = "Cat" }, new Concept { Id = "dog" } } };
        var created = await iris.Grpc.PostConceptsAsync(post, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, created.Status.Code);
        Assert.Equal(["Cat", "dog"], created.Concepts.Select(c => c.Name));
        var duplicate = await iris.Grpc.PostConceptsAsync(post, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConceptsInvalidRequest, duplicate.Status.Code);
        Assert.Equal("Invalid request", duplicate.Status.Description);
        Assert.Contains("duplicate", duplicate.Status.Details, StringComparison.Ordinal);

        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/concepts/cat"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Cat", json.GetProperty("concept").GetProperty("name").GetString());
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetConceptAsync(new GetConceptRequest { UserAppId = InputsFixture.App(app), ConceptId = "cow" }, IrisFixture.PatMetadata)).Status.Code);

        var patch = new PatchConceptsRequest { UserAppId = InputsFixture.App(app), Action = "overwrite", Concepts = { new Concept { Id = "dog", Name = "Doggo" } } };
        Assert.Equal("Doggo", (await iris.Grpc.PatchConceptsAsync(patch, IrisFixture.PatMetadata)).Concepts.Single().Name);
        var patchMissing = new PatchConceptsRequest { UserAppId = InputsFixture.App(app), Action = "overwrite", Concepts = { new Concept { Id = "cow", Name = "x" } } };
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.PatchConceptsAsync(patchMissing, IrisFixture.PatMetadata)).Status.Code);

        // Concepts used by inputs exist from then on and are counted positive / negative.
        var inputs = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        inputs.Inputs.Add(new Input { Id = "i1", Data = new Data { Text = new Text { Raw = "a" }, Concepts = { new Concept { Id = "cat", Value = 1 }, new Concept { Id = "bird", Value = 0 } } } });
        inputs.Inputs.Add(new Input { Id = "i2", Data = new Data { Text = new Text { Raw = "b" }, Concepts = { new Concept { Id = "cat", Value = 1 } } } });
        await iris.Grpc.PostInputsAsync(inputs, IrisFixture.PatMetadata);
        var listed = await iris.Grpc.ListConceptsAsync(new ListConceptsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata);
        Assert.Equal(["bird", "cat", "dog"], listed.Concepts.Select(c => c.Id).Order());
        var counts = await iris.Grpc.GetConceptCountsAsync(new GetConceptCountsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata);
        var cat = counts.ConceptCounts.Single(c => c.Id == "cat");
        Assert.Equal((2u, 0u), (cat.ConceptTypeCount.Positive, cat.ConceptTypeCount.Negative));
        var bird = counts.ConceptCounts.Single(c => c.Id == "bird");
        Assert.Equal((0u, 1u), (bird.ConceptTypeCount.Positive, bird.ConceptTypeCount.Negative));

        var search = await iris.Grpc.PostConceptsSearchesAsync(new PostConceptsSearchesRequest { UserAppId = InputsFixture.App(app), ConceptQuery = new ConceptQuery { Name = "do" } }, IrisFixture.PatMetadata);
        Assert.Equal(["dog"], search.Concepts.Select(c => c.Id));
        var caseless = await iris.Grpc.PostConceptsSearchesAsync(new PostConceptsSearchesRequest { UserAppId = InputsFixture.App(app), ConceptQuery = new ConceptQuery { Name = "CA*" } }, IrisFixture.PatMetadata);
        Assert.Equal(["cat"], caseless.Concepts.Select(c => c.Id));
    }

    [Fact]
    public async Task Datasets_hold_inputs_and_versions_freeze_them()
    {
        var app = await iris.CreateAppAsync("datasets");
        var post = new PostDatasetsRequest { UserAppId = InputsFixture.App(app), Datasets = { new Dataset { Id = "ds", Description = "first" } } };
        var created = await iris.Grpc.PostDatasetsAsync(post, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, created.Status.Code);
        Assert.Equal(app, created.Datasets.Single().AppId);
        Assert.Equal(StatusCode.DatabaseDuplicateKey, (await iris.Grpc.PostDatasetsAsync(post, IrisFixture.PatMetadata)).Status.Code);

        // PostInputs with dataset_ids links at once; PostDatasetInputs is non-atomic.
        var inputs = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        inputs.Inputs.Add(new Input { Id = "d1", DatasetIds = { "ds" }, Data = new Data { Text = new Text { Raw = "one" }, Concepts = { new Concept { Id = "x", Value = 1 } } } });
        await iris.Grpc.PostInputsAsync(inputs, IrisFixture.PatMetadata);
        await AddTextInputsAsync(app, "d2", "d3");
        var add = new PostDatasetInputsRequest { UserAppId = InputsFixture.App(app), DatasetId = "ds" };
        add.DatasetInputs.Add([new DatasetInput { Input = new Input { Id = "d2" } }, new DatasetInput { Input = new Input { Id = "ghost" } }]);
        var added = await iris.Grpc.PostDatasetInputsAsync(add, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.MixedStatus, added.Status.Code);
        Assert.Contains("ghost", added.Status.Details, StringComparison.Ordinal);
        Assert.Equal(["d2"], added.DatasetInputs.Select(d => d.Input.Id));

        var listed = await iris.Grpc.ListDatasetInputsAsync(new ListDatasetInputsRequest { UserAppId = InputsFixture.App(app), DatasetId = "ds" }, IrisFixture.PatMetadata);
        Assert.Equal(["d1", "d2"], listed.DatasetInputs.Select(d => d.Input.Id).Order());

        var version = await iris.Grpc.PostDatasetVersionsAsync(new PostDatasetVersionsRequest { UserAppId = InputsFixture.App(app), DatasetId = "ds", DatasetVersions = { new DatasetVersion { Id = "v1" } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.DatasetVersionPending, version.DatasetVersions.Single().Status.Code);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        DatasetVersion ready;
        while ((ready = (await iris.Grpc.GetDatasetVersionAsync(new GetDatasetVersionRequest { UserAppId = InputsFixture.App(app), DatasetId = "ds", DatasetVersionId = "v1" }, IrisFixture.PatMetadata)).DatasetVersion).Status.Code != StatusCode.DatasetVersionReady)
        {
            Assert.True(DateTime.UtcNow < deadline, $"version still {ready.Status.Code}");
            await Task.Delay(50);
        }

        Assert.Equal(2ul, ready.Metrics["/"].InputsCount);
        Assert.Equal(1ul, ready.Metrics["/"].UnlabeledInputsCount);
        Assert.Equal(1ul, ready.Metrics["/"].PositiveInputTagsCount);

        // Later changes do not touch the frozen version.
        await iris.Grpc.DeleteDatasetInputsAsync(new DeleteDatasetInputsRequest { UserAppId = InputsFixture.App(app), DatasetId = "ds", InputIds = { "d1" } }, IrisFixture.PatMetadata);
        var versions = await iris.Grpc.ListDatasetVersionsAsync(new ListDatasetVersionsRequest { UserAppId = InputsFixture.App(app), DatasetId = "ds" }, IrisFixture.PatMetadata);
        Assert.Equal(2ul, versions.DatasetVersions.Single().Metrics["/"].InputsCount);
        var store = (Iris.Storage.Inputs.IDatasetStore)iris.Server.Services.GetService(typeof(Iris.Storage.Inputs.IDatasetStore))!;
        var frozen = await store.ReadVersionSnapshotAsync(new Iris.Core.Apps.AppRef("admin", app), "ds", "v1", CancellationToken.None);
        Assert.Equal(["d1", "d2"], frozen.Select(f => f.InputId));
        Assert.Equal("x", Input.Parser.ParseFrom(frozen[0].Input).Data.Concepts.Single().Id);

        var patch = new PatchDatasetsRequest { UserAppId = InputsFixture.App(app), Action = "merge", Datasets = { new Dataset { Id = "ds", Notes = "some notes" } } };
        var patched = (await iris.Grpc.PatchDatasetsAsync(patch, IrisFixture.PatMetadata)).Datasets.Single();
        Assert.Equal(("first", "some notes"), (patched.Description, patched.Notes));
        Assert.Single((await iris.Grpc.ListDatasetsAsync(new ListDatasetsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata)).Datasets);

        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteDatasetsAsync(new DeleteDatasetsRequest { UserAppId = InputsFixture.App(app), DatasetIds = { "ds" } }, IrisFixture.PatMetadata)).Status.Code);
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/datasets/ds"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(11101, json.Code());
        // The inputs stay.
        Assert.Equal(StatusCode.Success, (await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = InputsFixture.App(app), InputId = "d1" }, IrisFixture.PatMetadata)).Status.Code);
    }
}

public sealed class AnnotationsConceptsDatasetsTestsOnSqlite(InputsFixture iris) : AnnotationsConceptsDatasetsTests<InputsFixture>(iris);

public sealed class AnnotationsConceptsDatasetsTestsOnPostgres(PostgresInputsFixture iris) : AnnotationsConceptsDatasetsTests<PostgresInputsFixture>(iris);
