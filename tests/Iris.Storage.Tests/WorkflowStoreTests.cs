using Iris.Core.Apps;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;
using Iris.Storage.Workflows;

namespace Iris.Storage.Tests;

/// <summary>
/// The workflow store: creation is all or nothing and an id exists once (also when two writers race), a new version
/// becomes the latest, a workflow keeps its last version, renames move the versions, reindex state is counted per app
/// and queued with its jobs, and DeleteApp / PatchAppsIds reach every row.
/// </summary>
public abstract class WorkflowStoreTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private readonly AppRef _app = NewApp();

    private SqlWorkflowStore Workflows => new(Db);

    private static StoredWorkflow Make(AppRef app, string id, string nodes = """{"nodes":[{"id":"n"}]}""") => new(
        new WorkflowRecord(app, id, "d", "n", string.Empty, 10, ["a", "b"], 1, 1),
        new WorkflowVersionRecord(id, "v-" + id, 0, nodes, "d", string.Empty, string.Empty, 10, 1, 1));

    [Fact]
    public async Task Creation_is_all_or_nothing_and_reads_back()
    {
        Assert.Null(await Workflows.CreateAsync([Make(_app, "one")], Ct));
        Assert.Equal("one", await Workflows.CreateAsync([Make(_app, "two"), Make(_app, "one")], Ct));
        Assert.Null(await Workflows.FindAsync(_app, "two", Ct));

        var found = await Workflows.FindAsync(_app, "one", Ct);
        Assert.NotNull(found);
        Assert.Equal(("one", "v-one", 1L), (found.Workflow.Id, found.Latest.Id, found.Latest.Seq));
        Assert.Equal(["a", "b"], found.Workflow.UseCases);
        Assert.Null(await Workflows.FindAsync(NewApp(), "one", Ct));
    }

    [Fact]
    public async Task Racing_creators_of_one_id_leave_one_workflow()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            Task.Run(() => new SqlWorkflowStore(Open()).CreateAsync([Make(_app, "race") with { Latest = Make(_app, "race").Latest with { Id = "v" + i } }], Ct))));
        Assert.Single(results, r => r is null);
        Assert.Single(await Workflows.ListVersionsAsync(_app, "race", Ct));
    }

    [Fact]
    public async Task A_new_version_is_the_latest_and_the_last_version_stays()
    {
        await Workflows.CreateAsync([Make(_app, "w")], Ct);
        var current = (await Workflows.FindAsync(_app, "w", Ct))!;
        var v2 = current.Latest with { Id = "v2", NodesJson = """{"nodes":[{"id":"m"}]}""" };
        Assert.True(await Workflows.UpdateAsync(current.Workflow with { Description = "new" }, v2, Ct));
        var updated = (await Workflows.FindAsync(_app, "w", Ct))!;
        Assert.Equal(("new", "v2", 2L), (updated.Workflow.Description, updated.Latest.Id, updated.Latest.Seq));
        Assert.Equal(["v2", "v-w"], (await Workflows.ListVersionsAsync(_app, "w", Ct)).Select(v => v.Id));
        Assert.False(await Workflows.UpdateAsync(current.Workflow with { Id = "gone" }, null, Ct));

        Assert.Equal(["v-w"], await Workflows.DeleteVersionsAsync(_app, "w", ["v-w", "nope"], Ct));
        Assert.Empty(await Workflows.DeleteVersionsAsync(_app, "w", ["v2"], Ct));
        Assert.Equal("v2", (await Workflows.FindAsync(_app, "w", Ct))!.Latest.Id);
    }

    [Fact]
    public async Task Rename_moves_versions_and_refuses_a_taken_id_and_delete_reports_what_existed()
    {
        await Workflows.CreateAsync([Make(_app, "a"), Make(_app, "b")], Ct);
        Assert.False(await Workflows.RenameAsync(_app, "a", "b", 5, Ct));
        Assert.True(await Workflows.RenameAsync(_app, "a", "c", 5, Ct));
        Assert.Equal(["v-a"], (await Workflows.ListVersionsAsync(_app, "c", Ct)).Select(v => v.Id));
        Assert.Empty(await Workflows.ListVersionsAsync(_app, "a", Ct));
        Assert.Equal(["b", "c"], await Workflows.DeleteAsync(_app, ["b", "c", "x"], Ct));
        Assert.Empty(await Workflows.ListAsync(_app, Ct));
    }

    [Fact]
    public async Task Reindex_state_is_counted_queued_with_its_jobs_and_follows_the_app()
    {
        var app = NewApp();
        await Workflows.CreateAsync([Make(app, "w")], Ct);
        await Workflows.QueueReindexInputsAsync(app, "General", ["i1", "i2", "i3"], 1, Ct);
        Assert.Equal(new ReindexCounts(0, 3, 0, 0), await Workflows.CountReindexAsync(app, Ct));
        await Workflows.SetReindexStateAsync(app, "i1", ReindexStates.Success, string.Empty, 2, Ct);
        await Workflows.SetReindexStateAsync(app, "i2", ReindexStates.Failed, "bad", 2, Ct);
        await Workflows.ForgetReindexAsync(app, ["i3"], Ct);
        Assert.Equal(new ReindexCounts(1, 0, 1, 0), await Workflows.CountReindexAsync(app, Ct));
        var queue = new JobQueue(Db, Time);
        Assert.True(await queue.CountAsync(WorkflowJobKinds.ReindexInput, Ct) >= 3);

        var renamed = new AppRef(app.UserId, app.AppId + "x");
        await Workflows.RenameAppAsync(app, renamed, Ct);
        Assert.NotNull(await Workflows.FindAsync(renamed, "w", Ct));
        Assert.Equal(new ReindexCounts(1, 0, 1, 0), await Workflows.CountReindexAsync(renamed, Ct));
        await Workflows.PurgeAppAsync(renamed, Ct);
        Assert.Empty(await Workflows.ListAsync(renamed, Ct));
        Assert.Equal(new ReindexCounts(0, 0, 0, 0), await Workflows.CountReindexAsync(renamed, Ct));
    }
}

public sealed class SqliteWorkflowStoreTests(StoreFixture<SqliteBackend> fixture)
    : WorkflowStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresWorkflowStoreTests(StoreFixture<PostgresBackend> fixture)
    : WorkflowStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
