using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Training;
using Iris.Server.Api;
using Iris.Server.Seams;
using Iris.Server.Validation;
using Iris.Storage.Db;
using Iris.Storage.Models;

namespace Iris.Server.Models;

/// <summary>
/// Evaluation of trained versions (CLARIFAI_FACTS.md 5.5): k-fold cross-validation on the job runner, status
/// 21303 → 21301 → 21300 (or 21315 / 21316 / 21317). The legacy PostModelVersionMetrics / GetModelVersionMetrics show the
/// version's latest evaluation as <c>model_version.metrics</c>; PostEvaluations, PostModelVersionEvaluations and the
/// reads serve evaluations by id. Reads return the summary, and the heavy parts (binary metrics with curves, confusion
/// matrix, label counts, test set) when <c>fields</c> asks for them.
/// </summary>
internal sealed partial class ModelsModule
{
    private void RegisterEvaluations(HandlerRegistry registry)
    {
        registry.Add<PostModelVersionMetricsRequest, SingleModelVersionResponse>(nameof(V2.V2Base.PostModelVersionMetrics), PostModelVersionMetricsAsync);
        registry.Add<GetModelVersionMetricsRequest, SingleModelVersionResponse>(nameof(V2.V2Base.GetModelVersionMetrics), GetModelVersionMetricsAsync);
        registry.Add<PostEvaluationsRequest, MultiEvalMetricsResponse>(nameof(V2.V2Base.PostEvaluations), PostEvaluationsAsync);
        registry.Add<PostModelVersionEvaluationsRequest, MultiEvalMetricsResponse>(nameof(V2.V2Base.PostModelVersionEvaluations), PostModelVersionEvaluationsAsync);
        registry.Add<GetEvaluationRequest, SingleEvalMetricsResponse>(nameof(V2.V2Base.GetEvaluation), GetEvaluationAsync);
        registry.Add<GetModelVersionEvaluationRequest, SingleEvalMetricsResponse>(nameof(V2.V2Base.GetModelVersionEvaluation), GetModelVersionEvaluationAsync);
        registry.Add<ListEvaluationsRequest, MultiEvalMetricsResponse>(nameof(V2.V2Base.ListEvaluations), ListEvaluationsAsync);
        registry.Add<ListModelVersionEvaluationsRequest, MultiEvalMetricsResponse>(nameof(V2.V2Base.ListModelVersionEvaluations), ListModelVersionEvaluationsAsync);
    }

    private async ValueTask<SingleModelVersionResponse> PostModelVersionMetricsAsync(PostModelVersionMetricsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var evaluation = await StartEvaluationAsync(app, request.ModelId, request.VersionId, new EvalMetrics { EvalInfo = request.EvalInfo }, context.CancellationToken).ConfigureAwait(false);
        var version = await store.GetVersionAsync(app, request.ModelId, request.VersionId, context.CancellationToken).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{request.ModelId}' has no version '{request.VersionId}'.");
        var view = UserModelViews.Version(app, version, withConcepts: false);
        view.Metrics = Shown(evaluation, null);
        return new SingleModelVersionResponse { ModelVersion = view };
    }

    private async ValueTask<SingleModelVersionResponse> GetModelVersionMetricsAsync(GetModelVersionMetricsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var version = await store.GetVersionAsync(app, request.ModelId, request.VersionId, context.CancellationToken).ConfigureAwait(false)
            ?? throw VersionNotFound(request.ModelId, request.VersionId);
        var view = UserModelViews.Version(app, version, withConcepts: false);
        var latest = (await store.ListEvaluationsAsync(app, request.ModelId, request.VersionId, context.CancellationToken).ConfigureAwait(false)).FirstOrDefault();
        view.Metrics = latest is null
            ? new EvalMetrics { Status = new Clarifai.Api.Status.Status { Code = StatusCode.ModelNotEvaluated, Description = StatusCatalog.Describe(StatusCode.ModelNotEvaluated) } }
            : Shown(EvalMetrics.Parser.ParseFrom(latest.Body), request.Fields);
        return new SingleModelVersionResponse { ModelVersion = view };
    }

    private async ValueTask<MultiEvalMetricsResponse> PostEvaluationsAsync(PostEvaluationsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiEvalMetricsResponse();
        foreach (var sent in Require(request.EvalMetrics))
        {
            var modelId = sent.Model?.Id ?? string.Empty;
            var versionId = sent.Model?.ModelVersion?.Id ?? string.Empty;
            if (modelId.Length == 0 || versionId.Length == 0)
            {
                throw IrisException.InvalidRequest("Each evaluation names the model version it evaluates: eval_metrics[].model.id and eval_metrics[].model.model_version.id.");
            }

            response.EvalMetrics.Add(Shown(await StartEvaluationAsync(app, modelId, versionId, sent, context.CancellationToken).ConfigureAwait(false), null));
        }

        return response;
    }

    private async ValueTask<MultiEvalMetricsResponse> PostModelVersionEvaluationsAsync(PostModelVersionEvaluationsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiEvalMetricsResponse();
        var sentList = request.EvalMetrics.Count == 0 ? [new EvalMetrics()] : request.EvalMetrics.ToList();
        foreach (var sent in Require(sentList))
        {
            response.EvalMetrics.Add(Shown(await StartEvaluationAsync(app, request.ModelId, request.ModelVersionId, sent, context.CancellationToken).ConfigureAwait(false), null));
        }

        return response;
    }

