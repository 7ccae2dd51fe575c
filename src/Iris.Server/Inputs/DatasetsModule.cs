using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Search.Planning;
using Iris.Server.Api;
using Iris.Server.Searches;
using Iris.Server.Seams;
using Iris.Storage.Inputs;
using Iris.Server.Validation;

namespace Iris.Server.Inputs;

/// <summary>
/// Datasets: named sets of an app's inputs, and versions that freeze the inputs and annotations of a dataset at one
/// moment (64005 pending → 64010 in progress → 64015 ready, built by the background workers).
/// </summary>
internal sealed class DatasetsModule(IAppAccess access, IDatasetStore datasets, IInputStore inputs, InputMapper mapper, IngestionWorkers workers, TimeProvider time, SearchPlanner planner) : IApiModule
{
    public const int MaxPerRequest = 128;

    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostDatasetsRequest, MultiDatasetResponse>(nameof(V2.V2Base.PostDatasets), PostAsync);
        registry.Add<GetDatasetRequest, SingleDatasetResponse>(nameof(V2.V2Base.GetDataset), GetAsync);
        registry.Add<ListDatasetsRequest, MultiDatasetResponse>(nameof(V2.V2Base.ListDatasets), ListAsync);
        registry.Add<PatchDatasetsRequest, MultiDatasetResponse>(nameof(V2.V2Base.PatchDatasets), PatchAsync);
        registry.Add<DeleteDatasetsRequest, BaseResponse>(nameof(V2.V2Base.DeleteDatasets), DeleteAsync);
        registry.Add<PostDatasetInputsRequest, MultiDatasetInputResponse>(nameof(V2.V2Base.PostDatasetInputs), PostInputsAsync);
        registry.Add<ListDatasetInputsRequest, MultiDatasetInputResponse>(nameof(V2.V2Base.ListDatasetInputs), ListInputsAsync);
        registry.Add<DeleteDatasetInputsRequest, BaseResponse>(nameof(V2.V2Base.DeleteDatasetInputs), DeleteInputsAsync);
        registry.Add<PostDatasetVersionsRequest, MultiDatasetVersionResponse>(nameof(V2.V2Base.PostDatasetVersions), PostVersionsAsync);
        registry.Add<GetDatasetVersionRequest, SingleDatasetVersionResponse>(nameof(V2.V2Base.GetDatasetVersion), GetVersionAsync);
        registry.Add<ListDatasetVersionsRequest, MultiDatasetVersionResponse>(nameof(V2.V2Base.ListDatasetVersions), ListVersionsAsync);
    }

    private static Dataset ToDataset(AppRef app, DatasetRow row)
    {
        var d = Dataset.Parser.ParseFrom(row.Body);
        d.Id = row.Id;
        d.AppId = app.AppId;
        d.UserId = app.UserId;
        d.CreatedAt = InputMapper.Time(row.CreatedAt);
        d.ModifiedAt = InputMapper.Time(row.ModifiedAt);
        return d;
    }

    private static byte[] BodyOf(Dataset dataset)
    {
        var body = dataset.Clone();
        body.Id = string.Empty;
        body.AppId = string.Empty;
        body.UserId = string.Empty;
        body.CreatedAt = null;
        body.ModifiedAt = null;
        body.Version = null;
        return body.ToByteArray();
    }

    private static IrisException NotFound(AppRef app, string id) => new(StatusCode.ConnDoesNotExist, $"Dataset '{id}' does not exist in app '{app.AppId}'.");

    private async Task<DatasetRow> RequireAsync(AppRef app, string id, CancellationToken ct) =>
        await datasets.GetDatasetAsync(app, id, ct).ConfigureAwait(false) ?? throw NotFound(app, id);

    private async ValueTask<MultiDatasetResponse> PostAsync(PostDatasetsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Datasets.Count is 0 or > MaxPerRequest)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"datasets must contain 1 to {MaxPerRequest} datasets; got {request.Datasets.Count}.");
        }

        var now = time.GetUtcNow();
        var rows = new List<DatasetRow>();
        foreach (var d in request.Datasets)
        {
            var id = string.IsNullOrEmpty(d.Id) ? InputMapper.NewId() : d.Id;
            if (!Ids.IsValid(id) || rows.Any(r => r.Id == id))
            {
                throw new IrisException(StatusCode.ConnInvalidRequest, $"Dataset id '{id}' is invalid or repeated: ids are 1 to 48 characters from A-Z, a-z, 0-9, '_' and '-'.");
            }

            rows.Add(new DatasetRow(id, BodyOf(d), now, now));
        }

        var taken = await datasets.AddDatasetsAsync(app, rows, ct).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw new IrisException(StatusCode.DatabaseDuplicateKey, $"Dataset '{taken[0]}' already exists in app '{app.AppId}'.");
        }

        var response = new MultiDatasetResponse { Status = StatusWriter.Ok() };
        response.Datasets.Add(rows.Select(r => ToDataset(app, r)));
        return response;
    }

    private async ValueTask<SingleDatasetResponse> GetAsync(GetDatasetRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        return new SingleDatasetResponse { Status = StatusWriter.Ok(), Dataset = ToDataset(app, await RequireAsync(app, request.DatasetId, ct).ConfigureAwait(false)) };
    }

    private async ValueTask<MultiDatasetResponse> ListAsync(ListDatasetsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiDatasetResponse { Status = StatusWriter.Ok() };
        response.Datasets.Add((await datasets.ListDatasetsAsync(app, page, perPage, ct).ConfigureAwait(false)).Select(r => ToDataset(app, r)));
        return response;
    }

    private async ValueTask<MultiDatasetResponse> PatchAsync(PatchDatasetsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Action is not ("merge" or "overwrite"))
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"action must be 'merge' or 'overwrite'; got '{request.Action}'.");
        }

        var updated = new List<DatasetRow>();
        foreach (var d in request.Datasets)
        {
            var row = await RequireAsync(app, d.Id, ct).ConfigureAwait(false);
            var body = Dataset.Parser.ParseFrom(row.Body);
            if (request.Action == "overwrite")
            {
                body = Dataset.Parser.ParseFrom(BodyOf(d));
            }
            else
            {
                body.MergeFrom(BodyOf(d));
            }

            updated.Add(row with { Body = body.ToByteArray(), ModifiedAt = time.GetUtcNow() });
        }

        foreach (var row in updated)
        {
            await datasets.UpdateDatasetAsync(app, row, ct).ConfigureAwait(false);
        }

        var response = new MultiDatasetResponse { Status = StatusWriter.Ok() };
        response.Datasets.Add(updated.Select(r => ToDataset(app, r)));
        return response;
    }

    private async ValueTask<BaseResponse> DeleteAsync(DeleteDatasetsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.DatasetIds.Count == 0)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, "dataset_ids must list the datasets to delete.");
        }

        foreach (var id in request.DatasetIds)
        {
            await RequireAsync(app, id, ct).ConfigureAwait(false);
        }

        await datasets.DeleteDatasetsAsync(app, [.. request.DatasetIds], ct).ConfigureAwait(false);
        return new BaseResponse { Status = StatusWriter.Ok() };
    }

    private async ValueTask<MultiDatasetInputResponse> PostInputsAsync(PostDatasetInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        await RequireAsync(app, request.DatasetId, ct).ConfigureAwait(false);
        List<string> ids;
        if (request.Search is not null)
        {
            if (request.DatasetInputs.Count > 0)
            {
                throw new IrisException(StatusCode.ConnInvalidRequest, "Send either dataset_inputs or search, not both.");
            }

            // Every input the search matches (the SDK's merge_dataset sends a dataset_ids filter), up to the search window.
            var found = await planner.RunAsync(app, SearchMapping.ToQuery(request.Search), SearchesModule.MaxResultWindow, exactTotal: true, ct).ConfigureAwait(false);
            if (found.Total > SearchesModule.MaxResultWindow)
            {
                throw new IrisException(StatusCode.SearchInvalidRequest, $"The search matches {found.Total} inputs; one request adds at most {SearchesModule.MaxResultWindow}. Narrow it with filters.");
            }

            ids = [.. found.Hits.Select(h => h.InputId)];
            if (ids.Count == 0)
            {
                return new MultiDatasetInputResponse { Status = StatusWriter.Ok() };
            }
        }
        else
        {
            ids = request.DatasetInputs.Select(d => d.Input?.Id ?? string.Empty).ToList();
        }

        if (request.Search is null && (ids.Count is 0 or > MaxPerRequest || ids.Any(string.IsNullOrEmpty)))
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"dataset_inputs must name 1 to {MaxPerRequest} inputs by input.id.");
        }

        var added = await datasets.AddDatasetInputsAsync(app, request.DatasetId, ids, ct).ConfigureAwait(false);
        var missing = ids.Where(id => !added[id]).Distinct(StringComparer.Ordinal).ToList();
        var response = new MultiDatasetInputResponse
        {
            Status = missing.Count == 0 ? StatusWriter.Ok() : InputMapper.StatusOf(missing.Count == ids.Distinct(StringComparer.Ordinal).Count() ? StatusCode.Failure : StatusCode.MixedStatus,
                $"Not added (missing, being deleted or already in the dataset): {string.Join(", ", missing.Take(20))}{(missing.Count > 20 ? ", …" : string.Empty)}."),
        };
        var listed = await DatasetInputsAsync(app, ids.Where(id => added[id]).Distinct(StringComparer.Ordinal).ToList(), ct).ConfigureAwait(false);
        response.DatasetInputs.Add(listed.Select(i => new DatasetInput { Input = i, CreatedAt = i.CreatedAt }));
        return response;
    }

    private async Task<List<Input>> DatasetInputsAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        var rows = await inputs.ListInputsAsync(app, 1, ids.Count, null, ids, ct).ConfigureAwait(false);
        var levels = await inputs.InputLevelAnnotationsAsync(app, ids, ct).ConfigureAwait(false);
        var byId = rows.ToDictionary(r => r.Id, r => mapper.ToInput(app, r, levels.GetValueOrDefault(r.Id)), StringComparer.Ordinal);
        return [.. ids.Where(byId.ContainsKey).Select(id => byId[id])];
    }

    private async ValueTask<MultiDatasetInputResponse> ListInputsAsync(ListDatasetInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        await RequireAsync(app, request.DatasetId, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var links = await datasets.ListDatasetInputsAsync(app, request.DatasetId, page, perPage, ct).ConfigureAwait(false);
        var listed = await DatasetInputsAsync(app, links.Select(l => l.InputId).ToList(), ct).ConfigureAwait(false);
        var created = links.ToDictionary(l => l.InputId, l => l.CreatedAt, StringComparer.Ordinal);
        var response = new MultiDatasetInputResponse { Status = StatusWriter.Ok() };
        response.DatasetInputs.Add(listed.Select(i => new DatasetInput { Input = i, CreatedAt = InputMapper.Time(created[i.Id]) }));
        return response;
    }

    private async ValueTask<BaseResponse> DeleteInputsAsync(DeleteDatasetInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        await RequireAsync(app, request.DatasetId, ct).ConfigureAwait(false);
        if (request.InputIds.Count == 0)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, "input_ids must list the inputs to remove from the dataset.");
        }

        await datasets.DeleteDatasetInputsAsync(app, request.DatasetId, [.. request.InputIds], ct).ConfigureAwait(false);
        return new BaseResponse { Status = StatusWriter.Ok() };
    }

    private static DatasetVersion ToVersion(AppRef app, DatasetVersionRow row)
    {
        var v = DatasetVersion.Parser.ParseFrom(row.Body);
        v.Id = row.Id;
        v.DatasetId = row.DatasetId;
        v.AppId = app.AppId;
        v.UserId = app.UserId;
        v.CreatedAt = InputMapper.Time(row.CreatedAt);
        v.ModifiedAt = InputMapper.Time(row.ModifiedAt);
        v.Status = InputMapper.StatusOf((StatusCode)row.StatusCode, row.StatusDetails);
        return v;
    }

    private async ValueTask<MultiDatasetVersionResponse> PostVersionsAsync(PostDatasetVersionsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        await RequireAsync(app, request.DatasetId, ct).ConfigureAwait(false);
        if (request.DatasetVersions.Count is 0 or > MaxPerRequest)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"dataset_versions must contain 1 to {MaxPerRequest} versions; got {request.DatasetVersions.Count}.");
        }

        var now = time.GetUtcNow();
        var rows = new List<DatasetVersionRow>();
        foreach (var v in request.DatasetVersions)
        {
            var id = string.IsNullOrEmpty(v.Id) ? InputMapper.NewId() : v.Id;
            if (!Ids.IsValid(id) || rows.Any(r => r.Id == id))
            {
                throw new IrisException(StatusCode.ConnInvalidRequest, $"Dataset version id '{id}' is invalid or repeated.");
            }

            var body = new DatasetVersion { Description = v.Description, Metadata = v.Metadata, Visibility = v.Visibility };
            rows.Add(new DatasetVersionRow(request.DatasetId, id, body.ToByteArray(), (int)StatusCode.DatasetVersionPending, string.Empty, now, now));
        }

        var taken = await datasets.AddDatasetVersionsAsync(app, rows, ct).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw new IrisException(StatusCode.DatabaseDuplicateKey, $"Dataset version '{taken[0]}' already exists.");
        }

        workers.Wake();
        var response = new MultiDatasetVersionResponse { Status = StatusWriter.Ok() };
        response.DatasetVersions.Add(rows.Select(r => ToVersion(app, r)));
        return response;
    }

    private async ValueTask<SingleDatasetVersionResponse> GetVersionAsync(GetDatasetVersionRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var row = await datasets.GetDatasetVersionAsync(app, request.DatasetId, request.DatasetVersionId, ct).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ConnDoesNotExist, $"Dataset version '{request.DatasetVersionId}' of dataset '{request.DatasetId}' does not exist.");
        return new SingleDatasetVersionResponse { Status = StatusWriter.Ok(), DatasetVersion = ToVersion(app, row) };
    }

    private async ValueTask<MultiDatasetVersionResponse> ListVersionsAsync(ListDatasetVersionsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        await RequireAsync(app, request.DatasetId, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiDatasetVersionResponse { Status = StatusWriter.Ok() };
        response.DatasetVersions.Add((await datasets.ListDatasetVersionsAsync(app, request.DatasetId, page, perPage, ct).ConfigureAwait(false)).Select(r => ToVersion(app, r)));
        return response;
    }
}
