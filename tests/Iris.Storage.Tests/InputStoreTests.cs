using System.Collections.Concurrent;
using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// The inputs store: adds with their annotation, concepts, datasets and ingestion job; reads, pages, streams and counts;
/// the duplicate-id, suffix and duplicate-URL policies; deleting and purging; add-jobs; and two writers racing on one
/// input id, where exactly one wins and the other gets an answer, not an exception.
/// </summary>
public abstract class InputStoreTests(IStoreBackend backend, string store) : InputStoreTestBase(backend, store)
{
    private readonly AppRef _app = NewApp();

    private async Task<IReadOnlyList<AddResult>> AddAsync(params NewInput[] inputs) => await Inputs.AddInputsAsync(_app, inputs, null, Ct);

    private async Task<long> CountJobsAsync(string kind, string target)
    {
        await using var s = await Db.ReadAsync(Ct);
        return await s.ScalarAsync("SELECT COUNT(*) FROM work_queue WHERE user_id = @u AND app_id = @a AND kind = @k AND target = @t;",
            ("@u", _app.UserId), ("@a", _app.AppId), ("@k", kind), ("@t", target));
    }

    [Fact]
    public async Task An_added_input_reads_back_pending_with_its_fields_and_an_ingestion_job()
    {
        var results = await Inputs.AddInputsAsync(_app, [Input("in1", url: "https://example.com/a.jpg")], "job1", Ct);

        var added = Assert.Single(results);
        Assert.Equal((AddOutcome.Added, "in1", Time.GetUtcNow()), (added.Outcome, added.Id, added.CreatedAt));
        var row = await Inputs.GetInputAsync(_app, "in1", Ct);
        Assert.NotNull(row);
        Assert.Equal(("in1", "image", "https://example.com/a.jpg", InputStates.Pending, "", "job1"), (row.Id, row.Kind, row.Url, row.StatusCode, row.StatusDetails, row.AddJobId));
        Assert.Equal(Utf8("media:in1"), row.Media);
        Assert.Equal((Time.GetUtcNow(), Time.GetUtcNow()), (row.CreatedAt, row.ModifiedAt));
        Assert.Null(row.SourceBlob);
        Assert.Null(row.Width);
        Assert.Equal(1, await CountJobsAsync(JobKinds.Ingest, "in1"));
        Assert.Null(await Inputs.GetInputAsync(_app, "missing", Ct));
        Assert.Null(await Inputs.GetInputAsync(NewApp(), "in1", Ct));
    }

    [Fact]
    public async Task List_pages_newest_first_and_filters_by_status_and_ids()
    {
        foreach (var id in new[] { "a", "b", "c", "d", "e" })
        {
            await AddAsync(Input(id));
        }

        await Inputs.FailInputAsync(_app, "b", 30002, "bad image", Ct);

        Assert.Equal(["e", "d"], (await Inputs.ListInputsAsync(_app, 1, 2, null, [], Ct)).Select(r => r.Id));
        Assert.Equal(["c", "b"], (await Inputs.ListInputsAsync(_app, 2, 2, null, [], Ct)).Select(r => r.Id));
        Assert.Equal(["a"], (await Inputs.ListInputsAsync(_app, 3, 2, null, [], Ct)).Select(r => r.Id));
        Assert.Empty(await Inputs.ListInputsAsync(_app, 4, 2, null, [], Ct));
        var failed = Assert.Single(await Inputs.ListInputsAsync(_app, 1, 10, 30002, [], Ct));
        Assert.Equal(("b", "bad image"), (failed.Id, failed.StatusDetails));
        Assert.Equal(["d", "a"], (await Inputs.ListInputsAsync(_app, 1, 10, null, ["a", "d", "zz"], Ct)).Select(r => r.Id));
        Assert.Equal(["d"], (await Inputs.ListInputsAsync(_app, 1, 10, InputStates.Pending, ["b", "d"], Ct)).Select(r => r.Id));
    }

