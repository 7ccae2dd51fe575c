using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Inputs;
using PatchAction = Iris.Server.Inputs.PatchAction;
using Task = System.Threading.Tasks.Task;
using Iris.Server.Seams;
using Iris.Server.Validation;
using Iris.Storage.Db;
using Iris.Storage.Models;

namespace Iris.Server.Models;

/// <summary>
/// The model lifecycle of seed 002 (2023-01-20): PostModels creates models and no version; PatchModels changes model-level
/// fields only (merge / overwrite / remove) and never creates a version; PatchModelIds renames; DeleteModel(s).
/// A model-level <c>output_info</c> (the legacy place) is kept as the default of the model's next version.
/// </summary>
internal sealed partial class ModelsModule
{
    /// <summary>Models per PostModels / PatchModels / DeleteModels request.</summary>
    private const int MaxModelsPerRequest = 128;

    private void RegisterLifecycle(HandlerRegistry registry)
    {
        registry.Add<PostModelsRequest, SingleModelResponse>(nameof(V2.V2Base.PostModels), PostModelsAsync);
        registry.Add<PatchModelsRequest, MultiModelResponse>(nameof(V2.V2Base.PatchModels), PatchModelsAsync);
        registry.Add<PatchModelIdsRequest, MultiModelResponse>(nameof(V2.V2Base.PatchModelIds), PatchModelIdsAsync);
        registry.Add<DeleteModelRequest, BaseResponse>(nameof(V2.V2Base.DeleteModel), DeleteModelAsync);
        registry.Add<DeleteModelsRequest, BaseResponse>(nameof(V2.V2Base.DeleteModels), DeleteModelsAsync);
    }

    private async ValueTask<SingleModelResponse> PostModelsAsync(PostModelsRequest request, CallContext context)
    {
#pragma warning disable CS0612 // the single 'model' body is deprecated; the docs' curl examples and the legacy JS client send it.
        var posted = request.Models.Count > 0 ? request.Models.ToList() : request.Model is { } legacy ? [legacy] : [];
#pragma warning restore CS0612
        if (posted.Count == 0)
        {
            throw IrisException.InvalidRequest("Provide the model to create in 'models' (or the legacy 'model').");
        }

        if (posted.Count > MaxModelsPerRequest)
        {
            throw IrisException.InvalidRequest($"At most {MaxModelsPerRequest} models can be created in one request; got {posted.Count}.");
        }

        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var now = Clock.NowMicros(time);
        var rows = new List<ModelRow>();
        foreach (var model in posted)
        {
            Ids.Require("Model id", model.Id, IdKind.Resource, StatusCode.ModelInvalidArgument);
            if (rows.Any(r => r.Id == model.Id))
            {
                throw new IrisException(StatusCode.ModelInvalidArgument, $"Model id '{model.Id}' appears twice in the request.");
            }

            // The request's deprecated 'type' is not a field any more (seed 002, 2021-11-24): model_type_id decides.
            var typeId = model.ModelTypeId.Length == 0 ? ModelTypes.EmbeddingClassifierId : ModelTypes.Canonical(model.ModelTypeId);
            if (ModelTypes.Find(typeId) is null)
            {
                throw new IrisException(StatusCode.ModelInvalidArgument, $"model_type_id '{model.ModelTypeId}' is not a model type; ListModelTypes lists them.");
            }

            var body = UserModelViews.Settable(model);
#pragma warning disable CS0612 // the model-level output_info is deprecated, and the legacy default of the first version.
            await FillConceptsAsync(app, body.OutputInfo, context.CancellationToken).ConfigureAwait(false);
#pragma warning restore CS0612
            rows.Add(new ModelRow(model.Id, typeId, Google.Protobuf.MessageExtensions.ToByteArray(body), now, now));
        }

        var taken = await store.AddModelsAsync(app, rows, context.CancellationToken).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw new IrisException(StatusCode.ModelInvalidArgument, $"A model with id '{taken[0]}' already exists in this app.");
        }

