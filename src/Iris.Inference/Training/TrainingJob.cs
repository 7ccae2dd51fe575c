using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Inference.Zoo;
using Iris.Storage.Jobs;
using Iris.Storage.Models;
using Iris.Storage.Vectors;
using Task = System.Threading.Tasks.Task;

namespace Iris.Inference.Training;

/// <summary>
/// Trains an embedding-classifier version on the job runner (target <c>model_id/version_id</c>): 21103 (queued) →
/// 21101 (training) → 21100 with the head stored, or a precise failure with details (21110 no data, 21111 no positives,
/// 21117 insufficient data, 21118 invalid params). Reads only the labels frozen when the version was created and the
/// base embedder's stored embeddings. Idempotent: a version already finished is left as it is.
/// </summary>
public sealed class TrainingJob(IModelStore store, ITrainingData data, ModelZoo zoo, EnrichmentNegatives enrichment) : IJobHandler
{
    public const string JobKind = "train_model";

    /// <summary>Statuses a version keeps once it has them: every one but queued and training.</summary>
    public static readonly IReadOnlyCollection<int> Final =
    [
        (int)StatusCode.ModelTrained, (int)StatusCode.ModelUntrained, (int)StatusCode.ModelTrainingFailed, (int)StatusCode.ModelTrainingNoData,
        (int)StatusCode.ModelTrainingNoPositives, (int)StatusCode.ModelTrainingOneVsNSingleClass, (int)StatusCode.ModelTrainingInsufficientData,
        (int)StatusCode.ModelTrainingInvalidParams, (int)StatusCode.ModelTrainingUnknownError,
    ];

    public string Kind => JobKind;

    public int Concurrency => 1;

    public int MaxAttempts => 3;

    public async Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken)
    {
        var (modelId, versionId) = Split(job.Target);
        var version = await store.GetVersionAsync(job.App, modelId, versionId, cancellationToken).ConfigureAwait(false);
        if (version is null || Final.Contains(version.StatusCode))
        {
            return true;
        }

        if (!await store.SetVersionStatusAsync(job.App, modelId, versionId, (int)StatusCode.ModelTraining, "Training.", null, false, Final, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        var outcome = await TrainAsync(job, version, cancellationToken).ConfigureAwait(false);
        await store.SetVersionStatusAsync(job.App, modelId, versionId, (int)outcome.Code, outcome.Details, outcome.Head?.Encode(), true, Final, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task GiveUpAsync(Job job, CancellationToken cancellationToken)
    {
        var (modelId, versionId) = Split(job.Target);
        await store.SetVersionStatusAsync(job.App, modelId, versionId, (int)StatusCode.ModelTrainingFailed,
            $"Training failed {job.Attempts} times with an internal error; create a new version to try again.", null, true, Final, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TrainingOutcome> TrainAsync(Job job, ModelVersionRow version, CancellationToken cancellationToken)
    {
        var (spec, problem) = TrainingSpec.Read(ModelVersion.Parser.ParseFrom(version.Body));
        if (spec is null)
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingInvalidParams, problem!);
        }

        if (zoo.Find(spec.EmbedderId) is not { } embedder)
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingInvalidParams, $"The base embedder '{spec.EmbedderId}' is not a model of clarifai/main.");
        }

        var labels = version.TrainSet is null ? [] : TrainingLabels.Decode(version.TrainSet);
        var ids = labels.Select(l => l.InputId).ToHashSet(StringComparer.Ordinal);
        var embeddings = await data.EmbeddingsAsync(job.App, embedder.Descriptor.VersionId, ids, cancellationToken).ConfigureAwait(false);
        var negatives = spec.Enrich == Enrichment.Automatic ? await enrichment.ForAsync(embedder, cancellationToken).ConfigureAwait(false) : [];
        return await Task.Run(() => EmbeddingClassifierTrainer.Train(spec, labels, embeddings, negatives, null, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static (string ModelId, string VersionId) Split(string target)
    {
        var slash = target.LastIndexOf('/');
        return (target[..slash], target[(slash + 1)..]);
    }
}
