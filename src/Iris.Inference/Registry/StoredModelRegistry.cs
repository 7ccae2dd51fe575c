using System.Collections.Concurrent;
using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Inference.Predict;
using Iris.Inference.Training;
using Iris.Inference.Zoo;
using Iris.Storage.Models;

namespace Iris.Inference.Registry;

/// <summary>
/// The model registry: a user's model of the app first, then the built-ins of <c>clarifai/main</c> (by id or legacy
/// 32-hex id). A user's model runs its latest trained version, or the version asked for; a version that is not trained
/// is reported as such rather than "not found" (queued or training; untrained or failed, naming the failure), so callers
/// answer 21101 / 21102 precisely. Resolved versions are cached until the models area changes on any
/// node, so a predict on a trained model costs no database read.
/// </summary>
public sealed class StoredModelRegistry(ModelZoo zoo, IModelStore store) : IModelRegistry
{
    private readonly ConcurrentDictionary<(AppRef App, string ModelId, string VersionId), (long Change, ModelLookup Lookup)> _cache = new();

    public async ValueTask<ModelLookup> LookupAsync(AppRef app, string modelId, string? versionId, CancellationToken cancellationToken)
    {
        var key = (app, modelId, versionId ?? string.Empty);
        var change = store.ChangeVersion;
        if (_cache.TryGetValue(key, out var cached) && cached.Change == change)
        {
            return cached.Lookup;
        }

        var lookup = await ResolveAsync(app, modelId, versionId, cancellationToken).ConfigureAwait(false);
        if (_cache.Count > 10_000)
        {
            _cache.Clear();
        }

        _cache[key] = (change, lookup);
        return lookup;
    }

    private async ValueTask<ModelLookup> ResolveAsync(AppRef app, string modelId, string? versionId, CancellationToken cancellationToken)
    {
        var row = await store.GetModelAsync(app, modelId, cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return ZooModelRegistry.Builtin(zoo, modelId, versionId);
        }

        ModelVersionRow? version;
        if (string.IsNullOrEmpty(versionId))
        {
            version = await store.LatestVersionAsync(app, modelId, (int)StatusCode.ModelTrained, cancellationToken).ConfigureAwait(false);
            if (version is null)
            {
                var latest = await store.LatestVersionAsync(app, modelId, null, cancellationToken).ConfigureAwait(false);
                return latest is null
                    ? new ModelLookup(ModelLookupState.NoVersions, null, $"Model '{modelId}' has no version yet: create one with PostModelVersions to train it.")
                    : NotTrained(modelId, latest);
            }
        }
        else
        {
            version = await store.GetVersionAsync(app, modelId, versionId, cancellationToken).ConfigureAwait(false);
            if (version is null)
            {
                return new ModelLookup(ModelLookupState.NoVersion, null, $"Model '{modelId}' has no version '{versionId}'.");
            }

            if (version.StatusCode != (int)StatusCode.ModelTrained)
            {
                return NotTrained(modelId, version);
            }
        }

        return Build(app, row, version) is { } model
            ? ModelLookup.Of(model)
            : new ModelLookup(ModelLookupState.Unrunnable, null,
                $"Version '{version.Id}' of model '{modelId}' is trained but cannot run here: its trained head or its base embedder is missing from this server.");
    }

    /// <summary>The runnable model of a trained version (null when its head or base embedder is missing).</summary>
    public TrainedModel? Build(AppRef app, ModelRow row, ModelVersionRow version)
    {
        if (version.Head is null)
        {
            return null;
        }

        var model = Model.Parser.ParseFrom(row.Body);
        var body = ModelVersion.Parser.ParseFrom(version.Body);
        var (spec, _) = TrainingSpec.Read(body);
        if (spec is null || zoo.Find(spec.EmbedderId) is not { } embedder)
        {
            return null;
        }

        var head = ClassifierHead.Decode(version.Head);
        var names = spec.Concepts.ToDictionary(c => c.Id, c => c.Name, StringComparer.Ordinal);
#pragma warning disable CS0612 // Model.name is deprecated but still what the model reads show.
        var name = model.Name.Length > 0 ? model.Name : row.Id;
#pragma warning restore CS0612
        var descriptor = new ModelDescriptor
        {
            Owner = app,
            Id = row.Id,
            Name = name,
            TypeId = row.TypeId,
            VersionId = version.Id,
            Description = model.Description,
            License = body.License,
            SourcePackage = string.Empty,
            Notes = model.Notes,
            Concepts = head.ConceptIds.Select(id => new ConceptDef(id, names.GetValueOrDefault(id, id))).ToArray(),
            Networks = [],
            CreatedAt = Storage.Db.Clock.FromMicros(row.CreatedAt),
        };
        return new TrainedModel(descriptor, embedder, head);
    }

    private static ModelLookup NotTrained(string modelId, ModelVersionRow version) => version.StatusCode switch
    {
        (int)StatusCode.ModelQueuedForTraining or (int)StatusCode.ModelTraining => new(ModelLookupState.Training, null,
            $"Version '{version.Id}' of model '{modelId}' is still training ({version.StatusCode}); poll GetModelVersion until 21100."),
        (int)StatusCode.ModelUntrained => new(ModelLookupState.NotTrained, null, $"Version '{version.Id}' of model '{modelId}' is not trained."),
        _ => new(ModelLookupState.NotTrained, null,
            $"Version '{version.Id}' of model '{modelId}' is not trained: its training failed with {version.StatusCode} ({version.StatusDetails})."),
    };
}