    [Fact]
    public async Task Stream_continues_after_the_last_id_by_creation_or_by_id_in_either_direction()
    {
        foreach (var id in new[] { "m", "z", "a", "q" })
        {
            await AddAsync(Input(id));
        }

        Assert.Equal(["m", "z"], (await Inputs.StreamInputsAsync(_app, 2, null, false, false, Ct)).Select(r => r.Id));
        Assert.Equal(["a", "q"], (await Inputs.StreamInputsAsync(_app, 2, "z", false, false, Ct)).Select(r => r.Id));
        Assert.Equal(["q", "a", "z", "m"], (await Inputs.StreamInputsAsync(_app, 10, "", true, false, Ct)).Select(r => r.Id));
        Assert.Equal(["z", "m"], (await Inputs.StreamInputsAsync(_app, 10, "a", true, false, Ct)).Select(r => r.Id));
        Assert.Equal(["a", "m", "q", "z"], (await Inputs.StreamInputsAsync(_app, 10, null, false, true, Ct)).Select(r => r.Id));
        Assert.Equal(["q", "z"], (await Inputs.StreamInputsAsync(_app, 10, "m", false, true, Ct)).Select(r => r.Id));
        Assert.Equal(["m", "a"], (await Inputs.StreamInputsAsync(_app, 10, "q", true, true, Ct)).Select(r => r.Id));
    }

    [Fact]
    public async Task Counts_follow_processing_success_and_failure()
    {
        foreach (var id in new[] { "p1", "p2", "p3", "p4", "p5" })
        {
            await AddAsync(Input(id));
        }

        var processing = await Inputs.BeginProcessingAsync(_app, "p1", Ct);
        Assert.Equal(InputStates.InProgress, processing?.StatusCode);
        Assert.Null(await Inputs.BeginProcessingAsync(_app, "missing", Ct));
        await Inputs.BeginProcessingAsync(_app, "p2", Ct);
        Assert.True(await Inputs.CompleteAsync(_app, "p2", Ct));
        Assert.Null(await Inputs.BeginProcessingAsync(_app, "p2", Ct));
        await Inputs.FailInputAsync(_app, "p3", 30002, "x", Ct);
        var blob = await Blobs.PutAsync(Utf8("processed p4"), Ct);
        var thumb = await Blobs.PutAsync(Utf8("thumb p4"), Ct);
        Assert.True(await Inputs.CompleteImageAsync(_app, "p4", blob, thumb, 640, 480, "JPEG", "RGB", Ct));

        Assert.Equal(new InputCounts(2, 1, 1, 1), await Inputs.CountInputsAsync(_app, Ct));
        var p4 = await Inputs.GetInputAsync(_app, "p4", Ct);
        Assert.Equal((blob, thumb, 640, 480, "JPEG", "RGB", InputStates.Success), (p4?.BlobKey, p4?.ThumbKey, p4?.Width, p4?.Height, p4?.Format, p4?.ColorMode, p4?.StatusCode));
        Assert.Equal("p4", (await Inputs.FindByBlobAsync(_app, thumb, Ct))?.Id);
        Assert.Null(await Inputs.FindByBlobAsync(NewApp(), thumb, Ct));
        Assert.Equal(new InputCounts(0, 0, 0, 0), await Inputs.CountInputsAsync(NewApp(), Ct));
    }

