using Iris.Core.Apps;
using Iris.Storage.Jobs;
using Iris.Storage.Models;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// The models area on each backend: unique ids, renames and deletes that carry versions and evaluations, a version and
/// its training job written together, a finished training never overwritten, the app's lifecycle, and the change
/// version that caches of resolved versions key on.
/// </summary>
public abstract class ModelStoreTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private SqlModelStore Models => new(Db, Time);

    private static ModelRow Model(string id) => new(id, "embedding-classifier", [1, 2, 3], 10, 10);

    private static ModelVersionRow Version(string model, string id, long at, int status = 21103) =>
        new(model, id, status, "queued", [4], TrainingLabels.Encode([new TrainingLabel("in-1", "cat", 1), new TrainingLabel("in-2", "cat", 0)]), null, at, at, 0);

    [Fact]
    public async Task Model_ids_are_unique_per_app_and_adds_are_all_or_nothing()
    {
        var app = NewApp();
        Assert.Empty(await Models.AddModelsAsync(app, [Model("a"), Model("b")], Ct));
        Assert.Equal(["a"], await Models.AddModelsAsync(app, [Model("c"), Model("a")], Ct));
        Assert.Null(await Models.GetModelAsync(app, "c", Ct));
        Assert.Equal(["a", "b"], (await Models.ListModelsAsync(app, Ct)).Select(m => m.Id).ToArray());
        Assert.Empty(await Models.AddModelsAsync(NewApp(), [Model("a")], Ct));
        Assert.Equal([1, 2, 3], (await Models.GetModelAsync(app, "a", Ct))!.Body);
    }

    [Fact]
    public async Task A_version_and_its_training_job_are_written_together_and_a_finished_training_stays()
    {
        var app = NewApp();
        await Models.AddModelsAsync(app, [Model("m")], Ct);
        Assert.False(await Models.AddVersionAsync(app, Version("missing", "v0", 1), "train_model", Ct));
        var jobs = await new JobQueue(Db, Time).CountAsync("train_model", Ct);
        Assert.True(await Models.AddVersionAsync(app, Version("m", "v1", 100), "train_model", Ct));
        Assert.True(await Models.AddVersionAsync(app, Version("m", "v2", 200), "train_model", Ct));
        Assert.Equal(jobs + 2, await new JobQueue(Db, Time).CountAsync("train_model", Ct));

        Assert.Equal(["v2", "v1"], (await Models.ListVersionsAsync(app, "m", Ct)).Select(v => v.Id).ToArray());
        Assert.Null(await Models.LatestVersionAsync(app, "m", 21100, Ct));
        var frozen = TrainingLabels.Decode((await Models.GetVersionAsync(app, "m", "v1", Ct))!.TrainSet!);
        Assert.Equal([new TrainingLabel("in-1", "cat", 1), new TrainingLabel("in-2", "cat", 0)], frozen);

        int[] final = [21100, 21110];
        Assert.True(await Models.SetVersionStatusAsync(app, "m", "v1", 21101, "training", null, false, final, Ct));
        Assert.True(await Models.SetVersionStatusAsync(app, "m", "v1", 21100, "done", [9, 9], true, final, Ct));
        Assert.False(await Models.SetVersionStatusAsync(app, "m", "v1", 21101, "late attempt", null, false, final, Ct));
        var v1 = (await Models.GetVersionAsync(app, "m", "v1", Ct))!;
        Assert.Equal((21100, "done"), (v1.StatusCode, v1.StatusDetails));
        Assert.Equal([9, 9], v1.Head);
        Assert.True(v1.CompletedAt > 0);
        Assert.Equal("v1", (await Models.LatestVersionAsync(app, "m", 21100, Ct))!.Id);
        Assert.Equal("v2", (await Models.LatestVersionAsync(app, "m", null, Ct))!.Id);

        Assert.True(await Models.UpdateVersionBodyAsync(app, "m", "v1", [7], Ct));
        Assert.Equal(21100, (await Models.GetVersionAsync(app, "m", "v1", Ct))!.StatusCode);
        Assert.True(await Models.DeleteVersionAsync(app, "m", "v2", Ct));
        Assert.False(await Models.DeleteVersionAsync(app, "m", "v2", Ct));
    }

    [Fact]
    public async Task Renames_and_deletes_carry_versions_and_evaluations()
    {
        var app = NewApp();
        await Models.AddModelsAsync(app, [Model("old"), Model("other")], Ct);
        await Models.AddVersionAsync(app, Version("old", "v1", 1, 21100), null, Ct);
        Assert.True(await Models.AddEvaluationAsync(app, new EvaluationRow("e1", "old", "v1", 21303, "", [1], 1, 1), "evaluate_model", Ct));
        Assert.False(await Models.AddEvaluationAsync(app, new EvaluationRow("e2", "old", "nope", 21303, "", [1], 1, 1), "evaluate_model", Ct));

        Assert.Equal(RenameOutcome.Taken, await Models.RenameModelAsync(app, "old", "other", Ct));
        Assert.Equal(RenameOutcome.Missing, await Models.RenameModelAsync(app, "none", "x", Ct));
        Assert.Equal(RenameOutcome.Renamed, await Models.RenameModelAsync(app, "old", "new", Ct));
        Assert.Equal("v1", Assert.Single(await Models.ListVersionsAsync(app, "new", Ct)).Id);
        Assert.Equal("new", (await Models.GetEvaluationAsync(app, "e1", Ct))!.ModelId);
        Assert.Equal(["e1"], (await Models.ListEvaluationsAsync(app, "new", "v1", Ct)).Select(e => e.Id).ToArray());
        Assert.True(await Models.SetEvaluationAsync(app, "e1", 21300, "", [5], Ct));
        Assert.Equal(21300, (await Models.GetEvaluationAsync(app, "e1", Ct))!.StatusCode);

        Assert.Equal(["new"], await Models.DeleteModelsAsync(app, ["new", "missing"], Ct));
        Assert.Empty(await Models.ListVersionsAsync(app, "new", Ct));
        Assert.Null(await Models.GetEvaluationAsync(app, "e1", Ct));
    }

    [Fact]
    public async Task The_apps_lifecycle_moves_or_purges_its_models_and_every_write_moves_the_change_version()
    {
        var app = NewApp();
        var before = Models.ChangeVersion;
        await Models.AddModelsAsync(app, [Model("m")], Ct);
        await Models.AddVersionAsync(app, Version("m", "v1", 1), null, Ct);
        Assert.NotEqual(before, Models.ChangeVersion);

        var moved = new AppRef(app.UserId, app.AppId + "-renamed");
        await Models.RenameAppAsync(app, moved, Ct);
        Assert.Null(await Models.GetModelAsync(app, "m", Ct));
        Assert.NotNull(await Models.GetVersionAsync(moved, "m", "v1", Ct));
        await Models.PurgeAppAsync(moved, Ct);
        Assert.Empty(await Models.ListModelsAsync(moved, Ct));
        Assert.Null(await Models.GetVersionAsync(moved, "m", "v1", Ct));
    }
}

public sealed class SqliteModelStoreTests(StoreFixture<SqliteBackend> fixture)
    : ModelStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresModelStoreTests(StoreFixture<PostgresBackend> fixture)
    : ModelStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