        return new SingleModelResponse { Model = UserModelViews.Model(app, rows[0], null, 0, withConcepts: true) };
    }

    private async ValueTask<MultiModelResponse> PatchModelsAsync(PatchModelsRequest request, CallContext context)
    {
        var action = DataPatch.ParseAction(request.Action.Length == 0 ? "merge" : request.Action);
        if (request.Models.Count is 0 or > MaxModelsPerRequest)
        {
            throw IrisException.InvalidRequest($"Provide 1 to {MaxModelsPerRequest} models in 'models'; got {request.Models.Count}.");
        }

        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var rows = new List<(ModelRow Row, Model Body)>();
        foreach (var patch in request.Models)
        {
            var row = await store.GetModelAsync(app, patch.Id, context.CancellationToken).ConfigureAwait(false)
                ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{patch.Id}' does not exist in this app.");
            if (patch.ModelTypeId.Length > 0 && ModelTypes.Canonical(patch.ModelTypeId) != row.TypeId)
            {
                throw new IrisException(StatusCode.ModelInvalidArgument, $"The type of model '{patch.Id}' is '{row.TypeId}' for all its versions; it cannot change.");
            }

            var body = Model.Parser.ParseFrom(row.Body);
            Apply(action, body, UserModelViews.Settable(patch));
#pragma warning disable CS0612 // the model-level output_info is the legacy default of the next version.
            await FillConceptsAsync(app, body.OutputInfo, context.CancellationToken).ConfigureAwait(false);
#pragma warning restore CS0612
            rows.Add((row, body));
        }

        var response = new MultiModelResponse();
        foreach (var (row, body) in rows)
        {
            var bytes = Google.Protobuf.MessageExtensions.ToByteArray(body);
            if (!await store.UpdateModelAsync(app, row.Id, bytes, context.CancellationToken).ConfigureAwait(false))
            {
                throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{row.Id}' does not exist in this app.");
            }

            var stored = await store.GetModelAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false) ?? row with { Body = bytes };
            var versions = await store.ListVersionsAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false);
            response.Models.Add(UserModelViews.Model(app, stored, versions.FirstOrDefault(), versions.Count, withConcepts: false));
        }

        return response;
    }

    /// <summary>PatchModels on the settable fields: merge sets what the patch sets (metadata deep-merges, lists add), overwrite replaces them all, remove clears what the patch names.</summary>
    private static void Apply(PatchAction action, Model body, Model patch)
    {
#pragma warning disable CS0612 // name, display_name and output_info are deprecated but patchable (Model proto comment).
        switch (action)
        {
            case PatchAction.Overwrite:
                var keepType = body.ModelTypeId;
                body.MergeFrom(new Model());
                body.Name = patch.Name;
                body.DisplayName = patch.DisplayName;
                body.Description = patch.Description;
                body.Notes = patch.Notes;
                body.Metadata = patch.Metadata;
                body.Visibility = patch.Visibility;
                body.Image = patch.Image;
                body.OutputInfo = patch.OutputInfo;
                body.LicenseType = patch.LicenseType;
                body.WorkflowRecommended = patch.WorkflowRecommended;
                body.Toolkits.Clear();
                body.Toolkits.AddRange(patch.Toolkits);
                body.UseCases.Clear();
                body.UseCases.AddRange(patch.UseCases);
                body.Languages.Clear();
                body.Languages.AddRange(patch.Languages);
                body.ModelTypeId = keepType;
                break;
            case PatchAction.Remove:
                if (patch.Metadata is not null && body.Metadata is not null)
                {
                    body.Metadata = DataPatch.Apply(PatchAction.Remove, new Data { Metadata = body.Metadata }, new Data { Metadata = patch.Metadata }).Metadata;
                }

                if (patch.Image is not null)
                {
                    body.Image = null;
                }

                if (patch.OutputInfo?.Data is { } removed && body.OutputInfo?.Data is { } current)
                {
                    body.OutputInfo.Data = DataPatch.Apply(PatchAction.Remove, current, removed);
                }

                RemoveAll(body.Toolkits, patch.Toolkits);
                RemoveAll(body.UseCases, patch.UseCases);
                RemoveAll(body.Languages, patch.Languages);
                break;
            default:
                body.Name = patch.Name.Length > 0 ? patch.Name : body.Name;
                body.DisplayName = patch.DisplayName.Length > 0 ? patch.DisplayName : body.DisplayName;
                body.Description = patch.Description.Length > 0 ? patch.Description : body.Description;
                body.Notes = patch.Notes.Length > 0 ? patch.Notes : body.Notes;
                if (patch.Metadata is not null)
                {
                    body.Metadata = DataPatch.Apply(PatchAction.Merge, new Data { Metadata = body.Metadata }, new Data { Metadata = patch.Metadata }).Metadata;
                }

                body.Visibility = patch.Visibility ?? body.Visibility;
                body.Image = patch.Image ?? body.Image;
                body.LicenseType = patch.LicenseType != LicenseType.UnknownLicenseType ? patch.LicenseType : body.LicenseType;
                body.WorkflowRecommended = patch.WorkflowRecommended ?? body.WorkflowRecommended;
                if (patch.OutputInfo is { } info)
                {
                    var merged = body.OutputInfo?.Clone() ?? new OutputInfo();
                    if (info.Data is not null)
                    {
                        merged.Data = DataPatch.Apply(PatchAction.Merge, merged.Data ?? new Data(), info.Data);
                    }

                    if (info.OutputConfig is not null)
                    {
                        merged.OutputConfig = info.OutputConfig;
                    }

                    body.OutputInfo = merged;
                }

                AddMissing(body.Toolkits, patch.Toolkits);
                AddMissing(body.UseCases, patch.UseCases);
                AddMissing(body.Languages, patch.Languages);
                break;
        }
#pragma warning restore CS0612

        static void RemoveAll(Google.Protobuf.Collections.RepeatedField<string> list, IEnumerable<string> remove)
        {
            var keep = list.Except(remove, StringComparer.Ordinal).ToArray();
            list.Clear();
            list.AddRange(keep);
        }

        static void AddMissing(Google.Protobuf.Collections.RepeatedField<string> list, IEnumerable<string> add) =>
            list.AddRange(add.Where(a => !list.Contains(a)).ToArray());
    }

    private async ValueTask<MultiModelResponse> PatchModelIdsAsync(PatchModelIdsRequest request, CallContext context)
    {
        if (request.Action.Length > 0 && request.Action != "overwrite")
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"action must be 'overwrite'; got '{request.Action}'.");
        }

        if (request.Ids.Count is 0 or > MaxModelsPerRequest)
        {
            throw IrisException.InvalidRequest($"Provide 1 to {MaxModelsPerRequest} id changes in 'ids'; got {request.Ids.Count}.");
        }

        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        foreach (var change in request.Ids)
        {
            Ids.Require("Model id", change.NewId, IdKind.Resource, StatusCode.ModelInvalidArgument);
        }

        var response = new MultiModelResponse();
        foreach (var change in request.Ids)
        {
            switch (await store.RenameModelAsync(app, change.Id, change.NewId, context.CancellationToken).ConfigureAwait(false))
            {
                case RenameOutcome.Missing:
                    throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{change.Id}' does not exist in this app.");
                case RenameOutcome.Taken:
                    throw new IrisException(StatusCode.ModelInvalidArgument, $"A model with id '{change.NewId}' already exists in this app.");
            }

            var row = (await store.GetModelAsync(app, change.NewId, context.CancellationToken).ConfigureAwait(false))!;
            var versions = await store.ListVersionsAsync(app, row.Id, context.CancellationToken).ConfigureAwait(false);
            response.Models.Add(UserModelViews.Model(app, row, versions.FirstOrDefault(), versions.Count, withConcepts: false));
        }

        return response;
    }

    private async ValueTask<BaseResponse> DeleteModelAsync(DeleteModelRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var deleted = await store.DeleteModelsAsync(app, [request.ModelId], context.CancellationToken).ConfigureAwait(false);
        return deleted.Count == 1
            ? new BaseResponse()
            : throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' does not exist in this app.");
    }

    private async ValueTask<BaseResponse> DeleteModelsAsync(DeleteModelsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> ids = request.DeleteAll
            ? (await store.ListModelsAsync(app, context.CancellationToken).ConfigureAwait(false)).Select(m => m.Id).ToArray()
            : request.Ids;
        if (!request.DeleteAll && ids.Count is 0 or > MaxModelsPerRequest)
        {
            throw IrisException.InvalidRequest($"Provide 1 to {MaxModelsPerRequest} model ids in 'ids', or delete_all; got {ids.Count}.");
        }

        var deleted = await store.DeleteModelsAsync(app, ids, context.CancellationToken).ConfigureAwait(false);
        var missing = ids.Except(deleted, StringComparer.Ordinal).ToArray();
        return missing.Length == 0
            ? new BaseResponse()
            : throw new IrisException(StatusCode.ModelDoesNotExist, $"These models do not exist in this app: {string.Join(", ", missing)}. The others were deleted.");
    }

    /// <summary>
    /// Concepts of an <c>output_info</c> as Clarifai returns them: sorted by id, each with its name (the app's concept's
    /// name when it has one, else the name or id sent), value 1, language and the app's ids.
    /// </summary>
    private async Task FillConceptsAsync(AppRef app, OutputInfo? info, CancellationToken cancellationToken)
    {
        if (info?.Data is not { Concepts.Count: > 0 } data)
        {
            return;
        }

        var filled = new List<Concept>();
        foreach (var sent in data.Concepts)
        {
            var id = sent.Id.Length > 0 ? sent.Id : sent.Name;
            Ids.Require("Concept id", id, IdKind.Resource, StatusCode.ModelInvalidArgument);
            if (filled.Any(c => c.Id == id))
            {
                continue;
            }

            var known = await inputs.GetConceptAsync(app, id, cancellationToken).ConfigureAwait(false);
            filled.Add(new Concept
            {
                Id = id,
                Name = known?.Name is { Length: > 0 } name ? name : sent.Name.Length > 0 ? sent.Name : id,
                Value = 1f,
                Language = known?.Language is { Length: > 0 } language ? language : "en",
                AppId = app.AppId,
                UserId = app.UserId,
            });
        }

        data.Concepts.Clear();
        data.Concepts.AddRange(filled.OrderBy(c => c.Id, StringComparer.Ordinal));
    }
}
