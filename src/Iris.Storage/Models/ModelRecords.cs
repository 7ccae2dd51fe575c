using System.Text;
using Iris.Core.Apps;

namespace Iris.Storage.Models;

/// <summary>A user's model. <paramref name="Body"/> holds the model-level fields the API edge serializes (a <c>Model</c> message).</summary>
public sealed record ModelRow(string Id, string TypeId, byte[] Body, long CreatedAt, long ModifiedAt);

/// <summary>
/// One version of a user's model. <paramref name="Body"/>: the version fields the API edge serializes (a
/// <c>ModelVersion</c> message without status and times). <paramref name="TrainSet"/>: the labels of the inputs that
/// were processed when the version was created (<see cref="TrainingLabels"/>), null for versions that do not train.
/// <paramref name="Head"/>: the trained classifier, null until training succeeds.
/// </summary>
public sealed record ModelVersionRow(
    string ModelId,
    string Id,
    int StatusCode,
    string StatusDetails,
    byte[] Body,
    byte[]? TrainSet,
    byte[]? Head,
    long CreatedAt,
    long ModifiedAt,
    long CompletedAt);

/// <summary>An evaluation of a model version; <paramref name="Body"/> holds its metrics as the API edge serializes them.</summary>
public sealed record EvaluationRow(string Id, string ModelId, string VersionId, int StatusCode, string StatusDetails, byte[] Body, long CreatedAt, long ModifiedAt);

/// <summary>An input-level concept label of a processed input: <paramref name="Value"/> 1 positive, 0 negative.</summary>
public readonly record struct TrainingLabel(string InputId, string ConceptId, float Value);

/// <summary>The compact encoding of a version's frozen labels (count, then input id, concept id, value per label; UTF-8).</summary>
public static class TrainingLabels
{
    public static byte[] Encode(IReadOnlyList<TrainingLabel> labels)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(labels.Count);
            foreach (var label in labels)
            {
                writer.Write(label.InputId);
                writer.Write(label.ConceptId);
                writer.Write(label.Value);
            }
        }

        return stream.ToArray();
    }

    public static IReadOnlyList<TrainingLabel> Decode(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        var count = reader.ReadInt32();
        var labels = new TrainingLabel[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = new TrainingLabel(reader.ReadString(), reader.ReadString(), reader.ReadSingle());
        }

        return labels;
    }
}

/// <summary>
/// Users' models, their versions and evaluations, keyed by app. Creating a version that trains queues its training job
/// in the same transaction, so the job exists exactly when the version does.
/// </summary>
public interface IModelStore
{
    /// <summary>A number that changes whenever any node may have changed the models area (caches of resolved versions key on it).</summary>
    long ChangeVersion { get; }

    /// <summary>Adds models atomically; returns the ids already taken (nothing is written then).</summary>
    Task<IReadOnlyList<string>> AddModelsAsync(AppRef app, IReadOnlyList<ModelRow> models, CancellationToken cancellationToken);

    Task<ModelRow?> GetModelAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Every model of the app (the API pages them together with the built-ins).</summary>
    Task<IReadOnlyList<ModelRow>> ListModelsAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>Replaces a model's body; false when it does not exist.</summary>
    Task<bool> UpdateModelAsync(AppRef app, string id, byte[] body, CancellationToken cancellationToken);

    /// <summary>Renames a model with its versions and evaluations: the outcome for the pair.</summary>
    Task<RenameOutcome> RenameModelAsync(AppRef app, string from, string to, CancellationToken cancellationToken);

    /// <summary>Deletes models with their versions and evaluations; returns the ids that existed.</summary>
    Task<IReadOnlyList<string>> DeleteModelsAsync(AppRef app, IReadOnlyList<string> ids, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a version of an existing model; when <paramref name="jobKind"/> is set, queues that job (target
    /// <c>model_id/version_id</c>) in the same transaction. False when the model does not exist.
    /// </summary>
    Task<bool> AddVersionAsync(AppRef app, ModelVersionRow version, string? jobKind, CancellationToken cancellationToken);

    Task<ModelVersionRow?> GetVersionAsync(AppRef app, string modelId, string id, CancellationToken cancellationToken);

    /// <summary>The model's versions, newest first (with their heads).</summary>
    Task<IReadOnlyList<ModelVersionRow>> ListVersionsAsync(AppRef app, string modelId, CancellationToken cancellationToken);

    /// <summary>The newest version with status <paramref name="statusCode"/>, or null.</summary>
    Task<ModelVersionRow?> LatestVersionAsync(AppRef app, string modelId, int? statusCode, CancellationToken cancellationToken);

    /// <summary>Replaces a version's body (its status is kept); false when it does not exist.</summary>
    Task<bool> UpdateVersionBodyAsync(AppRef app, string modelId, string id, byte[] body, CancellationToken cancellationToken);

    /// <summary>
    /// Moves a version to <paramref name="statusCode"/> unless its status is already one of <paramref name="finalCodes"/>
    /// (a finished training is never overwritten by a late attempt); stores <paramref name="head"/> when given. False when
    /// the version is gone or already final.
    /// </summary>
    Task<bool> SetVersionStatusAsync(AppRef app, string modelId, string id, int statusCode, string details, byte[]? head, bool completed,
        IReadOnlyCollection<int> finalCodes, CancellationToken cancellationToken);

    /// <summary>Deletes a version with its evaluations; false when it did not exist.</summary>
    Task<bool> DeleteVersionAsync(AppRef app, string modelId, string id, CancellationToken cancellationToken);

    /// <summary>Adds an evaluation and queues <paramref name="jobKind"/> (target: the evaluation id) in the same transaction.</summary>
    Task<bool> AddEvaluationAsync(AppRef app, EvaluationRow evaluation, string jobKind, CancellationToken cancellationToken);

    Task<EvaluationRow?> GetEvaluationAsync(AppRef app, string id, CancellationToken cancellationToken);

    /// <summary>Evaluations of the app, or of one model / version, newest first.</summary>
    Task<IReadOnlyList<EvaluationRow>> ListEvaluationsAsync(AppRef app, string? modelId, string? versionId, CancellationToken cancellationToken);

    /// <summary>Stores an evaluation's state and body; false when it is gone.</summary>
    Task<bool> SetEvaluationAsync(AppRef app, string id, int statusCode, string details, byte[] body, CancellationToken cancellationToken);

    /// <summary>DeleteApp: every model, version and evaluation of the app goes.</summary>
    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>PatchAppsIds: the app's rows move to its new id.</summary>
    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);
}

public enum RenameOutcome
{
    Renamed,
    Missing,
    Taken,
}
