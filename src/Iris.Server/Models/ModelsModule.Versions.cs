using System.Security.Cryptography;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Training;
using Iris.Server.Api;
using Iris.Server.Inputs;
using PatchAction = Iris.Server.Inputs.PatchAction;
using Task = System.Threading.Tasks.Task;
using Iris.Server.Seams;
using Iris.Storage.Db;
using Iris.Storage.Models;

namespace Iris.Server.Models;

/// <summary>
/// Model versions (seed 002, 2023-01-20): PostModelVersions creates a version from <c>output_info</c> /
/// <c>train_info</c> / <c>input_info</c> and queues its training (21103 → 21101 → 21100 or a failure status); the
/// labels of the inputs processed at that moment are frozen with it (seed 002, 2020-10-20). PatchModelVersions edits a
/// version in place and keeps its status. Get / List / Delete.
/// </summary>
internal sealed partial class ModelsModule
{
    private void RegisterVersions(HandlerRegistry registry)
    {
        registry.Add<PostModelVersionsRequest, SingleModelResponse>(nameof(V2.V2Base.PostModelVersions), PostModelVersionsAsync);
        registry.Add<PatchModelVersionsRequest, MultiModelVersionResponse>(nameof(V2.V2Base.PatchModelVersions), PatchModelVersionsAsync);
        registry.Add<DeleteModelVersionRequest, BaseResponse>(nameof(V2.V2Base.DeleteModelVersion), DeleteModelVersionAsync);
    }