    [Fact]
    public async Task A_taken_id_is_a_duplicate_or_gets_the_next_free_suffix()
    {
        await AddAsync(Input("dup"));

        var skipped = Assert.Single(await AddAsync(Input("dup")));
        Assert.Equal((AddOutcome.DuplicateId, "dup"), (skipped.Outcome, skipped.Id));
        Assert.Equal("dup-1", Assert.Single(await AddAsync(Input("dup", conflicts: IdConflictPolicy.Suffix))).Id);
        Assert.Equal("dup-2", Assert.Single(await AddAsync(Input("dup", conflicts: IdConflictPolicy.Suffix))).Id);
        // Within one request too: the second "same" of the batch is suffixed against the first.
        Assert.Equal(["same", "same-1"], (await AddAsync(Input("same", conflicts: IdConflictPolicy.Suffix), Input("same", conflicts: IdConflictPolicy.Suffix))).Select(r => r.Id));
        Assert.Equal([AddOutcome.Added, AddOutcome.DuplicateId], (await AddAsync(Input("once"), Input("once"))).Select(r => r.Outcome));
        Assert.Equal(["dup", "dup-1", "dup-2", "once", "same", "same-1"], (await Inputs.ListInputsAsync(_app, 1, 100, null, [], Ct)).Select(r => r.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Suffixes_past_nine_are_random_and_keep_the_id_within_48_characters()
    {
        var id = new string('x', 48);
        await AddAsync(Input(id));

        var result = Assert.Single(await AddAsync(Input(id, conflicts: IdConflictPolicy.Suffix)));
        Assert.Equal(AddOutcome.Added, result.Outcome);
        Assert.Equal(48, result.Id.Length);
        Assert.Matches("^x{39}-[0-9a-f]{8}$", result.Id);

        await AddAsync(Input("n"));
        for (var i = 1; i <= 9; i++)
        {
            Assert.Equal("n-" + i, Assert.Single(await AddAsync(Input("n", conflicts: IdConflictPolicy.Suffix))).Id);
        }

        Assert.Matches("^n-[0-9a-f]{8}$", Assert.Single(await AddAsync(Input("n", conflicts: IdConflictPolicy.Suffix))).Id);
    }

    [Fact]
    public async Task A_duplicate_url_is_refused_unless_allowed_and_an_unknown_dataset_names_itself()
    {
        await AddAsync(Input("u1", url: "https://example.com/same.jpg"));

        Assert.Equal(AddOutcome.DuplicateUrl, Assert.Single(await AddAsync(Input("u2", url: "https://example.com/same.jpg"))).Outcome);
        Assert.Equal(AddOutcome.Added, Assert.Single(await AddAsync(Input("u3", url: "https://example.com/same.jpg", allowDuplicateUrl: true))).Outcome);
        Assert.Equal(AddOutcome.Added, Assert.Single(await Inputs.AddInputsAsync(NewApp(), [Input("u4", url: "https://example.com/same.jpg")], null, Ct)).Outcome);
        var unknown = Assert.Single(await AddAsync(Input("u5", datasets: ["nope"])));
        Assert.Equal((AddOutcome.UnknownDataset, "nope"), (unknown.Outcome, unknown.Detail));
        Assert.Null(await Inputs.GetInputAsync(_app, "u2", Ct));
        Assert.Null(await Inputs.GetInputAsync(_app, "u5", Ct));
    }

    [Fact]
    public async Task Deleted_inputs_vanish_at_once_and_are_purged_with_their_rows_later()
    {
        await Inputs.AddDatasetsAsync(_app, [new DatasetRow("ds", Utf8("body"), Time.GetUtcNow(), Time.GetUtcNow())], Ct);
        await AddAsync(Input("d1", concepts: [new ConceptMention("cat", "cat", 1)], datasets: ["ds"]), Input("d2"));

        Assert.Equal(["d1"], await Inputs.MarkDeletingAsync(_app, ["d1", "d1", "missing"], Ct));
        Assert.Empty(await Inputs.MarkDeletingAsync(_app, ["d1"], Ct));
        Assert.Null(await Inputs.GetInputAsync(_app, "d1", Ct));
        Assert.Equal(["d2"], (await Inputs.ListInputsAsync(_app, 1, 10, null, [], Ct)).Select(r => r.Id));
        Assert.Equal(["d2"], (await Inputs.StreamInputsAsync(_app, 10, null, false, true, Ct)).Select(r => r.Id));
        Assert.Empty(await Inputs.ListDatasetInputsAsync(_app, "ds", 1, 10, Ct));
        Assert.Equal(1, await CountJobsAsync(JobKinds.Purge, "d1"));
        Assert.Null(await Inputs.BeginProcessingAsync(_app, "d1", Ct));
        Assert.False(await Inputs.CompleteAsync(_app, "d1", Ct));

        Assert.True(await Inputs.PurgeInputAsync(_app, "d1", Ct));
        Assert.Equal(0, await CountJobsAsync(JobKinds.Ingest, "d1"));
        Assert.Empty(await Inputs.InputLevelAnnotationsAsync(_app, ["d1"], Ct));
        Assert.Single(await Inputs.ListAnnotationsAsync(_app, new AnnotationQuery([], [], [], []), 1, 10, Ct));
        // The id is free again.
        Assert.Equal(AddOutcome.Added, Assert.Single(await AddAsync(Input("d1"))).Outcome);
        // Purging what is not marked deleted does nothing to it.
        Assert.True(await Inputs.PurgeInputAsync(_app, "d2", Ct));
        Assert.NotNull(await Inputs.GetInputAsync(_app, "d2", Ct));
    }

    [Fact]
    public async Task A_purge_waits_while_a_worker_holds_the_inputs_ingestion()
    {
        await AddAsync(Input("busy"));
        var queue = new JobQueue(Db, Time);
        var owner = "worker-" + _app.AppId;
        Job? job;
        // Other tests of the class queue ingest jobs too: claim until this input's.
        while ((job = await queue.ClaimAsync(JobKinds.Ingest, owner, TimeSpan.FromMinutes(1), Ct)) is not null && job.App != _app)
        {
        }

        Assert.NotNull(job);
        await Inputs.MarkDeletingAsync(_app, ["busy"], Ct);

        Assert.False(await Inputs.PurgeInputAsync(_app, "busy", Ct));
        Time.Advance(TimeSpan.FromMinutes(2));
        Assert.True(await Inputs.PurgeInputAsync(_app, "busy", Ct));
        Assert.Equal(0, await CountJobsAsync(JobKinds.Ingest, "busy"));
    }

    [Fact]
    public async Task Add_jobs_count_their_inputs_and_cancelling_fails_the_pending_ones()
    {
        await Inputs.AddInputsAsync(_app, [Input("j1"), Input("j2"), Input("j3")], "addjob", Ct);
        await Inputs.BeginProcessingAsync(_app, "j1", Ct);
        await Inputs.CompleteAsync(_app, "j1", Ct);

        var job = await Inputs.GetAddJobAsync(_app, "addjob", Ct);
        Assert.Equal(("addjob", false, 2L, 0L, 1L, 0L), (job?.Id, job?.Cancelled, job?.Pending, job?.InProgress, job?.Succeeded, job?.Failed));
        Assert.Equal(["addjob"], (await Inputs.ListAddJobsAsync(_app, 1, 10, Ct)).Select(j => j.Id));

        Assert.True(await Inputs.CancelAddJobAsync(_app, "addjob", "cancelled by user", Ct));
        Assert.False(await Inputs.CancelAddJobAsync(_app, "other", "x", Ct));
        job = await Inputs.GetAddJobAsync(_app, "addjob", Ct);
        Assert.Equal((true, 0L, 1L, 2L), (job?.Cancelled, job?.Pending, job?.Succeeded, job?.Failed));
        Assert.Equal("cancelled by user", (await Inputs.GetInputAsync(_app, "j2", Ct))?.StatusDetails);
        Assert.Equal(0, await CountJobsAsync(JobKinds.Ingest, "j2"));
        Assert.Null(await Inputs.GetAddJobAsync(_app, "missing", Ct));
    }

    [Fact]
    public async Task Purging_an_app_removes_all_its_rows_and_renaming_rekeys_them()
    {
        var other = NewApp();
        await AddAsync(Input("r1", concepts: [new ConceptMention("dog", "dog", 1)]));
        await Inputs.AddInputsAsync(other, [Input("o1")], null, Ct);

        var renamed = NewApp();
        await Inputs.RenameAppAsync(_app, renamed, Ct);
        Assert.Null(await Inputs.GetInputAsync(_app, "r1", Ct));
        Assert.NotNull(await Inputs.GetInputAsync(renamed, "r1", Ct));
        Assert.NotNull(await Inputs.GetConceptAsync(renamed, "dog", Ct));

        await Inputs.PurgeAppAsync(renamed, Ct);
        await Inputs.PurgeAppAsync(renamed, Ct);
        Assert.Null(await Inputs.GetInputAsync(renamed, "r1", Ct));
        Assert.Null(await Inputs.GetConceptAsync(renamed, "dog", Ct));
        await using var s = await Db.ReadAsync(Ct);
        Assert.Equal(0, await s.ScalarAsync("SELECT COUNT(*) FROM work_queue WHERE user_id = @u AND app_id = @a;", ("@u", renamed.UserId), ("@a", renamed.AppId)));
        Assert.NotNull(await Inputs.GetInputAsync(other, "o1", Ct));
    }

    [Fact]
    public async Task Two_writers_racing_to_add_one_id_end_with_exactly_one_input_and_no_error()
    {
        var second = SecondNode();
        for (var round = 0; round < 12; round++)
        {
            var id = "race" + round;
            var both = await Task.WhenAll(
                Task.Run(() => Inputs.AddInputsAsync(_app, [Input(id)], null, Ct), Ct),
                Task.Run(() => second.AddInputsAsync(_app, [Input(id)], null, Ct), Ct));

            var outcomes = both.Select(r => Assert.Single(r).Outcome).Order().ToList();
            Assert.Equal([AddOutcome.Added, AddOutcome.DuplicateId], outcomes);
            Assert.NotNull(await Inputs.GetInputAsync(_app, id, Ct));
            Assert.Equal(1, await CountJobsAsync(JobKinds.Ingest, id));
        }
    }

    [Fact]
    public async Task Two_writers_racing_with_the_suffix_policy_both_add_under_different_ids()
    {
        var second = SecondNode();
        var ids = new ConcurrentBag<string>();
        for (var round = 0; round < 8; round++)
        {
            var id = "sfx" + round;
            var both = await Task.WhenAll(
                Task.Run(() => Inputs.AddInputsAsync(_app, [Input(id, conflicts: IdConflictPolicy.Suffix)], null, Ct), Ct),
                Task.Run(() => second.AddInputsAsync(_app, [Input(id, conflicts: IdConflictPolicy.Suffix)], null, Ct), Ct));

            Assert.All(both, r => Assert.Equal(AddOutcome.Added, Assert.Single(r).Outcome));
            Assert.Equal([id, id + "-1"], both.Select(r => r[0].Id).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task Two_batches_racing_on_the_same_ids_in_opposite_orders_both_answer()
    {
        var second = SecondNode();
        for (var round = 0; round < 6; round++)
        {
            var (a, b) = ("x" + round, "y" + round);
            var both = await Task.WhenAll(
                Task.Run(() => Inputs.AddInputsAsync(_app, [Input(a), Input(b)], null, Ct), Ct),
                Task.Run(() => second.AddInputsAsync(_app, [Input(b), Input(a)], null, Ct), Ct));

            Assert.Equal(2, both.SelectMany(r => r).Count(r => r.Outcome == AddOutcome.Added));
            Assert.NotNull(await Inputs.GetInputAsync(_app, a, Ct));
            Assert.NotNull(await Inputs.GetInputAsync(_app, b, Ct));
        }
    }
}

public sealed class SqliteInputStoreTests(StoreFixture<SqliteBackend> fixture)
    : InputStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresInputStoreTests(StoreFixture<PostgresBackend> fixture)
    : InputStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
