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
/// User annotations of inputs: concepts and regions (bounding boxes, polygons, normalised to [0, 1]). Every stored
/// annotation is a user annotation at 24150; Iris stores no model-made annotations, so filters on model or workflow
/// versions and tasks match nothing.
/// </summary>
internal sealed class AnnotationsModule(IAppAccess access, IInputStore store) : IApiModule
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

    private async ValueTask<MultiAnnotationResponse> ListAsync(ListAnnotationsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiAnnotationResponse { Status = StatusWriter.Ok() };
        if (request.ModelVersionIds.Count > 0 || request.WorkflowVersionIds.Count > 0 || !string.IsNullOrEmpty(request.TaskId))
        {
            return response;
        }

        var filter = new AnnotationQuery([.. request.Ids], [.. request.InputIds], [.. request.UserIds], [.. request.Statuses.Select(s => (int)s.Code)]);
        response.Annotations.Add((await store.ListAnnotationsAsync(app, filter, page, perPage, ct).ConfigureAwait(false)).Select(r => InputMapper.ToAnnotation(app, r)));
        return response;
    }

    private async ValueTask<SingleAnnotationResponse> GetAsync(GetAnnotationRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var row = await FindAsync(app, request.InputId, request.AnnotationId, ct).ConfigureAwait(false);
        return new SingleAnnotationResponse { Status = StatusWriter.Ok(), Annotation = InputMapper.ToAnnotation(app, row) };
    }

    private async Task<AnnotationRow> FindAsync(AppRef app, string inputId, string id, CancellationToken ct)
    {
        var row = await store.GetAnnotationAsync(app, id, ct).ConfigureAwait(false);
        if (row is null || (!string.IsNullOrEmpty(inputId) && row.InputId != inputId))
        {
            throw new IrisException(StatusCode.ConnDoesNotExist, $"Annotation '{id}' does not exist{(string.IsNullOrEmpty(inputId) ? string.Empty : $" on input '{inputId}'")}.");
        }

        return row;
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
            var row = await FindAsync(app, a.InputId, a.Id, ct).ConfigureAwait(false);
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
        var row = await FindAsync(app, request.InputId, request.AnnotationId, ct).ConfigureAwait(false);
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
                var row = await FindAsync(app, request.InputIds[i], request.Ids[i], ct).ConfigureAwait(false);
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
