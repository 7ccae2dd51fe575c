using Iris.Storage.Blobs;
using System.Globalization;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Fetching;
using Iris.Server.Api;
using Iris.Server.Seams;
using Iris.Server.Validation;
using Iris.Storage.Inputs;
using Iris.Storage.Workflows;

namespace Iris.Server.Inputs;

/// <summary>
/// Inputs (CLARIFAI_FACTS.md 4): PostInputs returns at once with every accepted input at 30001 and background workers
/// take it to 30000 or a failure status; reads hide inputs being deleted; deletion is asynchronous.
/// </summary>
internal sealed class InputsModule(IAppAccess access, IInputStore store, IBlobStore blobs, InputMapper mapper, IngestionWorkers workers, IngestionOptions options, IWorkflowStore workflows) : IApiModule
{
    /// <summary>Inputs per PostInputs / PatchInputs request (Clarifai's limit).</summary>
    public const int MaxInputsPerRequest = 128;

    /// <summary>Ids per DeleteInputs request ("Each request can have at most 128 ids", Clarifai's API changes page).</summary>
    public const int MaxDeleteIds = 128;

    public const string DuplicateIdDetails = "Input has a duplicate ID.";

    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostInputsRequest, MultiInputResponse>(nameof(V2.V2Base.PostInputs), PostInputsAsync);
        registry.Add<GetInputRequest, SingleInputResponse>(nameof(V2.V2Base.GetInput), GetInputAsync);
        registry.Add<ListInputsRequest, MultiInputResponse>(nameof(V2.V2Base.ListInputs), ListInputsAsync);
        registry.Add<StreamInputsRequest, MultiInputResponse>(nameof(V2.V2Base.StreamInputs), StreamInputsAsync);
        registry.Add<PatchInputsRequest, MultiInputResponse>(nameof(V2.V2Base.PatchInputs), PatchInputsAsync);
        registry.Add<GetInputCountRequest, SingleInputCountResponse>(nameof(V2.V2Base.GetInputCount), GetInputCountAsync);
        registry.Add<DeleteInputRequest, BaseResponse>(nameof(V2.V2Base.DeleteInput), DeleteInputAsync);
        registry.Add<DeleteInputsRequest, BaseResponse>(nameof(V2.V2Base.DeleteInputs), DeleteInputsAsync);
        registry.Add<GetInputsAddJobRequest, SingleInputsAddJobResponse>(nameof(V2.V2Base.GetInputsAddJob), GetAddJobAsync);
        registry.Add<ListInputsAddJobsRequest, MultiInputsAddJobResponse>(nameof(V2.V2Base.ListInputsAddJobs), ListAddJobsAsync);
        registry.Add<CancelInputsAddJobRequest, SingleInputsAddJobResponse>(nameof(V2.V2Base.CancelInputsAddJob), CancelAddJobAsync);
    }

    private async ValueTask<MultiInputResponse> PostInputsAsync(PostInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Inputs.Count == 0)
        {
            throw new IrisException(StatusCode.InputInvalidRequest, "inputs must contain at least one input.");
        }

        if (request.Inputs.Count > MaxInputsPerRequest)
        {
            throw new IrisException(StatusCode.InputInvalidRequest, $"At most {MaxInputsPerRequest} inputs per request; got {request.Inputs.Count}.");
        }

        var jobId = request.InputsAddJobId is { Length: > 0 } j ? j : null;
        if (jobId is not null && !Ids.IsValid(jobId))
        {
            throw new IrisException(StatusCode.InputInvalidRequest, "inputs_add_job_id must be 1 to 48 characters from A-Z, a-z, 0-9, '_' and '-'.");
        }

        var policy = request.InputIdConflictResolution == InputIDConflictResolution.Suffix ? IdConflictPolicy.Suffix : IdConflictPolicy.Skip;
        var outcomes = new Input[request.Inputs.Count];
        var accepted = new List<(int Index, NewInput Input, Data Echo)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Inputs.Count; i++)
        {
            var input = request.Inputs[i];
            try
            {
                var (newInput, echo) = await PrepareAsync(app, input, policy, seen, ct).ConfigureAwait(false);
                accepted.Add((i, newInput, echo));
            }
            catch (IrisException error)
            {
                // A per-input failure: that input is not stored, the others are (top-level 10010 / 10020).
                outcomes[i] = new Input { Id = input.Id, Data = Echo(input.Data), Status = StatusWriter.From(error) };
            }
        }

        var results = accepted.Count == 0 ? [] : await store.AddInputsAsync(app, accepted.Select(a => a.Input).ToList(), jobId, ct).ConfigureAwait(false);
        var unused = new List<string>();
        for (var k = 0; k < accepted.Count; k++)
        {
            var (index, newInput, echo) = accepted[k];
            var result = results[k];
            var input = new Input { Id = result.Id, Data = echo };
            switch (result.Outcome)
            {
                case AddOutcome.Added:
                    input.CreatedAt = InputMapper.Time(result.CreatedAt);
                    input.ModifiedAt = input.CreatedAt;
                    input.Status = InputMapper.StatusOf(StatusCode.InputPending);
                    break;
                case AddOutcome.DuplicateId:
                    input.Status = InputMapper.StatusOf(StatusCode.InputDuplicate, DuplicateIdDetails);
                    break;
                case AddOutcome.DuplicateUrl:
                    input.Status = InputMapper.StatusOf(StatusCode.InputDuplicate, $"Input has a duplicate URL: an input of this app already has {newInput.Url}; set allow_duplicate_url to add it again.");
                    break;
                default:
                    input.Status = InputMapper.StatusOf(StatusCode.ConnDoesNotExist, $"Dataset '{result.Detail}' does not exist in app '{app.AppId}'.");
                    break;
            }

            if (result.Outcome != AddOutcome.Added && newInput.SourceBlob is not null)
            {
                unused.Add(newInput.SourceBlob);
            }

            outcomes[index] = input;
        }

        if (unused.Count > 0)
        {
            await store.ReleaseBlobsAsync(unused, ct).ConfigureAwait(false);
        }

        if (results.Any(r => r.Outcome == AddOutcome.Added))
        {
            workers.Wake();
        }

        var failed = outcomes.Count(o => o.Status.Code != StatusCode.InputPending);
        var response = new MultiInputResponse
        {
            Status = failed == 0 ? StatusWriter.Ok() : InputMapper.StatusOf(failed == outcomes.Length ? StatusCode.Failure : StatusCode.MixedStatus,
                $"{failed} of {outcomes.Length} inputs were not added; see each input's status."),
        };
        response.Inputs.Add(outcomes);
        if (jobId is not null && await store.GetAddJobAsync(app, jobId, ct).ConfigureAwait(false) is { } job)
        {
            response.InputsAddJob = ToJob(job);
        }

        return response;
    }

    /// <summary>Validates one input and stores its uploaded bytes; throws the input's status when it cannot be added.</summary>
    private async Task<(NewInput Input, Data Echo)> PrepareAsync(AppRef app, Input input, IdConflictPolicy policy, HashSet<string> seen, CancellationToken ct)
    {
        var id = input.Id;
        if (string.IsNullOrEmpty(id))
        {
            id = InputMapper.NewId();
        }
        else if (Ids.Problem(id) is { } problem)
        {
            // Clarifai's text for a long id has no full stop and no id (CLARIFAI_FACTS.md 3.6).
            throw new IrisException(StatusCode.InputInvalidRequest, id.Length > Ids.MaxLength ? $"id {problem}" : $"id '{id}' {problem}.");
        }

        if (!seen.Add(id))
        {
            throw new IrisException(StatusCode.InputDuplicate, DuplicateIdDetails);
        }

        var data = input.Data ?? throw new IrisException(StatusCode.InputInvalidArgument, "The input has no data: set data.image (url or base64) or data.text.");
        if (data.Video is not null || data.Audio is not null)
        {
            throw new IrisException(StatusCode.InputUnsupportedFormat, "Iris stores image and text inputs; video and audio inputs are not supported.");
        }

        foreach (var datasetId in input.DatasetIds)
        {
            if (string.IsNullOrEmpty(datasetId))
            {
                throw new IrisException(StatusCode.InputInvalidRequest, "dataset_ids must not contain an empty id.");
            }
        }

        var annotation = InputMapper.AnnotationPart(app, data);
        var media = new Data();
        string kind;
        string? url = null;
        string? sourceBlob = null;
        var bytes = ReadOnlyMemory<byte>.Empty;
        var allowDuplicateUrl = true;
        if (data.Image is { } image)
        {
            if (HasCrop(image))
            {
                throw new IrisException(StatusCode.InputInvalidArgument, InputMapper.CropRefused);
            }

            kind = InputKinds.Image;
            var hasUrl = !string.IsNullOrEmpty(image.Url);
            var hasBytes = !image.Base64.IsEmpty;
            if (hasUrl == hasBytes)
            {
                throw new IrisException(StatusCode.InputInvalidArgument, hasUrl ? "Set either image.url or image.base64, not both." : "The image has neither url nor base64.");
            }

            if (hasUrl)
            {
                url = UrlFetcher.ParseUrl(image.Url).ToString();
                allowDuplicateUrl = image.AllowDuplicateUrl;
                media.Image = new Image { Url = image.Url, AllowDuplicateUrl = image.AllowDuplicateUrl };
            }
            else
            {
                if (image.Base64.Length > options.MaxImageBytes)
                {
                    throw new IrisException(StatusCode.InputOverLimit,
                        $"The image is {image.Base64.Length.ToString(CultureInfo.InvariantCulture)} bytes; the limit is {options.MaxImageBytes.ToString(CultureInfo.InvariantCulture)} bytes.");
                }

                bytes = image.Base64.Memory;
                sourceBlob = await blobs.PutAsync(bytes, ct).ConfigureAwait(false);
                media.Image = new Image();
            }
        }
        else if (data.Text is { } text)
        {
            kind = InputKinds.Text;
            if (!string.IsNullOrEmpty(text.Url))
            {
                throw new IrisException(StatusCode.InputUnsupportedFormat, "Text inputs by URL are not supported; send the text in text.raw.");
            }

            if (string.IsNullOrEmpty(text.Raw))
            {
                throw new IrisException(StatusCode.InputInvalidArgument, "The text input has no text.raw.");
            }

            if (System.Text.Encoding.UTF8.GetByteCount(text.Raw) > options.MaxImageBytes)
            {
                throw new IrisException(StatusCode.InputOverLimit, $"The text is larger than the limit of {options.MaxImageBytes.ToString(CultureInfo.InvariantCulture)} bytes.");
            }

            media.Text = new Text { Raw = text.Raw };
        }
        else
        {
            throw new IrisException(StatusCode.InputInvalidArgument, "The input has no data: set data.image (url or base64) or data.text.");
        }

        var echo = media.Clone();
        echo.Concepts.Add(annotation.Concepts);
        echo.Regions.Add(annotation.Regions);
        echo.Metadata = annotation.Metadata;
        echo.Geo = annotation.Geo;
        var newInput = new NewInput(id, kind, media.ToByteArray(), url, allowDuplicateUrl, sourceBlob, bytes, annotation.ToByteArray(), InputMapper.NewId(),
            InputMapper.Mentions(annotation), [.. input.DatasetIds], policy, InputMapper.QueryableOf(annotation));
        return (newInput, echo);
    }

    /// <summary>Over gRPC, image.crop arrives as unknown field 3 (reserved since crop was removed).</summary>
    private static bool HasCrop(Image image)
    {
        var probe = image.Clone();
        probe.Base64 = ByteString.Empty;
        probe.DecodedBytes = ByteString.Empty;
        var reader = new CodedInputStream(probe.ToByteArray());
        uint tag;
        while ((tag = reader.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 3)
            {
                return true;
            }

            reader.SkipLastField();
        }

        return false;
    }

    private static Data? Echo(Data? data)
    {
        if (data is null)
        {
            return null;
        }

        var echo = data.Clone();
        if (echo.Image is not null)
        {
            echo.Image.Base64 = ByteString.Empty;
        }

        return echo;
    }

    private async ValueTask<SingleInputResponse> GetInputAsync(GetInputRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var row = await store.GetInputAsync(app, request.InputId, ct).ConfigureAwait(false) ?? throw NotFound(app, request.InputId);
        var level = await store.InputLevelAnnotationsAsync(app, [row.Id], ct).ConfigureAwait(false);
        return new SingleInputResponse { Status = StatusWriter.Ok(), Input = mapper.ToInput(app, row, level.GetValueOrDefault(row.Id)) };
    }

    internal static IrisException NotFound(AppRef app, string inputId) =>
        new(StatusCode.ConnDoesNotExist, $"Input '{inputId}' does not exist in app '{app.AppId}'.");

    private async ValueTask<MultiInputResponse> ListInputsAsync(ListInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        int? status = request.Status is { Code: not 0 } s ? (int)s.Code : null;
        var rows = await store.ListInputsAsync(app, page, perPage, status, [.. request.Ids], ct).ConfigureAwait(false);
        return await ToResponseAsync(app, rows, ct).ConfigureAwait(false);
    }

    private async ValueTask<MultiInputResponse> StreamInputsAsync(StreamInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (_, perPage) = Paging.Read(1, request.PerPage, defaultPerPage: 20);
        var rows = await store.StreamInputsAsync(app, perPage, request.LastId, request.Descending, request.OrderById, ct).ConfigureAwait(false);
        return await ToResponseAsync(app, rows, ct).ConfigureAwait(false);
    }

    private async Task<MultiInputResponse> ToResponseAsync(AppRef app, IReadOnlyList<InputRow> rows, CancellationToken ct)
    {
        var levels = await store.InputLevelAnnotationsAsync(app, rows.Select(r => r.Id).ToList(), ct).ConfigureAwait(false);
        var response = new MultiInputResponse { Status = StatusWriter.Ok() };
        response.Inputs.Add(rows.Select(r => mapper.ToInput(app, r, levels.GetValueOrDefault(r.Id))));
        return response;
    }

    private async ValueTask<MultiInputResponse> PatchInputsAsync(PatchInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        var action = DataPatch.ParseAction(request.Action);
        if (request.Inputs.Count == 0 || request.Inputs.Count > MaxInputsPerRequest)
        {
            throw new IrisException(StatusCode.InputInvalidRequest, $"inputs must contain 1 to {MaxInputsPerRequest} inputs; got {request.Inputs.Count}.");
        }

        var rows = new List<InputRow>();
        foreach (var input in request.Inputs)
        {
            if (input.Data is { } d && (d.Image is not null || d.Text is not null || d.Video is not null || d.Audio is not null))
            {
                throw new IrisException(StatusCode.InputInvalidRequest,
                    $"Input '{input.Id}': only concepts, metadata, geo and regions of an input can be patched; add a new input to change its image or text.");
            }

            rows.Add(await store.GetInputAsync(app, input.Id, ct).ConfigureAwait(false) ?? throw NotFound(app, input.Id));
        }

        // Validate every patch before writing any, so a bad input leaves all unchanged.
        var levels = await store.InputLevelAnnotationsAsync(app, rows.Select(r => r.Id).ToList(), ct).ConfigureAwait(false);
        var patched = new List<NewAnnotation>();
        for (var i = 0; i < rows.Count; i++)
        {
            var current = levels.GetValueOrDefault(rows[i].Id) is { } level ? Data.Parser.ParseFrom(level.Data) : new Data();
            var patch = InputMapper.AnnotationPart(app, request.Inputs[i].Data ?? new Data());
            var result = DataPatch.Apply(action, current, patch);
            patched.Add(InputMapper.NewAnnotationOf(app, levels.GetValueOrDefault(rows[i].Id)?.Id ?? InputMapper.NewId(), rows[i].Id, result, inputLevel: true));
        }

        foreach (var annotation in patched)
        {
            await store.PutInputLevelAnnotationAsync(app, annotation, ct).ConfigureAwait(false);
        }

        var response = await ToResponseAsync(app, await store.ListInputsAsync(app, 1, rows.Count, null, rows.Select(r => r.Id).ToList(), ct).ConfigureAwait(false), ct).ConfigureAwait(false);
        var byId = response.Inputs.ToDictionary(x => x.Id, StringComparer.Ordinal);
        var ordered = rows.Select(r => byId[r.Id]).ToList();
        foreach (var input in ordered)
        {
            input.Status = InputMapper.StatusOf(StatusCode.InputModifySuccess);
        }

        response.Inputs.Clear();
        response.Inputs.Add(ordered);
        return response;
    }

    private async ValueTask<SingleInputCountResponse> GetInputCountAsync(GetInputCountRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var counts = await store.CountInputsAsync(app, ct).ConfigureAwait(false);
        // The reindex counters follow the last reindex after a change of the app's base workflow (PatchApps with reindex).
        var reindex = await workflows.CountReindexAsync(app, ct).ConfigureAwait(false);
        return new SingleInputCountResponse
        {
            Status = StatusWriter.Ok(),
            Counts = new InputCount
            {
                Processed = Clamp(counts.Processed),
                ToProcess = Clamp(counts.ToProcess),
                Processing = Clamp(counts.Processing),
                Errors = Clamp(counts.Errors),
                Reindexed = Clamp(reindex.Reindexed),
                ToReindex = Clamp(reindex.ToReindex),
                ReindexErrors = Clamp(reindex.Errors),
                Reindexing = Clamp(reindex.Reindexing),
            },
        };
    }

    private static uint Clamp(long n) => (uint)Math.Min(n, uint.MaxValue);

    private async ValueTask<BaseResponse> DeleteInputAsync(DeleteInputRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        await DeleteAsync(app, [request.InputId], ct).ConfigureAwait(false);
        return new BaseResponse { Status = StatusWriter.Ok() };
    }

    private async ValueTask<BaseResponse> DeleteInputsAsync(DeleteInputsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Ids.Count == 0)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, "ids must list the inputs to delete (there is no delete-all).");
        }

        if (request.Ids.Count > MaxDeleteIds)
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, $"At most {MaxDeleteIds} ids per DeleteInputs request; got {request.Ids.Count}.");
        }

        await DeleteAsync(app, [.. request.Ids], ct).ConfigureAwait(false);
        return new BaseResponse { Status = StatusWriter.Ok() };
    }

    /// <summary>Every id must exist (nothing is deleted otherwise); the inputs vanish from reads at once and are purged in the background.</summary>
    private async Task DeleteAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken ct)
    {
        foreach (var id in ids)
        {
            if (await store.GetInputAsync(app, id, ct).ConfigureAwait(false) is null)
            {
                throw NotFound(app, id);
            }
        }

        await store.MarkDeletingAsync(app, ids, ct).ConfigureAwait(false);
        workers.Wake();
    }

    private async ValueTask<SingleInputsAddJobResponse> GetAddJobAsync(GetInputsAddJobRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var job = await store.GetAddJobAsync(app, request.Id, ct).ConfigureAwait(false) ?? throw JobNotFound(app, request.Id);
        return new SingleInputsAddJobResponse { Status = StatusWriter.Ok(), InputsAddJob = ToJob(job) };
    }

    private async ValueTask<MultiInputsAddJobResponse> ListAddJobsAsync(ListInputsAddJobsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var (page, perPage) = Paging.Read(request.Page, request.PerPage);
        var response = new MultiInputsAddJobResponse { Status = StatusWriter.Ok() };
        response.InputsAddJobs.Add((await store.ListAddJobsAsync(app, page, perPage, ct).ConfigureAwait(false)).Select(ToJob));
        return response;
    }

    private async ValueTask<SingleInputsAddJobResponse> CancelAddJobAsync(CancelInputsAddJobRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (!await store.CancelAddJobAsync(app, request.Id, $"Not processed: inputs add job '{request.Id}' was cancelled.", ct).ConfigureAwait(false))
        {
            throw JobNotFound(app, request.Id);
        }

        var job = await store.GetAddJobAsync(app, request.Id, ct).ConfigureAwait(false) ?? throw JobNotFound(app, request.Id);
        return new SingleInputsAddJobResponse { Status = StatusWriter.Ok(), InputsAddJob = ToJob(job) };
    }

    private static IrisException JobNotFound(AppRef app, string id) => new(StatusCode.ConnDoesNotExist, $"Inputs add job '{id}' does not exist in app '{app.AppId}'.");

    private static InputsAddJob ToJob(AddJobRow job)
    {
        var code = job.Cancelled ? StatusCode.JobCancelled
            : job.InProgress > 0 ? StatusCode.JobRunning
            : job.Pending > 0 ? StatusCode.JobQueued
            : StatusCode.JobCompleted;
        return new InputsAddJob
        {
            Id = job.Id,
            CreatedAt = InputMapper.Time(job.CreatedAt),
            ModifiedAt = InputMapper.Time(job.ModifiedAt),
            Progress = new InputsAddJobProgress
            {
                PendingCount = (ulong)job.Pending,
                InProgressCount = (ulong)job.InProgress,
                SuccessCount = (ulong)job.Succeeded,
                FailedCount = (ulong)job.Failed,
            },
            Status = InputMapper.StatusOf(code),
        };
    }
}
