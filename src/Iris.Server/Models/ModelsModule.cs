using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Indexing;
using Iris.Inference.Predict;
using Iris.Inference.Zoo;
using Iris.Server.Api;
using Iris.Server.Seams;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Models;
using Iris.Storage.Vectors;

namespace Iris.Server.Models;

/// <summary>
/// Models of an app and the built-in public models of <c>clarifai/main</c>: predict, reads, the model lifecycle
/// (ModelsModule.Lifecycle.cs) and versions with training (ModelsModule.Versions.cs). Ids resolve in the caller's app
/// first, then among the built-ins (Clarifai's "fetch from main"), through the one <see cref="IModelRegistry"/>.
/// Unknown ids → 21200 (predict, writes) / 11101 (reads).
/// </summary>
internal sealed partial class ModelsModule(
    IAppAccess access,
    ModelZoo zoo,
    ImagePredictor predictor,
    IModelRegistry registry,
    IModelStore store,
    ITrainingData trainingData,
    IBaseWorkflows baseWorkflows,
    IInputStore inputs,
    JobSignal signal,
    TimeProvider time) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostModelOutputsRequest, MultiOutputResponse>(nameof(V2.V2Base.PostModelOutputs), PostModelOutputsAsync);
        registry.Add<GetModelRequest, SingleModelResponse>(nameof(V2.V2Base.GetModel), (r, c) => GetModelAsync(r, c, withConcepts: false));
        registry.Add<GetModelRequest, SingleModelResponse>(nameof(V2.V2Base.GetModelOutputInfo), (r, c) => GetModelAsync(r, c, withConcepts: true));
        registry.Add<ListModelsRequest, MultiModelResponse>(nameof(V2.V2Base.ListModels), ListModelsAsync);
        registry.Add<PostModelsSearchesRequest, MultiModelResponse>(nameof(V2.V2Base.PostModelsSearches), PostModelsSearchesAsync);
        registry.Add<ListModelConceptsRequest, MultiConceptResponse>(nameof(V2.V2Base.ListModelConcepts), ListModelConceptsAsync);
        registry.Add<GetModelVersionRequest, SingleModelVersionResponse>(nameof(V2.V2Base.GetModelVersion), GetModelVersionAsync);
        registry.Add<ListModelVersionsRequest, MultiModelVersionResponse>(nameof(V2.V2Base.ListModelVersions), ListModelVersionsAsync);
        registry.Add<ListModelTypesRequest, MultiModelTypeResponse>(nameof(V2.V2Base.ListModelTypes), ListModelTypesAsync);
        registry.Add<GetModelTypeRequest, SingleModelTypeResponse>(nameof(V2.V2Base.GetModelType), GetModelTypeAsync);
        RegisterLifecycle(registry);
        RegisterVersions(registry);
        RegisterEvaluations(registry);
    }

    private async ValueTask<MultiOutputResponse> PostModelOutputsAsync(PostModelOutputsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var model = (await registry.LookupAsync(app, request.ModelId, request.VersionId, context.CancellationToken).ConfigureAwait(false)).Require();
        var filter = PredictMapping.Filter(request.Model, model.Descriptor);
        var sources = request.Inputs.Select(PredictMapping.SourceOf).ToArray();
        var results = await predictor.PredictAsync(model, app, sources, filter, context.CancellationToken).ConfigureAwait(false);
        return PredictMapping.Response(request.Inputs, sources, results, filter, model.Descriptor);
    }

    private async ValueTask<SingleModelResponse> GetModelAsync(GetModelRequest request, CallContext context, bool withConcepts)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        if (await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false) is { } row)
        {
            var versions = await store.ListVersionsAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false);
            var version = request.VersionId.Length > 0
                ? versions.FirstOrDefault(v => v.Id == request.VersionId) ?? throw VersionNotFound(row.Id, request.VersionId)
                : versions.FirstOrDefault();
            return new SingleModelResponse { Model = UserModelViews.Model(app, row, version, versions.Count, withConcepts) };
        }

        var model = Builtin(request.ModelId);
        RequireVersion(model, request.VersionId);
        return new SingleModelResponse { Model = ModelViews.Full(model.Descriptor, withConcepts) };
    }

    private async ValueTask<MultiModelResponse> ListModelsAsync(ListModelsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var page = Paging.Read(request.Page, request.PerPage);
        var models = await AllModelsAsync(app, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiModelResponse();
        response.Models.AddRange(page.Of(ModelListing.Sort(models.Where(m => ModelListing.Matches(m, request)), request)));
        return response;
    }

    /// <summary>The legacy client's <c>models.search(name, type)</c>: a name (with <c>*</c> wildcards) and a type id.</summary>
    private async ValueTask<MultiModelResponse> PostModelsSearchesAsync(PostModelsSearchesRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var page = Paging.Read(request.Pagination?.Page ?? 0, request.Pagination?.PerPage ?? 0);
        var query = request.ModelQuery ?? new ModelQuery();
        var models = await AllModelsAsync(app, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiModelResponse();
        response.Models.AddRange(page.Of(models.Where(m => ModelListing.MatchesQuery(m, query)).OrderByDescending(m => m.ModifiedAt).ThenBy(m => m.Id, StringComparer.Ordinal)));
        return response;
    }

    /// <summary>The app's models (each with its latest version), then the built-ins.</summary>
    private async Task<List<Model>> AllModelsAsync(AppRef app, CancellationToken cancellationToken)
    {
        var models = new List<Model>();
        foreach (var row in await store.ListModelsAsync(app, cancellationToken).ConfigureAwait(false))
        {
            var versions = await store.ListVersionsAsync(app, row.Id, cancellationToken).ConfigureAwait(false);
            models.Add(UserModelViews.Model(app, row, versions.FirstOrDefault(), versions.Count, withConcepts: false));
        }

        var own = models.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        models.AddRange(zoo.Models.Where(m => !own.Contains(m.Descriptor.Id)).Select(m => ModelViews.Full(m.Descriptor, withConcepts: false)));
        return models;
    }

    private async ValueTask<MultiConceptResponse> ListModelConceptsAsync(ListModelConceptsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        IEnumerable<Concept> concepts;
        if (await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false) is { } row)
        {
            var version = request.VersionId.Length > 0
                ? await store.GetVersionAsync(app, row.Id, request.VersionId, context.CancellationToken).ConfigureAwait(false) ?? throw VersionNotFound(row.Id, request.VersionId)
                : await store.LatestVersionAsync(app, row.Id, null, context.CancellationToken).ConfigureAwait(false);
            concepts = version is null ? [] : UserModelViews.Version(app, version, withConcepts: true).OutputInfo?.Data?.Concepts ?? [];
        }
        else
        {
            var model = Builtin(request.ModelId);
            RequireVersion(model, request.VersionId);
            concepts = model.Descriptor.Concepts.Select(ModelViews.ConceptOf);
        }

        if (request.Search.Length > 0)
        {
            concepts = concepts.Where(c => c.Name.Contains(request.Search, StringComparison.OrdinalIgnoreCase) || c.Id.StartsWith(request.Search, StringComparison.Ordinal));
        }

        var response = new MultiConceptResponse();
        response.Concepts.AddRange(Paging.Read(request.Page, request.PerPage).Of(concepts));
        return response;
    }

    private async ValueTask<MultiModelTypeResponse> ListModelTypesAsync(ListModelTypesRequest request, CallContext context)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiModelTypeResponse();
        response.ModelTypes.AddRange(Paging.Read(request.Page, request.PerPage).Of(ModelTypes.All).Select(t => t.Clone()));
        return response;
    }

    private async ValueTask<SingleModelTypeResponse> GetModelTypeAsync(GetModelTypeRequest request, CallContext context)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var type = ModelTypes.Find(request.ModelTypeId)
            ?? throw new IrisException(StatusCode.ConnDoesNotExist, $"model type '{request.ModelTypeId}' not found. Check the url of your request.");
        return new SingleModelTypeResponse { ModelType = type.Clone() };
    }

    private BuiltinModel Builtin(string modelId) => zoo.Find(modelId)
        ?? throw new IrisException(StatusCode.ConnDoesNotExist, $"model_id '{modelId}' not found. Check the url of your request.");

    private static void RequireVersion(BuiltinModel model, string versionId)
    {
        if (versionId.Length > 0 && !string.Equals(versionId, model.Descriptor.VersionId, StringComparison.Ordinal))
        {
            throw VersionNotFound(model.Descriptor.Id, versionId);
        }
    }

    private static IrisException VersionNotFound(string modelId, string versionId) =>
        new(StatusCode.ConnDoesNotExist, $"model version '{versionId}' of model '{modelId}' not found. Check the url of your request.");
}
