using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Zoo;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Inference.Predict;

/// <summary>
/// The one lookup from a model id (or Clarifai's legacy 32-hex id) and an optional version id to the model version that
/// runs, for predict, workflows, search and training. Ids resolve in the caller's app first, then among the built-in
/// public models of <c>clarifai/main</c>. Access rules are the caller's: the registry only finds, and says what it found
/// — the runnable model, or exactly why there is none — so each caller chooses the status it answers.
/// </summary>
public interface IModelRegistry
{
    /// <summary>
    /// What the registry holds for <paramref name="modelId"/> and <paramref name="versionId"/>; an empty version means the
    /// latest trained version.
    /// </summary>
    ValueTask<ModelLookup> LookupAsync(AppRef app, string modelId, string? versionId, CancellationToken cancellationToken);
}

/// <summary>Why a lookup found no runnable model, or that it found one.</summary>
public enum ModelLookupState
{
    /// <summary>The model version runs: <see cref="ModelLookup.Model"/> is set.</summary>
    Found,

    /// <summary>Neither the app nor the built-ins have the model.</summary>
    NoModel,

    /// <summary>The model exists, but not the version asked for.</summary>
    NoVersion,

    /// <summary>The model exists and has no version at all yet.</summary>
    NoVersions,

    /// <summary>The version (or the latest one, when none is trained) is queued or training.</summary>
    Training,

    /// <summary>The version (or the latest one, when none is trained) is untrained or its training failed.</summary>
    NotTrained,

    /// <summary>The version is trained but cannot be run here (its trained head or its base embedder is missing).</summary>
    Unrunnable,
}

/// <summary>
/// The outcome of <see cref="IModelRegistry.LookupAsync"/>: the model when <see cref="State"/> is
/// <see cref="ModelLookupState.Found"/>, else the reason in words (naming the version and its state).
/// </summary>
public sealed record ModelLookup(ModelLookupState State, IImageModel? Model, string Reason)
{
    public static ModelLookup Of(IImageModel model) => new(ModelLookupState.Found, model, string.Empty);

    public static readonly ModelLookup NoModel = new(ModelLookupState.NoModel, null, "Model does not exist");

    /// <summary>Whether the model exists, whatever the state of its versions.</summary>
    public bool ModelExists => State != ModelLookupState.NoModel;

    /// <summary>
    /// The model, or the status a predict-like caller answers when there is none: 21200 when the model or version does
    /// not exist, 21101 while training, 21102 when untrained or failed, 99009 when a trained version cannot run here.
    /// </summary>
    public IImageModel Require() => Model ?? throw ToException(string.Empty);

    /// <summary>The status for a missing model as <see cref="Require"/> answers it, with <paramref name="prefix"/> (e.g. the node) before the reason.</summary>
    public IrisException ToException(string prefix) => new(State switch
    {
        ModelLookupState.NoModel or ModelLookupState.NoVersion => StatusCode.ModelDoesNotExist,
        ModelLookupState.Training => StatusCode.ModelTraining,
        ModelLookupState.NoVersions or ModelLookupState.NotTrained => StatusCode.ModelUntrained,
        ModelLookupState.Unrunnable => StatusCode.InternalUncategorized,
        _ => throw new InvalidOperationException("The model was found."),
    }, prefix + Reason);
}

/// <summary>The registry over the built-in models only (tests and tools without a model store).</summary>
public sealed class ZooModelRegistry(ModelZoo zoo) : IModelRegistry
{
    public ValueTask<ModelLookup> LookupAsync(AppRef app, string modelId, string? versionId, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Builtin(zoo, modelId, versionId));

    /// <summary>The built-in <paramref name="modelId"/> at <paramref name="versionId"/> (its only version; empty = that one).</summary>
    public static ModelLookup Builtin(ModelZoo zoo, string modelId, string? versionId)
    {
        if (zoo.Find(modelId) is not { } model)
        {
            return ModelLookup.NoModel;
        }

        return string.IsNullOrEmpty(versionId) || string.Equals(versionId, model.Descriptor.VersionId, StringComparison.Ordinal)
            ? ModelLookup.Of(model)
            : new ModelLookup(ModelLookupState.NoVersion, null, $"Model '{modelId}' has no version '{versionId}'.");
    }
}
