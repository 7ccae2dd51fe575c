using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Inference.Predict;
using Iris.Inference.Zoo;
using Iris.Server.Api;
using Iris.Server.Seams;

namespace Iris.Server.Models;

/// <summary>
/// Model reads and predict for the built-in public models of <c>clarifai/main</c>. Built-in ids also resolve from any
/// app the caller can read (Clarifai's "fetch from main"): a PAT can predict in its own app's context, and input ids
/// are looked up in that app. Any other model id → 21200 (predict) / 11101 (reads).
/// </summary>
internal sealed class ModelsModule(IAppAccess access, ModelZoo zoo, ImagePredictor predictor) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostModelOutputsRequest, MultiOutputResponse>(nameof(V2.V2Base.PostModelOutputs), PostModelOutputsAsync);
        registry.Add<GetModelRequest, SingleModelResponse>(nameof(V2.V2Base.GetModel), (r, c) => GetModelAsync(r, c, withConcepts: false));
        registry.Add<GetModelRequest, SingleModelResponse>(nameof(V2.V2Base.GetModelOutputInfo), (r, c) => GetModelAsync(r, c, withConcepts: true));
        registry.Add<ListModelsRequest, MultiModelResponse>(nameof(V2.V2Base.ListModels), ListModelsAsync);
        registry.Add<ListModelConceptsRequest, MultiConceptResponse>(nameof(V2.V2Base.ListModelConcepts), ListModelConceptsAsync);
        registry.Add<GetModelVersionRequest, SingleModelVersionResponse>(nameof(V2.V2Base.GetModelVersion), GetModelVersionAsync);
        registry.Add<ListModelVersionsRequest, MultiModelVersionResponse>(nameof(V2.V2Base.ListModelVersions), ListModelVersionsAsync);
        registry.Add<ListModelTypesRequest, MultiModelTypeResponse>(nameof(V2.V2Base.ListModelTypes), ListModelTypesAsync);
        registry.Add<GetModelTypeRequest, SingleModelTypeResponse>(nameof(V2.V2Base.GetModelType), GetModelTypeAsync);
    }

    private async ValueTask<MultiOutputResponse> PostModelOutputsAsync(PostModelOutputsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var model = zoo.Find(request.ModelId) ?? throw new IrisException(StatusCode.ModelDoesNotExist, "Model does not exist");
        if (request.VersionId.Length > 0 && !string.Equals(request.VersionId, model.Descriptor.VersionId, StringComparison.Ordinal))
        {
            throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{model.Descriptor.Id}' has no version '{request.VersionId}'.");
        }

        var filter = PredictMapping.Filter(request.Model, model.Descriptor);
        var sources = request.Inputs.Select(PredictMapping.SourceOf).ToArray();
        var results = await predictor.PredictAsync(model, app, sources, filter, context.CancellationToken).ConfigureAwait(false);
        return PredictMapping.Response(request.Inputs, sources, results, filter, model.Descriptor);
    }

    private async ValueTask<SingleModelResponse> GetModelAsync(GetModelRequest request, CallContext context, bool withConcepts)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var model = Find(request.ModelId);
        RequireVersion(model, request.VersionId);
        return new SingleModelResponse { Model = ModelViews.Full(model.Descriptor, withConcepts) };
    }

    private async ValueTask<MultiModelResponse> ListModelsAsync(ListModelsRequest request, CallContext context)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        IEnumerable<ModelDescriptor> models = zoo.Models.Select(m => m.Descriptor);
        models = models.Where(d => Matches(d, request));
        models = Sort(models, request);
        var response = new MultiModelResponse();
        response.Models.AddRange(Paging.Read(request.Page, request.PerPage).Of(models).Select(d => ModelViews.Full(d, withConcepts: false)));
        return response;
    }

    private async ValueTask<MultiConceptResponse> ListModelConceptsAsync(ListModelConceptsRequest request, CallContext context)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var model = Find(request.ModelId);
        RequireVersion(model, request.VersionId);
        var concepts = model.Descriptor.Concepts.AsEnumerable();
        if (request.Search.Length > 0)
        {
            concepts = concepts.Where(c => c.Name.Contains(request.Search, StringComparison.OrdinalIgnoreCase) || c.Id.StartsWith(request.Search, StringComparison.Ordinal));
        }

        var response = new MultiConceptResponse();
        response.Concepts.AddRange(Paging.Read(request.Page, request.PerPage).Of(concepts).Select(ModelViews.ConceptOf));
        return response;
    }

    private async ValueTask<SingleModelVersionResponse> GetModelVersionAsync(GetModelVersionRequest request, CallContext context)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var model = Find(request.ModelId);
        if (!string.Equals(request.VersionId, model.Descriptor.VersionId, StringComparison.Ordinal))
        {
            throw new IrisException(StatusCode.ConnDoesNotExist, $"model version '{request.VersionId}' of model '{model.Descriptor.Id}' not found. Check the url of your request.");
        }

        return new SingleModelVersionResponse { ModelVersion = ModelViews.Version(model.Descriptor, withConcepts: false) };
    }

    private async ValueTask<MultiModelVersionResponse> ListModelVersionsAsync(ListModelVersionsRequest request, CallContext context)
    {
        await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var model = Find(request.ModelId);
        var versions = new[] { model.Descriptor }
            .Where(d => request.ConceptIds.All(id => d.Concepts.Any(c => string.Equals(c.Id, id, StringComparison.Ordinal))))
            .Where(_ => request.MinReplicas == 0);
        var response = new MultiModelVersionResponse();
        response.ModelVersions.AddRange(Paging.Read(request.Page, request.PerPage).Of(versions).Select(d => ModelViews.Version(d, withConcepts: false)));
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

    private BuiltinModel Find(string modelId) => zoo.Find(modelId)
        ?? throw new IrisException(StatusCode.ConnDoesNotExist, $"model_id '{modelId}' not found. Check the url of your request.");

    private static void RequireVersion(BuiltinModel model, string versionId)
    {
        if (versionId.Length > 0 && !string.Equals(versionId, model.Descriptor.VersionId, StringComparison.Ordinal))
        {
            throw new IrisException(StatusCode.ConnDoesNotExist, $"model version '{versionId}' of model '{model.Descriptor.Id}' not found. Check the url of your request.");
        }
    }

    /// <summary>The ListModels filters of CLARIFAI_FACTS.md 5.3 as they apply to the built-in models.</summary>
    private static bool Matches(ModelDescriptor d, ListModelsRequest r)
    {
        var type = ModelTypes.Find(d.TypeId)!;
        if (r.ModelTypeId.Length > 0 && !string.Equals(r.ModelTypeId, d.TypeId, StringComparison.Ordinal))
        {
            return false;
        }

        if (r.InputFields.Any(f => !type.InputFields.Contains(f)) || r.OutputFields.Any(f => !type.OutputFields.Contains(f)))
        {
            return false;
        }

        if (r.License.Length > 0 && !string.Equals(r.License, d.License, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // None of the built-ins is featured, starred, bookmarked, tagged with toolkits/use cases/languages, or replicated.
        if (r.FeaturedOnly || r.StarredOnly || r.Bookmark || r.Toolkits.Count > 0 || r.UseCases.Count > 0 || r.Languages.Count > 0 || r.MinReplicas > 0)
        {
            return false;
        }

        if (r.ModelVersionIds.Count > 0 && !r.ModelVersionIds.Contains(d.VersionId))
        {
            return false;
        }

        if (r.LicenseType is not LicenseType.UnknownLicenseType and not LicenseType.OpenSource)
        {
            return false;
        }

        if (r.Source != 0 && r.Source != (uint)Model.Types.Source.Hosted)
        {
            return false;
        }

        if (r.Creator.Length > 0 && !string.Equals(r.Creator, ModelViews.MainUser, StringComparison.Ordinal))
        {
            return false;
        }

        if (r.Visibility is { Gettable: not Visibility.Types.Gettable.UnknownVisibility } v && v.Gettable != Visibility.Types.Gettable.Public)
        {
            return false;
        }

#pragma warning disable CS0612 // query and name are the deprecated spellings of search; old clients still send them.
        var search = r.Search.Length > 0 ? r.Search : r.Query.Length > 0 ? r.Query : r.Name;
#pragma warning restore CS0612
        if (search.Length > 0)
        {
            var words = search.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var haystack = string.Join(' ', d.Id, d.Name, d.Description, d.Notes, ModelViews.MainUser);
            return words.All(w => haystack.Contains(w, StringComparison.OrdinalIgnoreCase));
        }

        return true;
    }

    private static IEnumerable<ModelDescriptor> Sort(IEnumerable<ModelDescriptor> models, ListModelsRequest r)
    {
        // Every built-in has the same dates and no inputs or stars: those sorts fall back to id order.
        var ordered = r.SortByName ? models.OrderBy(d => d.Name, StringComparer.OrdinalIgnoreCase).ThenBy(d => d.Id, StringComparer.Ordinal) : models.OrderBy(d => d.Id, StringComparer.Ordinal);
        return r.SortAscending || r.SortByName ? ordered : ordered.Reverse();
    }
}