    private async ValueTask<SingleModelResponse> PostModelVersionsAsync(PostModelVersionsRequest request, CallContext context)
    {
        if (request.ModelVersions.Count > 1)
        {
            throw IrisException.InvalidRequest($"Create one version per request; got {request.ModelVersions.Count} in 'model_versions'.");
        }

        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var row = await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false)
            ?? throw (zoo.Find(request.ModelId) is not null
                ? new IrisException(StatusCode.ModelPermissionDenied, $"Model '{request.ModelId}' is a public model of clarifai/main; create a model in your app to train one.")
                : new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' does not exist in this app."));
        if (row.TypeId != ModelTypes.EmbeddingClassifierId)
        {
            throw new IrisException(StatusCode.NotImplemented,
                $"Iris trains models of type '{ModelTypes.EmbeddingClassifierId}'; creating versions of a '{row.TypeId}' model is not implemented.");
        }

        var version = NewVersionBody(Model.Parser.ParseFrom(row.Body), request);
        if (version.TrainInfo is { } train && (train.Dataset is { Id.Length: > 0 }
            || (train.Params?.Fields.TryGetValue("dataset_id", out var dataset) == true && dataset.StringValue.Length > 0)))
        {
            // Training on all the app's processed inputs instead would silently answer a different question.
            throw new IrisException(StatusCode.NotImplemented, "Training on a dataset (train_info.dataset, train_info.params.dataset_id) is not implemented: Iris trains on the app's processed inputs labelled with the model's concepts.");
        }

        await FillConceptsAsync(app, version.OutputInfo, context.CancellationToken).ConfigureAwait(false);
        await SetBaseEmbedderAsync(app, version, context.CancellationToken).ConfigureAwait(false);

        var concepts = version.OutputInfo?.Data?.Concepts.Select(c => c.Id).ToArray() ?? [];
        var labels = await trainingData.ProcessedLabelsAsync(app, concepts, context.CancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var stored = new ModelVersionRow(row.Id, NewId(), (int)StatusCode.ModelQueuedForTraining, "Queued for training.", version.ToByteArray(),
            TrainingLabels.Encode(labels), null, now, now, 0);
        if (!await store.AddVersionAsync(app, stored, TrainingJob.JobKind, context.CancellationToken).ConfigureAwait(false))
        {
            throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' does not exist in this app.");
        }

        signal.Wake(TrainingJob.JobKind);
        var model = (await store.GetModelAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false)) ?? row;
        var count = (await store.ListVersionsAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false)).Count;
        return new SingleModelResponse { Model = UserModelViews.Model(app, model, stored, count, withConcepts: true) };
    }

    /// <summary>
    /// The version's fields from the request's version (or, for the legacy client's empty <c>POST …/versions</c>, the
    /// model-level <c>output_info</c> it was created with). Status and times are the store's.
    /// </summary>
    private static ModelVersion NewVersionBody(Model model, PostModelVersionsRequest request)
    {
        var sent = request.ModelVersions.Count == 1 ? request.ModelVersions[0] : new ModelVersion();
        var version = new ModelVersion
        {
            Description = sent.Description.Length > 0 ? sent.Description : request.Description,
            Metadata = sent.Metadata,
            License = sent.License,
            Visibility = sent.Visibility,
            OutputInfo = sent.OutputInfo?.Clone() ?? new OutputInfo(),
            InputInfo = sent.InputInfo?.Clone(),
            TrainInfo = sent.TrainInfo?.Clone(),
        };
#pragma warning disable CS0612 // the model-level output_info is deprecated, and where the legacy JS client put the concepts and config.
        if (model.OutputInfo is { } defaults)
        {
            if (version.OutputInfo.Data is not { Concepts.Count: > 0 } && defaults.Data is { Concepts.Count: > 0 })
            {
                version.OutputInfo.Data = defaults.Data.Clone();
            }

            if (version.OutputInfo.OutputConfig is null && defaults.OutputConfig is not null)
            {
                version.OutputInfo.OutputConfig = defaults.OutputConfig.Clone();
            }
        }
#pragma warning restore CS0612

        return version;
    }

    /// <summary><c>input_info.base_embed_model</c>: the embedder sent (a built-in visual embedder), else the app's base-workflow embedder.</summary>
    private async Task SetBaseEmbedderAsync(AppRef app, ModelVersion version, CancellationToken cancellationToken)
    {
        version.InputInfo ??= new InputInfo();
        var sent = version.InputInfo.BaseEmbedModel;
        Inference.Predict.IImageModel embedder;
        if (sent is { Id.Length: > 0 })
        {
            embedder = zoo.Find(sent.Id) is { Descriptor.TypeId: "visual-embedder" } found
                ? found
                : throw new IrisException(StatusCode.ModelInvalidArgument, $"input_info.base_embed_model '{sent.Id}' is not an embedding model of clarifai/main (see ListModels with model_type_id visual-embedder).");
        }
        else
        {
            var workflow = await baseWorkflows.ForAppAsync(app, cancellationToken).ConfigureAwait(false);
            embedder = workflow.Embedder
                ?? throw new IrisException(StatusCode.ModelInvalidArgument,
                    $"The app's base workflow '{workflow.WorkflowId}' stores no embeddings, which an embedding-classifier trains on: choose a base workflow with an embedder.");
        }

        version.InputInfo.BaseEmbedModel = new Model
        {
            Id = embedder.Descriptor.Id,
            AppId = "main",
            UserId = "clarifai",
            ModelTypeId = embedder.Descriptor.TypeId,
            ModelVersion = new ModelVersion { Id = embedder.Descriptor.VersionId },
        };
    }

    private async ValueTask<SingleModelVersionResponse> GetModelVersionAsync(GetModelVersionRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        if (await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false) is { } row)
        {
            var version = await store.GetVersionAsync(app, row.Id, request.VersionId, context.CancellationToken).ConfigureAwait(false)
                ?? throw VersionNotFound(row.Id, request.VersionId);
            return new SingleModelVersionResponse { ModelVersion = UserModelViews.Version(app, version, withConcepts: true) };
        }

        var model = Builtin(request.ModelId);
        if (!string.Equals(request.VersionId, model.Descriptor.VersionId, StringComparison.Ordinal))
        {
            throw VersionNotFound(model.Descriptor.Id, request.VersionId);
        }

        return new SingleModelVersionResponse { ModelVersion = ModelViews.Version(model.Descriptor, withConcepts: false) };
    }

    private async ValueTask<MultiModelVersionResponse> ListModelVersionsAsync(ListModelVersionsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var page = Paging.Read(request.Page, request.PerPage);
        IEnumerable<ModelVersion> versions;
        if (await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false) is { } row)
        {
            versions = (await store.ListVersionsAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false))
                .Select(v => UserModelViews.Version(app, v, withConcepts: true)).ToArray();
        }
        else
        {
            var model = Builtin(request.ModelId);
            var version = ModelViews.Version(model.Descriptor, withConcepts: false);
            version.OutputInfo.Data = new Data { Concepts = { model.Descriptor.Concepts.Select(ModelViews.ConceptOf) } };
            versions = [version];
        }

        versions = versions
            .Where(v => !request.TrainedOnly || v.Status.Code == StatusCode.ModelTrained)
            .Where(v => request.ConceptIds.All(id => v.OutputInfo?.Data?.Concepts.Any(c => c.Id == id) == true))
            .Where(_ => request.MinReplicas == 0);
        versions = request.SortByCase switch
        {
            ListModelVersionsRequest.SortByOneofCase.SortByStatusCode => Order(versions, v => (int)v.Status.Code),
            ListModelVersionsRequest.SortByOneofCase.SortByNumInputs => Order(versions, v => v.TotalInputCount),
            ListModelVersionsRequest.SortByOneofCase.SortByDescription => Order(versions, v => v.Description),
            _ => Order(versions, v => v.CreatedAt),
        };
        var response = new MultiModelVersionResponse();
        response.ModelVersions.AddRange(page.Of(versions).Select(v =>
        {
            // Lists carry no concept lists (as for the built-ins); GetModelOutputInfo has them.
            if (v.OutputInfo is { Data.Concepts.Count: > 0 } info)
            {
                info.Data = null;
                info.Message = $"Show output_info with: GET /models/{request.ModelId}/output_info";
            }

            return v;
        }));
        return response;

        IEnumerable<ModelVersion> Order<TKey>(IEnumerable<ModelVersion> items, Func<ModelVersion, TKey> key) =>
            request.SortAscending ? items.OrderBy(key).ThenBy(v => v.Id, StringComparer.Ordinal) : items.OrderByDescending(key).ThenBy(v => v.Id, StringComparer.Ordinal);
    }

    private async ValueTask<MultiModelVersionResponse> PatchModelVersionsAsync(PatchModelVersionsRequest request, CallContext context)
    {
        var action = DataPatch.ParseAction(request.Action.Length == 0 ? "merge" : request.Action);
        if (request.ModelVersions.Count is 0 or > MaxModelsPerRequest)
        {
            throw IrisException.InvalidRequest($"Provide 1 to {MaxModelsPerRequest} versions in 'model_versions'; got {request.ModelVersions.Count}.");
        }

        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        _ = await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' does not exist in this app.");
        var changes = new List<(string Id, ModelVersion Body)>();
        foreach (var patch in request.ModelVersions)
        {
            var stored = await store.GetVersionAsync(app, request.ModelId, patch.Id, context.CancellationToken).ConfigureAwait(false)
                ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' has no version '{patch.Id}'.");
            if (patch.OutputInfo?.Data is { Concepts.Count: > 0 })
            {
                throw new IrisException(StatusCode.ModelInvalidArgument, "The concepts of a version cannot change (its training used them): create a new version with PostModelVersions.");
            }

            var body = ModelVersion.Parser.ParseFrom(stored.Body);
            ApplyVersion(action, body, patch);
            changes.Add((patch.Id, body));
        }

        var response = new MultiModelVersionResponse();
        foreach (var (id, body) in changes)
        {
            await store.UpdateVersionBodyAsync(app, request.ModelId, id, body.ToByteArray(), context.CancellationToken).ConfigureAwait(false);
            var stored = await store.GetVersionAsync(app, request.ModelId, id, context.CancellationToken).ConfigureAwait(false)
                ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' has no version '{id}'.");
            response.ModelVersions.Add(UserModelViews.Version(app, stored, withConcepts: true));
        }

        return response;
    }

    /// <summary>The version fields a patch may change: description, metadata, license, visibility and output_info's config and params.</summary>
    private static void ApplyVersion(PatchAction action, ModelVersion body, ModelVersion patch)
    {
        switch (action)
        {
            case PatchAction.Overwrite:
                body.Description = patch.Description;
                body.Metadata = patch.Metadata;
                body.License = patch.License;
                body.Visibility = patch.Visibility;
                if (patch.OutputInfo is { } info)
                {
                    body.OutputInfo ??= new OutputInfo();
                    body.OutputInfo.OutputConfig = info.OutputConfig;
                    body.OutputInfo.Params = info.Params;
                }

                break;
            case PatchAction.Remove:
                if (patch.Metadata is not null && body.Metadata is not null)
                {
                    body.Metadata = DataPatch.Apply(PatchAction.Remove, new Data { Metadata = body.Metadata }, new Data { Metadata = patch.Metadata }).Metadata;
                }

                body.Description = patch.Description.Length > 0 ? string.Empty : body.Description;
                body.License = patch.License.Length > 0 ? string.Empty : body.License;
                break;
            default:
                body.Description = patch.Description.Length > 0 ? patch.Description : body.Description;
                body.License = patch.License.Length > 0 ? patch.License : body.License;
                body.Visibility = patch.Visibility ?? body.Visibility;
                if (patch.Metadata is not null)
                {
                    body.Metadata = DataPatch.Apply(PatchAction.Merge, new Data { Metadata = body.Metadata }, new Data { Metadata = patch.Metadata }).Metadata;
                }

                if (patch.OutputInfo is { } merged)
                {
                    body.OutputInfo ??= new OutputInfo();
                    body.OutputInfo.OutputConfig = merged.OutputConfig ?? body.OutputInfo.OutputConfig;
                    body.OutputInfo.Params = merged.Params ?? body.OutputInfo.Params;
                }

                break;
        }
    }

    private async ValueTask<BaseResponse> DeleteModelVersionAsync(DeleteModelVersionRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        _ = await store.GetModelAsync(app, request.ModelId, context.CancellationToken).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' does not exist in this app.");
        return await store.DeleteVersionAsync(app, request.ModelId, request.VersionId, context.CancellationToken).ConfigureAwait(false)
            ? new BaseResponse()
            : throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' has no version '{request.VersionId}'.");
    }

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
