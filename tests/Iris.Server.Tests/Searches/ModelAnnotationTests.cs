using System.Net;
using System.Security.Cryptography;
using System.Text;
using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.DependencyInjection;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// The base workflow's outputs as model annotations (CLARIFAI_FACTS.md 8.3, service.proto ListAnnotationsRequest): one
/// per processed photo and model version (embedder, concept model), with ids derived from input and version; listed by
/// ListAnnotations only when asked (list_all_annotations, model_version_ids, OR-ed with user_ids), with their output only
/// under return_model_output; found by GetAnnotation; hits of PostAnnotationsSearches by model_version_id; refused by
/// the writes; gone with their input. On the search fixture's five photos (t0 is text: no model ran on it).
/// </summary>
public abstract class ModelAnnotationTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : SearchFixture
{
    private const string AppId = SearchFixture.AppId;
    private static readonly string[] Photos = ["p0", "p1", "p2", "p3", "p4"];

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    /// <summary>The documented id rule, computed here on its own: 16 bytes of SHA-256 over "model-annotation\n" + input + "\n" + version, lowercase hex.</summary>
    private static string IdOf(string inputId, string versionId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"model-annotation\n{inputId}\n{versionId}")).AsSpan(0, 16));

    private async Task<(string Embedder, string EmbedderModel, string Concepts, string ConceptsModel)> ModelsAsync()
    {
        var models = await iris.Server.Services.GetRequiredService<IBaseWorkflows>().ForAppAsync(new AppRef("admin", AppId), default);
        return (models.Embedder!.Descriptor.VersionId, models.Embedder.Descriptor.Id, models.Concepts!.Descriptor.VersionId, models.Concepts.Descriptor.Id);
    }

    private async Task<MultiAnnotationResponse> ListAsync(Action<ListAnnotationsRequest>? configure = null, string appId = AppId)
    {
        var request = new ListAnnotationsRequest { UserAppId = InputsFixture.App(appId), PerPage = 100 };
        configure?.Invoke(request);
        var response = await iris.Grpc.ListAnnotationsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return response;
    }

    private static Filter ModelFilter(string version, string? id = null, string? userId = null)
    {
#pragma warning disable CS0612 // model_version_id and user_id are deprecated; clients still filter by them.
        var annotation = new Annotation { ModelVersionId = version, Id = id ?? string.Empty, UserId = userId ?? string.Empty };
#pragma warning restore CS0612
        return new Filter { Annotation = annotation };
    }

    private async Task<MultiSearchResponse> AnnotationSearchAsync(IEnumerable<Filter> filters, IEnumerable<Rank>? ranks = null, uint page = 1, uint perPage = 50)
    {
        var request = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(AppId), Pagination = new Pagination { Page = page, PerPage = perPage } };
        var search = new SearchMessage { Query = new Query() };
        search.Query.Filters.Add(filters);
        search.Query.Ranks.Add(ranks ?? []);
        request.Searches.Add(search);
        var response = await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return response;
    }

