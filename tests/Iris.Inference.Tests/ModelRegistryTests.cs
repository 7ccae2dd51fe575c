using Clarifai.Api;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Predict;
using Iris.Inference.Registry;
using Iris.Inference.Training;
using Iris.Inference.Zoo;
using Iris.Storage;
using Iris.Storage.Db;
using Iris.Storage.Models;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Inference.Tests;

/// <summary>
/// The one model lookup on a real SQLite store: it says what it found for every state of a model's versions, so callers
/// answer 21200 / 21101 / 21102 / 99009 precisely instead of catching exceptions to learn that a model exists.
/// </summary>
public sealed class ModelRegistryTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("iris-registry-");
    private readonly AppRef _app = new("someone", "models");
    private SqliteDatabase _database = null!;
    private SqlModelStore _store = null!;
    private StoredModelRegistry _registry = null!;

    public async Task InitializeAsync()
    {
        _database = new SqliteDatabase(_dataDir.FullName);
        await _database.MigrateAsync(StorageAreas.Migrations, Ct);
        _store = new SqlModelStore(_database, TimeProvider.System);
        _registry = new StoredModelRegistry(new ModelZoo(), _store);
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        _dataDir.Delete(recursive: true);
    }

    [Fact]
    public async Task Built_ins_are_found_by_id_and_only_at_their_own_version()
    {
        var builtin = new GeneralEmbeddingModel().Descriptor;
        var found = await _registry.LookupAsync(_app, builtin.Id, null, Ct);
        Assert.Equal((ModelLookupState.Found, builtin.VersionId), (found.State, found.Model!.Descriptor.VersionId));
        Assert.Equal(ModelLookupState.Found, (await _registry.LookupAsync(_app, builtin.Id, builtin.VersionId, Ct)).State);

        var otherVersion = await _registry.LookupAsync(_app, builtin.Id, "0123", Ct);
        Assert.Equal(ModelLookupState.NoVersion, otherVersion.State);
        Assert.True(otherVersion.ModelExists);
        AssertStatus(StatusCode.ModelDoesNotExist, $"Model '{builtin.Id}' has no version '0123'.", otherVersion);

        var missing = await _registry.LookupAsync(_app, "no-such-model", null, Ct);
        Assert.False(missing.ModelExists);
        AssertStatus(StatusCode.ModelDoesNotExist, "Model does not exist", missing);
    }

    [Fact]
    public async Task Each_state_of_a_user_models_versions_is_told_apart()
    {
        await _store.AddModelsAsync(_app, [Model("m")], Ct);
        var none = await _registry.LookupAsync(_app, "m", null, Ct);
        AssertStatus(StatusCode.ModelUntrained, "Model 'm' has no version yet: create one with PostModelVersions to train it.", none);
        Assert.Equal(ModelLookupState.NoVersions, none.State);
        Assert.True(none.ModelExists);

        await _store.AddVersionAsync(_app, Version("m", "v1", 100, (int)StatusCode.ModelQueuedForTraining, "queued"), null, Ct);
        var queued = await _registry.LookupAsync(_app, "m", null, Ct);
        Assert.Equal(ModelLookupState.Training, queued.State);
        AssertStatus(StatusCode.ModelTraining, "Version 'v1' of model 'm' is still training (21103); poll GetModelVersion until 21100.", queued);
        Assert.Equal(ModelLookupState.Training, (await _registry.LookupAsync(_app, "m", "v1", Ct)).State);
        Assert.Equal(ModelLookupState.NoVersion, (await _registry.LookupAsync(_app, "m", "v9", Ct)).State);

        int[] final = [21100, 21111];
        Assert.True(await _store.SetVersionStatusAsync(_app, "m", "v1", 21111, "no positives for 'cat'", null, true, final, Ct));
        AssertStatus(StatusCode.ModelUntrained, "Version 'v1' of model 'm' is not trained: its training failed with 21111 (no positives for 'cat').",
            await _registry.LookupAsync(_app, "m", "v1", Ct));

        // Trained, with a head over the general embedder: runs; the latest trained version wins over a newer failed one.
        var head = new ClassifierHead(HeadKind.OneVsRest, 4, ["cat"], 1, new float[4], new float[1]).Encode();
        await _store.AddVersionAsync(_app, Version("m", "v2", 200, (int)StatusCode.ModelTrained, "trained", head), null, Ct);
        var trained = await _registry.LookupAsync(_app, "m", null, Ct);
        Assert.Equal((ModelLookupState.Found, "v2"), (trained.State, trained.Model!.Descriptor.VersionId));
        Assert.Equal(["cat"], trained.Model.Descriptor.Concepts.Select(c => c.Id).ToArray());

        // Trained, but its head is gone: not "does not exist" — the server cannot run it.
        await _store.AddVersionAsync(_app, Version("m", "v3", 300, (int)StatusCode.ModelTrained, "trained"), null, Ct);
        var headless = await _registry.LookupAsync(_app, "m", "v3", Ct);
        AssertStatus(StatusCode.InternalUncategorized,
            "Version 'v3' of model 'm' is trained but cannot run here: its trained head or its base embedder is missing from this server.", headless);
    }

    [Fact]
    public async Task A_lookup_is_cached_until_the_models_area_changes()
    {
        await _store.AddModelsAsync(_app, [Model("c")], Ct);
        Assert.Equal(ModelLookupState.NoVersions, (await _registry.LookupAsync(_app, "c", null, Ct)).State);
        await _store.AddVersionAsync(_app, Version("c", "v1", 100, (int)StatusCode.ModelQueuedForTraining, "queued"), null, Ct);
        Assert.Equal(ModelLookupState.Training, (await _registry.LookupAsync(_app, "c", null, Ct)).State);
    }

    private static void AssertStatus(StatusCode code, string details, ModelLookup lookup)
    {
        Assert.Null(lookup.Model);
        var error = Assert.Throws<IrisException>(() => lookup.Require());
        Assert.Equal((code, details), (error.Code, error.Details));
    }

    private static ModelRow Model(string id) => new(id, "embedding-classifier", new Model { Id = id }.ToByteArray(), 10, 10);

    private static ModelVersionRow Version(string model, string id, long at, int status, string details, byte[]? head = null)
    {
        var body = new ModelVersion
        {
            Id = id,
            OutputInfo = new OutputInfo { Data = new Data { Concepts = { new Concept { Id = "cat", Name = "Cat" } } } },
            InputInfo = new InputInfo { BaseEmbedModel = new Model { Id = new GeneralEmbeddingModel().Descriptor.Id } },
        };
        return new ModelVersionRow(model, id, status, details, body.ToByteArray(), null, head, at, at, 0);
    }
}