    private async ValueTask<SingleEvalMetricsResponse> GetEvaluationAsync(GetEvaluationRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var row = await store.GetEvaluationAsync(app, request.EvaluationId, context.CancellationToken).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ConnDoesNotExist, $"evaluation '{request.EvaluationId}' not found. Check the url of your request.");
        return new SingleEvalMetricsResponse { EvalMetrics = Shown(EvalMetrics.Parser.ParseFrom(row.Body), request.Fields) };
    }

    private async ValueTask<SingleEvalMetricsResponse> GetModelVersionEvaluationAsync(GetModelVersionEvaluationRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var row = await store.GetEvaluationAsync(app, request.EvaluationId, context.CancellationToken).ConfigureAwait(false);
        if (row is null || row.ModelId != request.ModelId || row.VersionId != request.ModelVersionId)
        {
            throw new IrisException(StatusCode.ConnDoesNotExist, $"evaluation '{request.EvaluationId}' of version '{request.ModelVersionId}' not found. Check the url of your request.");
        }

        return new SingleEvalMetricsResponse { EvalMetrics = Shown(EvalMetrics.Parser.ParseFrom(row.Body), request.Fields) };
    }

    private async ValueTask<MultiEvalMetricsResponse> ListEvaluationsAsync(ListEvaluationsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var page = Paging.Read(request.Page, request.PerPage);
        var rows = await store.ListEvaluationsAsync(app, null, null, context.CancellationToken).ConfigureAwait(false);
        var evaluations = rows.Select(r => EvalMetrics.Parser.ParseFrom(r.Body))
            .Where(e => request.ShowFailedMetrics || e.Status.Code is StatusCode.ModelEvaluated or StatusCode.ModelEvaluating or StatusCode.ModelQueuedForEvaluation)
            .Where(e => request.ConceptIds.All(id => e.BinaryMetrics.Any(b => b.Concept?.Id == id)));
        var response = new MultiEvalMetricsResponse();
        response.EvalMetrics.AddRange(page.Of(evaluations).Select(e => Shown(e, null)));
        return response;
    }

    private async ValueTask<MultiEvalMetricsResponse> ListModelVersionEvaluationsAsync(ListModelVersionEvaluationsRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var page = Paging.Read(request.Page, request.PerPage);
        _ = await store.GetVersionAsync(app, request.ModelId, request.ModelVersionId, context.CancellationToken).ConfigureAwait(false)
            ?? throw VersionNotFound(request.ModelId, request.ModelVersionId);
        var rows = await store.ListEvaluationsAsync(app, request.ModelId, request.ModelVersionId, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiEvalMetricsResponse();
        response.EvalMetrics.AddRange(page.Of(rows).Select(r => Shown(EvalMetrics.Parser.ParseFrom(r.Body), null)));
        return response;
    }

    private static IReadOnlyList<EvalMetrics> Require(IReadOnlyList<EvalMetrics> sent) => sent.Count is 0 or > MaxModelsPerRequest
        ? throw IrisException.InvalidRequest($"Provide 1 to {MaxModelsPerRequest} evaluations in 'eval_metrics'; got {sent.Count}.")
        : sent;

    /// <summary>Stores a queued evaluation of a trained version of the app's model and queues its job.</summary>
    private async Task<EvalMetrics> StartEvaluationAsync(AppRef app, string modelId, string versionId, EvalMetrics sent, CancellationToken cancellationToken)
    {
        var version = await store.GetVersionAsync(app, modelId, versionId, cancellationToken).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{modelId}' has no version '{versionId}' in this app.");
        if (version.StatusCode != (int)StatusCode.ModelTrained)
        {
            throw new IrisException(StatusCode.ModelUntrained, $"Version '{versionId}' of model '{modelId}' is not trained ({version.StatusCode}); only a trained version can be evaluated.");
        }

        var id = sent.Id.Length > 0 ? sent.Id : NewId();
        Ids.Require("Evaluation id", id, IdKind.Resource, StatusCode.ModelInvalidArgument);
        var now = Clock.NowMicros(time);
        var queued = new EvalMetrics
        {
            Id = id,
            UserId = app.UserId,
            AppId = app.AppId,
            Model = new Model { Id = modelId, AppId = app.AppId, UserId = app.UserId, ModelVersion = new ModelVersion { Id = versionId } },
            EvalInfo = sent.EvalInfo,
            Status = new Clarifai.Api.Status.Status { Code = StatusCode.ModelQueuedForEvaluation, Description = StatusCatalog.Describe(StatusCode.ModelQueuedForEvaluation) },
        };
        var row = new EvaluationRow(id, modelId, versionId, (int)StatusCode.ModelQueuedForEvaluation, string.Empty, queued.ToByteArray(), now, now);
        if (await store.GetEvaluationAsync(app, id, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new IrisException(StatusCode.ModelInvalidArgument, $"An evaluation with id '{id}' already exists in this app.");
        }

        if (!await store.AddEvaluationAsync(app, row, EvaluationJob.JobKind, cancellationToken).ConfigureAwait(false))
        {
            throw new IrisException(StatusCode.ModelDoesNotExist, $"Model '{modelId}' has no version '{versionId}' in this app.");
        }

        signal.Wake(EvaluationJob.JobKind);
        return queued;
    }

    /// <summary>The summary always; binary metrics, confusion matrix, label counts and test set only when <paramref name="fields"/> asks.</summary>
    private static EvalMetrics Shown(EvalMetrics metrics, FieldsValue? fields)
    {
        var shown = metrics.Clone();
        shown.Status.Description = StatusCatalog.Describe(shown.Status.Code);
        if (fields?.BinaryMetrics != true)
        {
            shown.BinaryMetrics.Clear();
        }

        if (fields?.ConfusionMatrix != true)
        {
            shown.ConfusionMatrix = null;
        }

        if (fields?.LabelCounts != true)
        {
            shown.LabelCounts = null;
        }

        if (fields?.TestSet != true)
        {
            shown.TestSet.Clear();
        }

        return shown;
    }
}