#pragma warning disable CS0612 // user_id, model_version_id, embed_model_version_id and trusted are deprecated; clients read them.
    private static void AssertModelAnnotation(Annotation a, string modelId, string version, string embedder, bool withData)
    {
        Assert.Equal(IdOf(a.InputId, version), a.Id);
        Assert.Contains(a.InputId, Photos);
        Assert.Equal(version, a.ModelVersionId);
        Assert.Equal(embedder, a.EmbedModelVersionId);
        Assert.Equal(modelId, a.Worker.Model.Id);
        Assert.Equal(version, a.Worker.Model.ModelVersion.Id);
        Assert.True(a.InputLevel);
        Assert.False(a.Trusted);
        Assert.Equal(string.Empty, a.UserId);
        Assert.Equal(StatusCode.AnnotationSuccess, a.Status.Code);
        Assert.Equal(a.CreatedAt, a.ModifiedAt);
        Assert.InRange(a.CreatedAt.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddHours(-2), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(withData, a.Data is not null);
    }
#pragma warning restore CS0612

    [Fact]
    public async Task List_all_annotations_adds_the_model_annotations_of_every_processed_photo_and_the_default_lists_user_annotations_only()
    {
        var (embedder, embedderModel, concepts, conceptsModel) = await ModelsAsync();
        var users = await ListAsync();
        var all = await ListAsync(r => r.ListAllAnnotations = true);

        // The default: the six inputs' input-level user annotations, trusted, with no model worker.
#pragma warning disable CS0612
        Assert.Equal(6, users.Annotations.Count);
        Assert.All(users.Annotations, a => Assert.True(a.Trusted && a.Worker is null && a.UserId == "admin"));

        // All: those and one annotation per photo and model version (the text input has none).
        Assert.Equal(16, all.Annotations.Count);
        Assert.Equal(users.Annotations.Select(a => a.Id).Order(), all.Annotations.Where(a => a.Trusted).Select(a => a.Id).Order());
#pragma warning restore CS0612
        var models = all.Annotations.Where(a => a.Worker is not null).ToList();
        Assert.Equal(Photos.SelectMany(p => new[] { IdOf(p, embedder), IdOf(p, concepts) }).Order(), models.Select(a => a.Id).Order());
        Assert.All(models.Where(a => a.Worker.Model.ModelVersion.Id == embedder), a => AssertModelAnnotation(a, embedderModel, embedder, embedder, withData: false));
        Assert.All(models.Where(a => a.Worker.Model.ModelVersion.Id == concepts), a => AssertModelAnnotation(a, conceptsModel, concepts, embedder, withData: false));

        // Newest first, the same order on every call.
        Assert.Equal(all.Annotations.Select(a => a.CreatedAt.ToDateTimeOffset()).OrderDescending(), all.Annotations.Select(a => a.CreatedAt.ToDateTimeOffset()));
        Assert.Equal(all.Annotations.Select(a => a.Id), (await ListAsync(r => r.ListAllAnnotations = true)).Annotations.Select(a => a.Id));

        // ids, input_ids and statuses filter both kinds.
        Assert.Equal(3, (await ListAsync(r => { r.ListAllAnnotations = true; r.InputIds.Add("p0"); })).Annotations.Count);
        Assert.Equal([IdOf("p2", concepts)], (await ListAsync(r => { r.ListAllAnnotations = true; r.Ids.Add(IdOf("p2", concepts)); })).Annotations.Select(a => a.Id));
        Assert.Equal([IdOf("p2", concepts)], (await ListAsync(r => { r.ListAllAnnotations = true; r.Ids.Add(IdOf("p2", concepts)); r.InputIds.Add("p2"); })).Annotations.Select(a => a.Id));
        Assert.Empty((await ListAsync(r => { r.ListAllAnnotations = true; r.Ids.Add(IdOf("p2", concepts)); r.InputIds.Add("p3"); })).Annotations);
        Assert.Equal(16, (await ListAsync(r => { r.ListAllAnnotations = true; r.Statuses.Add(new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationSuccess }); })).Annotations.Count);
        Assert.Empty((await ListAsync(r => { r.ListAllAnnotations = true; r.Statuses.Add(new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationPending }); })).Annotations);

        // Pages of the one order: disjoint, in order, nothing skipped.
        var pages = new List<string>();
        for (uint page = 1; page <= 4; page++)
        {
            var one = await ListAsync(r => (r.ListAllAnnotations, r.Page, r.PerPage) = (true, page, 5));
            Assert.Equal(page < 4 ? 5 : 1, one.Annotations.Count);
            pages.AddRange(one.Annotations.Select(a => a.Id));
        }

        Assert.Equal(all.Annotations.Select(a => a.Id), pages);
    }

    [Fact]
    public async Task Model_version_ids_are_ored_with_user_ids_and_return_model_output_adds_the_embedding_or_the_predicted_concepts()
    {
        var (embedder, embedderModel, concepts, conceptsModel) = await ModelsAsync();

        var embeddings = await ListAsync(r => { r.ModelVersionIds.Add(embedder); r.ReturnModelOutput = true; });
        Assert.Equal(Photos.Select(p => IdOf(p, embedder)).Order(), embeddings.Annotations.Select(a => a.Id).Order());
        var stored = await iris.Server.Services.GetRequiredService<IInputIndexStore>().FindEmbeddingAsync(new AppRef("admin", AppId), "p3", default);
        var p3 = embeddings.Annotations.Single(a => a.InputId == "p3");
        AssertModelAnnotation(p3, embedderModel, embedder, embedder, withData: true);
        var embedding = Assert.Single(p3.Data.Embeddings);
        Assert.Equal((uint)stored!.Vector.Length, embedding.NumDimensions);
        Assert.Equal(stored.Vector, embedding.Vector);
        Assert.Empty(p3.Data.Concepts);

        var predicted = await ListAsync(r => { r.ModelVersionIds.Add(concepts); r.ReturnModelOutput = true; r.InputIds.Add("p0"); });
        var p0 = Assert.Single(predicted.Annotations);
        AssertModelAnnotation(p0, conceptsModel, concepts, embedder, withData: true);
        Assert.Empty(p0.Data.Embeddings);
        var kept = await iris.Server.Services.GetRequiredService<IInputIndexStore>().FindConceptsAsync(new AppRef("admin", AppId), "p0", default);
        Assert.Equal(kept.Select(c => (c.ConceptId, c.Value)), p0.Data.Concepts.Select(c => (c.Id, c.Value)));
        var train = p0.Data.Concepts.Single(c => c.Id == "ai_HLmqFqBf");
        Assert.Equal(("train", "main"), (train.Name, train.AppId));
        Assert.All(p0.Data.Concepts, c => Assert.True(c.Value >= BaseWorkflowIndexer.MinConceptValue && c.Name.Length > 0));

        // Without return_model_output the same annotations come without data.
        Assert.All((await ListAsync(r => r.ModelVersionIds.Add(concepts))).Annotations, a => Assert.Null(a.Data));

        // The worker filters are OR-ed; user_ids alone lists that user's annotations; no annotation is a workflow's.
        var both = await ListAsync(r => { r.ModelVersionIds.Add(embedder); r.UserIds.Add("admin"); });
        Assert.Equal(11, both.Annotations.Count);
        Assert.Equal(5, both.Annotations.Count(a => a.Worker?.Model?.ModelVersion?.Id == embedder));
        Assert.Equal(6, (await ListAsync(r => r.UserIds.Add("admin"))).Annotations.Count);
        Assert.Empty((await ListAsync(r => r.UserIds.Add("steve"))).Annotations);
        Assert.Empty((await ListAsync(r => r.WorkflowVersionIds.Add("any"))).Annotations);
        Assert.Equal(5, (await ListAsync(r => { r.WorkflowVersionIds.Add("any"); r.ModelVersionIds.Add(concepts); })).Annotations.Count);
        Assert.Equal(10, (await ListAsync(r => { r.ModelVersionIds.Add(concepts); r.ModelVersionIds.Add(embedder); })).Annotations.Count);
        Assert.Empty((await ListAsync(r => r.ModelVersionIds.Add("aa7f35c01e0642fda5cf400f543e7c40"))).Annotations);
        Assert.Empty((await ListAsync(r => (r.ListAllAnnotations, r.TaskId) = (true, "task"))).Annotations);
    }

    [Fact]
    public async Task Rest_lists_and_gets_model_annotations_with_clarifai_json()
    {
        var (embedder, embedderModel, concepts, _) = await ModelsAsync();
        var id = IdOf("p1", concepts);

        var (status, listed, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get,
            $"/v2/users/me/apps/{AppId}/annotations?model_version_ids={concepts}&input_ids=p1&return_model_output=true"));
        Assert.Equal(HttpStatusCode.OK, status);
        var annotation = Assert.Single(listed.GetProperty("annotations").EnumerateArray());
        Assert.Equal(id, annotation.GetProperty("id").GetString());
        Assert.Equal("p1", annotation.GetProperty("input_id").GetString());
        Assert.Equal(concepts, annotation.GetProperty("model_version_id").GetString());
        Assert.Equal(embedder, annotation.GetProperty("embed_model_version_id").GetString());
        Assert.Equal(concepts, annotation.GetProperty("worker").GetProperty("model").GetProperty("model_version").GetProperty("id").GetString());
        Assert.True(annotation.GetProperty("input_level").GetBoolean());
        Assert.Equal(24150, annotation.GetProperty("status").GetProperty("code").GetInt32());
        Assert.False(annotation.TryGetProperty("trusted", out _)); // false: proto3 JSON omits it
        Assert.False(annotation.TryGetProperty("user_id", out _));
        var concept = annotation.GetProperty("data").GetProperty("concepts")[0];
        Assert.StartsWith("ai_", concept.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.NotEmpty(concept.GetProperty("name").GetString()!);
        Assert.InRange(concept.GetProperty("value").GetSingle(), BaseWorkflowIndexer.MinConceptValue, 1f);
        Assert.Equal("main", concept.GetProperty("app_id").GetString());

        var (plainStatus, plain, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{AppId}/annotations?list_all_annotations=true&input_ids=p1"));
        Assert.Equal(HttpStatusCode.OK, plainStatus);
        var rows = plain.GetProperty("annotations").EnumerateArray().ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows.Where(r => r.TryGetProperty("worker", out _)), r => Assert.False(r.TryGetProperty("data", out _)));

        var (getStatus, got, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{AppId}/inputs/p1/annotations/{IdOf("p1", embedder)}"));
        Assert.Equal(HttpStatusCode.OK, getStatus);
        var one = got.GetProperty("annotation");
        Assert.Equal(IdOf("p1", embedder), one.GetProperty("id").GetString());
        Assert.Equal(embedderModel, one.GetProperty("worker").GetProperty("model").GetProperty("id").GetString());
        var vector = one.GetProperty("data").GetProperty("embeddings")[0];
        Assert.Equal(vector.GetProperty("vector").GetArrayLength(), vector.GetProperty("num_dimensions").GetInt32());

        var (wrongStatus, wrong, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{AppId}/inputs/p2/annotations/{IdOf("p1", embedder)}"));
        Assert.Equal(HttpStatusCode.NotFound, wrongStatus);
        Assert.Equal(((int)StatusCode.ConnDoesNotExist, $"Annotation '{IdOf("p1", embedder)}' does not exist on input 'p2'."), (wrong.Code(), wrong.Details()));

        // gRPC without an input id finds it too.
        var byGrpc = await iris.Grpc.GetAnnotationAsync(new GetAnnotationRequest { UserAppId = InputsFixture.App(AppId), AnnotationId = id }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, byGrpc.Status.Code);
        Assert.Equal(("p1", concepts), (byGrpc.Annotation.InputId, byGrpc.Annotation.Worker.Model.ModelVersion.Id));
        Assert.NotEmpty(byGrpc.Annotation.Data.Concepts);
    }

    [Fact]
    public async Task Annotation_searches_by_model_version_id_hit_each_model_annotation_once()
    {
        var (embedder, embedderModel, concepts, conceptsModel) = await ModelsAsync();

        var byEmbedder = await AnnotationSearchAsync([ModelFilter(embedder)]);
        Assert.Equal(Photos.Order(), byEmbedder.Hits.Select(h => h.Input.Id).Order());
        Assert.All(byEmbedder.Hits, h =>
        {
            Assert.Equal(h.Input.Id, h.Annotation.InputId);
            AssertModelAnnotation(h.Annotation, embedderModel, embedder, embedder, withData: false);
            Assert.Equal(1f, h.Score);
        });

        var ranked = await AnnotationSearchAsync([ModelFilter(concepts)], [new Rank { Annotation = new Annotation { InputId = "p3" } }]);
        Assert.Equal(5, ranked.Hits.Count);
        Assert.Equal(IdOf("p3", concepts), ranked.Hits[0].Annotation.Id);
        AssertModelAnnotation(ranked.Hits[0].Annotation, conceptsModel, concepts, embedder, withData: false);

        // The annotation's other fields combine: its id, input, level and status hold; an author or trust never do.
        var one = await AnnotationSearchAsync([ModelFilter(concepts, id: IdOf("p2", concepts))]);
        Assert.Equal([IdOf("p2", concepts)], one.Hits.Select(h => h.Annotation.Id));
        Assert.Empty((await AnnotationSearchAsync([ModelFilter(embedder, id: IdOf("p2", concepts))])).Hits);
        Assert.Empty((await AnnotationSearchAsync([ModelFilter(concepts, userId: "admin")])).Hits);
        Assert.Empty((await AnnotationSearchAsync([ModelFilter(concepts), new Filter { Annotation = new Annotation { InputLevel = true } }, ModelFilter(embedder)])).Hits);
        var inputs = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(AppId) };
        inputs.Searches.Add(new SearchMessage { Query = new Query { Filters = { ModelFilter(concepts, id: IdOf("p2", concepts)) } } });
        Assert.Equal(["p2"], (await iris.Grpc.PostInputsSearchesAsync(inputs, IrisFixture.PatMetadata)).Hits.Select(h => h.Input.Id));

        // worker.model.model_version.id is the current place of the same filter; worker.user.id of user_id.
        var byWorker = await AnnotationSearchAsync([new Filter { Annotation = new Annotation { Worker = new Worker { Model = new Model { ModelVersion = new ModelVersion { Id = embedder } } } } }]);
        Assert.Equal(byEmbedder.Hits.Select(h => h.Annotation.Id), byWorker.Hits.Select(h => h.Annotation.Id));
        var byUser = await AnnotationSearchAsync([new Filter { Annotation = new Annotation { Worker = new Worker { User = new User { Id = "admin" } } } }]);
        Assert.Equal(6, byUser.Hits.Count);
        Assert.All(byUser.Hits, h => Assert.Null(h.Annotation.Worker));
        var request = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(AppId) };
        var clash = ModelFilter(concepts);
        clash.Annotation.Worker = new Worker { Model = new Model { ModelVersion = new ModelVersion { Id = embedder } } };
        request.Searches.Add(new SearchMessage { Query = new Query { Filters = { clash } } });
        var refused = await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.SearchInvalidRequest, $"annotation.model_version_id '{concepts}' and annotation.worker.model.model_version.id '{embedder}' disagree: give one of them."),
            (refused.Status.Code, refused.Status.Details));
        request.Searches[0].Query.Filters[0] = new Filter { Annotation = new Annotation { Worker = new Worker { Workflow = new Workflow { Id = "General" } } } };
        Assert.Equal(StatusCode.SearchInvalidRequest, (await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata)).Status.Code);

        // Pages of hits as for user annotations.
        var pages = new List<string>();
        for (uint page = 1; page <= 3; page++)
        {
            pages.AddRange((await AnnotationSearchAsync([ModelFilter(embedder)], page: page, perPage: 2)).Hits.Select(h => h.Annotation.Id));
        }

        Assert.Equal(byEmbedder.Hits.Select(h => h.Annotation.Id), pages);

        var body = """{"searches": [{"query": {"filters": [{"annotation": {"model_version_id": "V"}}]}}], "pagination": {"page": 1, "per_page": 10}}""".Replace("V", concepts, StringComparison.Ordinal);
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{AppId}/annotations/searches", body));
        Assert.Equal(HttpStatusCode.OK, status);
        var hits = json.GetProperty("hits").EnumerateArray().ToList();
        Assert.Equal(5, hits.Count);
        Assert.All(hits, h =>
        {
            var a = h.GetProperty("annotation");
            Assert.Equal(IdOf(h.GetProperty("input").GetProperty("id").GetString()!, concepts), a.GetProperty("id").GetString());
            Assert.Equal(concepts, a.GetProperty("model_version_id").GetString());
            Assert.Equal(conceptsModel, a.GetProperty("worker").GetProperty("model").GetProperty("id").GetString());
            Assert.False(a.TryGetProperty("data", out _));
        });
    }

    [Fact]
    public async Task Writes_naming_a_model_annotation_are_refused_and_change_nothing()
    {
        var (embedder, _, concepts, _) = await ModelsAsync();
        var id = IdOf("p4", concepts);
        var details = $"Annotation '{id}' is a model annotation: the output of model version '{concepts}' of the app's base workflow on input 'p4'. It cannot be patched or deleted; it goes with its input.";
        var before = await ListAsync(r => { r.ListAllAnnotations = true; r.ReturnModelOutput = true; });

        var patch = new PatchAnnotationsRequest { UserAppId = InputsFixture.App(AppId), Action = "merge" };
        patch.Annotations.Add(new Annotation { Id = id, InputId = "p4", Data = new Data { Concepts = { new Concept { Id = "x", Value = 1 } } } });
        var patched = await iris.Grpc.PatchAnnotationsAsync(patch, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.AnnotationPermissionDenied, details), (patched.Status.Code, patched.Status.Details));

        var deleteMany = new DeleteAnnotationsRequest { UserAppId = InputsFixture.App(AppId), InputIds = { "p4" }, Ids = { id } };
        var deletedMany = await iris.Grpc.DeleteAnnotationsAsync(deleteMany, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.AnnotationPermissionDenied, details), (deletedMany.Status.Code, deletedMany.Status.Details));

        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Delete, $"/v2/users/me/apps/{AppId}/inputs/p4/annotations/{id}"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal((24156, "Annotation permission denied", details), (json.Code(), json.Description(), json.Details()));

        var post = new PostAnnotationsRequest { UserAppId = InputsFixture.App(AppId) };
        post.Annotations.Add(new Annotation { Id = IdOf("p4", embedder), InputId = "p4", Data = new Data { Concepts = { new Concept { Id = "x", Value = 1 } } } });
        var posted = await iris.Grpc.PostAnnotationsAsync(post, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.AnnotationInvalidArgument, $"Annotation id '{IdOf("p4", embedder)}' is taken by the model annotation of model version '{embedder}' on input 'p4'."),
            (posted.Status.Code, posted.Status.Details));

        var after = await ListAsync(r => { r.ListAllAnnotations = true; r.ReturnModelOutput = true; });
        Assert.Equal(before.Annotations, after.Annotations);
        Assert.Single((await ListAsync(r => r.InputIds.Add("p4"))).Annotations); // p4 keeps its one user annotation
    }

    [Fact]
    public async Task Deleting_the_input_removes_its_model_annotations()
    {
        var appId = "modelann-" + Guid.NewGuid().ToString("N")[..8];
        await iris.CreateAppAsync(appId);
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        request.Inputs.Add(SearchFixture.Photo("gone", FixtureImages.Photos[1]));
        request.Inputs.Add(SearchFixture.Photo("kept", FixtureImages.Photos[2]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata)).Status.Code);
        Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(appId, "gone")).Status.Code);
        Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(appId, "kept")).Status.Code);
        var (embedder, _, _, _) = await ModelsAsync();
        var models = await ListAsync(r => r.ListAllAnnotations = true, appId);
        Assert.Equal(2, models.Annotations.Count(a => a.InputId == "gone" && a.Worker is not null));
        var goneId = IdOf("gone", embedder);
        Assert.Contains(goneId, models.Annotations.Select(a => a.Id));
        Assert.Equal(["gone"], (await AnnotationSearchInAsync(appId, embedder, goneId)).Hits.Select(h => h.Input.Id));

        var deleted = await iris.Grpc.DeleteInputsAsync(new DeleteInputsRequest { UserAppId = InputsFixture.App(appId), Ids = { "gone" } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, deleted.Status.Code);

        var left = await ListAsync(r => r.ListAllAnnotations = true, appId);
        Assert.Equal(["kept", "kept", "kept"], left.Annotations.Select(a => a.InputId));
        var get = await iris.Grpc.GetAnnotationAsync(new GetAnnotationRequest { UserAppId = InputsFixture.App(appId), InputId = "gone", AnnotationId = goneId }, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.ConnDoesNotExist, $"Annotation '{goneId}' does not exist on input 'gone'."), (get.Status.Code, get.Status.Details));
        Assert.Empty((await AnnotationSearchInAsync(appId, embedder, goneId)).Hits);
    }

    private async Task<MultiSearchResponse> AnnotationSearchInAsync(string appId, string version, string id)
    {
        var request = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(appId) };
        request.Searches.Add(new SearchMessage { Query = new Query { Filters = { ModelFilter(version, id: id) } } });
        var response = await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return response;
    }
}

public sealed class ModelAnnotationTestsOnSqlite(SearchFixture iris) : ModelAnnotationTests<SearchFixture>(iris);

public sealed class ModelAnnotationTestsOnPostgres(PostgresSearchFixture iris) : ModelAnnotationTests<PostgresSearchFixture>(iris);
