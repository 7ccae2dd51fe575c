using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Seams;
using Iris.Storage.Inputs;
using Iris.Server.Validation;

namespace Iris.Server.Inputs;

/// <summary>
/// Annotations of inputs. User annotations (concepts and regions: bounding boxes, polygons, normalised to [0, 1]) are
/// stored, at 24150, trusted. Model annotations are the base workflow's outputs on each input (<see cref="ModelAnnotations"/>):
/// read-only, listed when ListAnnotations asks for them (<c>list_all_annotations</c>, <c>model_version_ids</c>), found by
/// GetAnnotation, refused with 24156 by PatchAnnotations and DeleteAnnotation(s), gone with their input. Iris has no
/// workflow-made or task annotations: <c>workflow_version_ids</c> and <c>task_id</c> match none.
/// </summary>
internal sealed class AnnotationsModule(IAppAccess access, IInputStore store, ModelNames names) : IApiModule
{
    public const int MaxPerRequest = 128;

    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostAnnotationsRequest, MultiAnnotationResponse>(nameof(V2.V2Base.PostAnnotations), PostAsync);
        registry.Add<ListAnnotationsRequest, MultiAnnotationResponse>(nameof(V2.V2Base.ListAnnotations), ListAsync);
        registry.Add<GetAnnotationRequest, SingleAnnotationResponse>(nameof(V2.V2Base.GetAnnotation), GetAsync);
        registry.Add<PatchAnnotationsRequest, MultiAnnotationResponse>(nameof(V2.V2Base.PatchAnnotations), PatchAsync);
        registry.Add<DeleteAnnotationRequest, BaseResponse>(nameof(V2.V2Base.DeleteAnnotation), DeleteOneAsync);
        registry.Add<DeleteAnnotationsRequest, BaseResponse>(nameof(V2.V2Base.DeleteAnnotations), DeleteManyAsync);
    }

    private async ValueTask<MultiAnnotationResponse> PostAsync(PostAnnotationsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Annotations.Count is 0 or > MaxPerRequest)
        {
            throw new IrisException(StatusCode.AnnotationInvalidArgument, $"annotations must contain 1 to {MaxPerRequest} annotations; got {request.Annotations.Count}.");
        }

        var fresh = new List<NewAnnotation>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in request.Annotations)
        {
            if (string.IsNullOrEmpty(a.InputId))
            {
                throw new IrisException(StatusCode.AnnotationInvalidArgument, "Every annotation needs an input_id.");
            }

            if (await store.GetInputAsync(app, a.InputId, ct).ConfigureAwait(false) is null)
            {
                throw InputsModule.NotFound(app, a.InputId);
            }

            var id = string.IsNullOrEmpty(a.Id) ? InputMapper.NewId() : a.Id;
            if (!Ids.IsValid(id) || !seen.Add(id))
            {
                throw new IrisException(StatusCode.AnnotationInvalidArgument, $"Annotation id '{id}' is invalid or repeated: ids are 1 to 48 characters from A-Z, a-z, 0-9, '_' and '-'.");
            }

            if (await FindModelAnnotationAsync(app, a.InputId, id, withOutput: false, ct).ConfigureAwait(false) is { } model)
            {
                throw new IrisException(StatusCode.AnnotationInvalidArgument, $"Annotation id '{id}' is taken by the model annotation of model version '{model.Model!.ModelVersionId}' on input '{a.InputId}'.");
            }

            if (a.Data is null || (a.Data.Concepts.Count == 0 && a.Data.Regions.Count == 0 && a.Data.Metadata is null && a.Data.Geo is null))
            {
                throw new IrisException(StatusCode.AnnotationInvalidArgument, $"Annotation '{id}' has no data: give concepts or regions.");
            }

            fresh.Add(InputMapper.NewAnnotationOf(app, id, a.InputId, Part(app, a.Data), inputLevel: false));
        }

        var taken = await store.AddAnnotationsAsync(app, fresh, ct).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw new IrisException(StatusCode.AnnotationInvalidArgument, $"Annotation '{taken[0]}' already exists.");
        }

        return await ResponseAsync(app, fresh.Select(f => f.Id), ct).ConfigureAwait(false);
    }

    private static Data Part(AppRef app, Data data)
    {
        try
        {
            return InputMapper.AnnotationPart(app, data);
        }
        catch (IrisException e) when (e.Code == StatusCode.InputInvalidRequest)
        {
            throw new IrisException(StatusCode.AnnotationInvalidArgument, e.Details);
        }
    }

    private async Task<MultiAnnotationResponse> ResponseAsync(AppRef app, IEnumerable<string> ids, CancellationToken ct)
    {
        var response = new MultiAnnotationResponse { Status = StatusWriter.Ok() };
        foreach (var id in ids)
        {
            if (await store.GetAnnotationAsync(app, id, ct).ConfigureAwait(false) is { } row)
            {
                response.Annotations.Add(InputMapper.ToAnnotation(app, row));
            }
        }

        return response;
    }

    /// <summary>
    /// The worker filters are OR-ed (service.proto ListAnnotationsRequest): <c>user_ids</c> lists those users' annotations,
    /// <c>model_version_ids</c> those versions' model annotations, <c>workflow_version_ids</c> nothing (no annotation in
    /// Iris is a workflow's); any of them implies <c>list_all_annotations</c>. Without them, <c>list_all_annotations</c>
    /// lists user and model annotations, and the default user (trusted) annotations only. <c>ids</c>, <c>input_ids</c> and
    /// <c>statuses</c> filter both kinds; <c>task_id</c> matches none (Iris has no tasks). Model annotations carry their
    /// output only with <c>return_model_output</c>.
    /// </summary>
    private async ValueTask<MultiAnnotationResponse> ListAsync(ListAnnotationsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiAnnotationResponse { Status = StatusWriter.Ok() };
        if (!string.IsNullOrEmpty(request.TaskId))
        {
            return response;
        }

        var workers = request.UserIds.Count > 0 || request.ModelVersionIds.Count > 0 || request.WorkflowVersionIds.Count > 0;
        var filter = new AnnotationQuery([.. request.Ids], [.. request.InputIds], [.. request.UserIds], [.. request.Statuses.Select(s => (int)s.Code)])
        {
            Users = !workers || request.UserIds.Count > 0,
            ModelVersions = workers ? (request.ModelVersionIds.Count > 0 ? [.. request.ModelVersionIds] : null) : (request.ListAllAnnotations ? [] : null),
            WithOutput = request.ReturnModelOutput,
        };
        response.Annotations.Add((await store.ListAnnotationsAsync(app, filter, page, perPage, ct).ConfigureAwait(false)).Select(r => InputMapper.ToAnnotation(app, r, names)));
        return response;
    }

    /// <summary>A model annotation is returned with its output: GetAnnotation has no return_model_output, and asks for that one annotation.</summary>
    private async ValueTask<SingleAnnotationResponse> GetAsync(GetAnnotationRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var row = await FindAsync(app, request.InputId, request.AnnotationId, write: false, ct).ConfigureAwait(false);
        return new SingleAnnotationResponse { Status = StatusWriter.Ok(), Annotation = InputMapper.ToAnnotation(app, row, names) };
    }

    // The annotation named: a user annotation, else a model annotation (refused when it is to be written).
    private async Task<AnnotationRow> FindAsync(AppRef app, string inputId, string id, bool write, CancellationToken ct)
    {
        var row = await store.GetAnnotationAsync(app, id, ct).ConfigureAwait(false);
        if (row is not null && (string.IsNullOrEmpty(inputId) || row.InputId == inputId))
        {
            return row;
        }

        if (await FindModelAnnotationAsync(app, inputId, id, withOutput: !write, ct).ConfigureAwait(false) is { } model)
        {
            return write
                ? throw new IrisException(StatusCode.AnnotationPermissionDenied,
                    $"Annotation '{id}' is a model annotation: the output of model version '{model.Model!.ModelVersionId}' of the app's base workflow on input '{model.InputId}'. It cannot be patched or deleted; it goes with its input.")
                : model;
        }

        throw new IrisException(StatusCode.ConnDoesNotExist, $"Annotation '{id}' does not exist{(string.IsNullOrEmpty(inputId) ? string.Empty : $" on input '{inputId}'")}.");
    }

    private async Task<AnnotationRow?> FindModelAnnotationAsync(AppRef app, string inputId, string id, bool withOutput, CancellationToken ct)
    {
        var query = new AnnotationQuery([id], string.IsNullOrEmpty(inputId) ? [] : [inputId], [], []) { Users = false, ModelVersions = [], WithOutput = withOutput };
        return (await store.ListAnnotationsAsync(app, query, 1, 1, ct).ConfigureAwait(false)).FirstOrDefault();
    }

    private async ValueTask<MultiAnnotationResponse> PatchAsync(PatchAnnotationsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        var action = DataPatch.ParseAction(request.Action);
        if (request.Annotations.Count is 0 or > MaxPerRequest)
        {
            throw new IrisException(StatusCode.AnnotationInvalidArgument, $"annotations must contain 1 to {MaxPerRequest} annotations; got {request.Annotations.Count}.");
        }

        var updates = new List<NewAnnotation>();
        var deletes = new List<(string, string?)>();
        foreach (var a in request.Annotations)
        {
            var row = await FindAsync(app, a.InputId, a.Id, write: true, ct).ConfigureAwait(false);
            var result = DataPatch.Apply(action, Data.Parser.ParseFrom(row.Data), Part(app, a.Data ?? new Data()));
            if (request.DeleteIfEmptyData && result.Concepts.Count == 0 && result.Regions.Count == 0 && result.Metadata is not { Fields.Count: > 0 } && result.Geo is null)
            {
                deletes.Add((row.InputId, row.Id));
            }
            else
            {
                updates.Add(InputMapper.NewAnnotationOf(app, row.Id, row.InputId, result, row.InputLevel));
            }
        }

        foreach (var update in updates)
        {
            await store.UpdateAnnotationAsync(app, update, ct).ConfigureAwait(false);
        }

        if (deletes.Count > 0)
        {
            await store.DeleteAnnotationsAsync(app, deletes, ct).ConfigureAwait(false);
        }

        return await ResponseAsync(app, updates.Select(u => u.Id), ct).ConfigureAwait(false);
    }

    private async ValueTask<BaseResponse> DeleteOneAsync(DeleteAnnotationRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        var row = await FindAsync(app, request.InputId, request.AnnotationId, write: true, ct).ConfigureAwait(false);
        await store.DeleteAnnotationsAsync(app, [(row.InputId, row.Id)], ct).ConfigureAwait(false);
        return new BaseResponse { Status = StatusWriter.Ok() };
    }

    private async ValueTask<BaseResponse> DeleteManyAsync(DeleteAnnotationsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.InputIds.Count == 0)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, "input_ids is required: the inputs whose annotations to delete.");
        }

        if (request.Ids.Count > 0 && request.Ids.Count != request.InputIds.Count)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"ids pair with input_ids by position: got {request.Ids.Count} ids for {request.InputIds.Count} input_ids.");
        }

        var targets = new List<(string, string?)>();
        for (var i = 0; i < request.InputIds.Count; i++)
        {
            if (request.Ids.Count > 0)
            {
                var row = await FindAsync(app, request.InputIds[i], request.Ids[i], write: true, ct).ConfigureAwait(false);
                targets.Add((row.InputId, row.Id));
            }
            else
            {
                _ = await store.GetInputAsync(app, request.InputIds[i], ct).ConfigureAwait(false) ?? throw InputsModule.NotFound(app, request.InputIds[i]);
                targets.Add((request.InputIds[i], null));
            }
        }

        await store.DeleteAnnotationsAsync(app, targets, ct).ConfigureAwait(false);
        return new BaseResponse { Status = StatusWriter.Ok() };
    }
}
