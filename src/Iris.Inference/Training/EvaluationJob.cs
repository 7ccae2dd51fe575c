using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Inference.Zoo;
using Iris.Storage.Jobs;
using Iris.Storage.Models;
using Iris.Storage.Vectors;
using Task = System.Threading.Tasks.Task;

namespace Iris.Inference.Training;

/// <summary>
/// Runs an evaluation (target: its id) on the job runner: 21303 (queued) → 21301 (evaluating) → 21300 with the metrics,
/// or 21315 / 21316 / 21317 with details. Idempotent: a finished evaluation is left as it is.
/// </summary>
public sealed class EvaluationJob(IModelStore store, ITrainingData data, ModelZoo zoo, EnrichmentNegatives enrichment) : IJobHandler
{
    public const string JobKind = "evaluate_model";

    public string Kind => JobKind;

    public int Concurrency => 1;

    public int MaxAttempts => 3;

    public async Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken)
    {
        var evaluation = await store.GetEvaluationAsync(job.App, job.Target, cancellationToken).ConfigureAwait(false);
        if (evaluation is null || evaluation.StatusCode is not ((int)StatusCode.ModelQueuedForEvaluation or (int)StatusCode.ModelEvaluating))
        {
            return true;
        }

        var body = EvalMetrics.Parser.ParseFrom(evaluation.Body);
        await SaveAsync(job, body, StatusCode.ModelEvaluating, "Evaluating.", cancellationToken).ConfigureAwait(false);
        var result = await EvaluateAsync(job, evaluation, cancellationToken).ConfigureAwait(false);
        result.Id = body.Id;
        result.Model = body.Model;
        result.UserId = body.UserId;
        result.AppId = body.AppId;
        result.EvalInfo = body.EvalInfo;
        await SaveAsync(job, result, result.Status.Code, result.Status.Details, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task GiveUpAsync(Job job, CancellationToken cancellationToken)
    {
        if (await store.GetEvaluationAsync(job.App, job.Target, cancellationToken).ConfigureAwait(false) is { } evaluation)
        {
            await SaveAsync(job, EvalMetrics.Parser.ParseFrom(evaluation.Body), StatusCode.ModelEvaluationFailed,
                $"Evaluation failed {job.Attempts} times with an internal error.", cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SaveAsync(Job job, EvalMetrics body, StatusCode code, string details, CancellationToken cancellationToken)
    {
        body.Status = new Clarifai.Api.Status.Status { Code = code, Description = Iris.Core.Errors.StatusCatalog.Describe(code), Details = details };
        await store.SetEvaluationAsync(job.App, job.Target, (int)code, details, body.ToByteArray(), cancellationToken).ConfigureAwait(false);
    }

    private async Task<EvalMetrics> EvaluateAsync(Job job, EvaluationRow evaluation, CancellationToken cancellationToken)
    {
        var version = await store.GetVersionAsync(job.App, evaluation.ModelId, evaluation.VersionId, cancellationToken).ConfigureAwait(false);
        if (version is null || version.StatusCode != (int)StatusCode.ModelTrained)
        {
            return Failed($"Version '{evaluation.VersionId}' of model '{evaluation.ModelId}' is not trained.");
        }

        var (spec, problem) = TrainingSpec.Read(ModelVersion.Parser.ParseFrom(version.Body));
        if (spec is null || zoo.Find(spec.EmbedderId) is not { } embedder)
        {
            return Failed(problem ?? "The version's base embedder is not a model of clarifai/main.");
        }

        var labels = version.TrainSet is null ? [] : TrainingLabels.Decode(version.TrainSet);
        var embeddings = await data.EmbeddingsAsync(job.App, embedder.Descriptor.VersionId, labels.Select(l => l.InputId).ToHashSet(StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);
        var negatives = spec.Enrich == Enrichment.Automatic ? await enrichment.ForAsync(embedder, cancellationToken).ConfigureAwait(false) : [];
        return await Task.Run(() => CrossValidation.Evaluate(spec, labels, embeddings, negatives, CrossValidation.DefaultFolds, null, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static EvalMetrics Failed(string details) => new()
    {
        Status = new Clarifai.Api.Status.Status { Code = StatusCode.ModelEvaluationFailed, Details = details },
    };
}
