using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// Datasets (with their inputs and frozen versions), annotations and concepts: adds that refuse taken ids and write
/// nothing then, even when two writers race; reads, filters, updates and deletes; prefix search of concepts taking user
/// text literally; NULL parameters that mean "no filter" or "keep".
/// </summary>
public abstract class CatalogTests(IStoreBackend backend, string store) : InputStoreTestBase(backend, store)
{
    private readonly AppRef _app = NewApp();

    private DatasetRow Dataset(string id, string body = "body") => new(id, Utf8(body), Time.GetUtcNow(), Time.GetUtcNow());

    private ConceptRow Concept(string id, string name, string language = "") => new(id, name, language, Time.GetUtcNow(), Time.GetUtcNow());

    private static NewAnnotation Annotation(string id, string inputId, params ConceptMention[] concepts) =>
        new(id, inputId, Utf8("data:" + id), false, "author1", concepts);

    [Fact]
    public async Task Datasets_add_read_list_update_and_delete()
    {
        Assert.Empty(await Inputs.AddDatasetsAsync(_app, [Dataset("ds1"), Dataset("ds2")], Ct));
        Assert.Equal(["ds1"], await Inputs.AddDatasetsAsync(_app, [Dataset("ds3"), Dataset("ds1")], Ct));
        Assert.Null(await Inputs.GetDatasetAsync(_app, "ds3", Ct));

        Assert.Equal(["ds2", "ds1"], (await Inputs.ListDatasetsAsync(_app, 1, 10, Ct)).Select(d => d.Id));
        Assert.Equal(["ds1"], (await Inputs.ListDatasetsAsync(_app, 2, 1, Ct)).Select(d => d.Id));
        Time.Advance(TimeSpan.FromSeconds(5));
        await Inputs.UpdateDatasetAsync(_app, Dataset("ds1", "new body"), Ct);
        var ds1 = await Inputs.GetDatasetAsync(_app, "ds1", Ct);
        Assert.Equal(Utf8("new body"), ds1?.Body);
        Assert.Equal(Time.GetUtcNow(), ds1?.ModifiedAt);
        Assert.Equal(Time.GetUtcNow() - TimeSpan.FromSeconds(5), ds1?.CreatedAt);

        Assert.Equal(["ds1"], await Inputs.DeleteDatasetsAsync(_app, ["ds1", "ds1", "missing"], Ct));
        Assert.Null(await Inputs.GetDatasetAsync(_app, "ds1", Ct));
        Assert.Empty(await Inputs.DeleteDatasetsAsync(_app, ["ds1"], Ct));
    }

    [Fact]
    public async Task The_same_dataset_id_twice_in_one_request_writes_nothing()
    {
        Assert.Equal(["twice"], await Inputs.AddDatasetsAsync(_app, [Dataset("solo"), Dataset("twice"), Dataset("twice")], Ct));
        Assert.Null(await Inputs.GetDatasetAsync(_app, "solo", Ct));
        Assert.Null(await Inputs.GetDatasetAsync(_app, "twice", Ct));
    }

    [Fact]
    public async Task Dataset_inputs_link_existing_inputs_once_and_unlink()
    {
        await Inputs.AddDatasetsAsync(_app, [Dataset("ds")], Ct);
        await Inputs.AddInputsAsync(_app, [Input("i1"), Input("i2", datasets: ["ds"])], null, Ct);

        var added = await Inputs.AddDatasetInputsAsync(_app, "ds", ["i1", "i2", "missing"], Ct);
        Assert.Equal((true, false, false), (added["i1"], added["i2"], added["missing"]));
        Assert.Equal(["i1", "i2"], (await Inputs.ListDatasetInputsAsync(_app, "ds", 1, 10, Ct)).Select(r => r.InputId));
        Assert.Equal(1, await Inputs.DeleteDatasetInputsAsync(_app, "ds", ["i2", "i2", "missing"], Ct));
        Assert.Equal(["i1"], (await Inputs.ListDatasetInputsAsync(_app, "ds", 1, 10, Ct)).Select(r => r.InputId));
        await Inputs.DeleteDatasetsAsync(_app, ["ds"], Ct);
        Assert.Empty(await Inputs.ListDatasetInputsAsync(_app, "ds", 1, 10, Ct));
    }

    [Fact]
    public async Task Dataset_versions_queue_their_freezing_keep_their_body_when_none_is_given_and_snapshot()
    {
        await Inputs.AddDatasetsAsync(_app, [Dataset("ds")], Ct);
        var version = new DatasetVersionRow("ds", "v1", Utf8("v1 body"), 21100, "", Time.GetUtcNow(), Time.GetUtcNow());
        Assert.Empty(await Inputs.AddDatasetVersionsAsync(_app, [version], Ct));
        Assert.Equal(["v1"], await Inputs.AddDatasetVersionsAsync(_app, [version with { Id = "v2" }, version], Ct));
        Assert.Null(await Inputs.GetDatasetVersionAsync(_app, "ds", "v2", Ct));
        await using (var s = await Db.ReadAsync(Ct))
        {
            Assert.Equal(1, await s.ScalarAsync("SELECT COUNT(*) FROM work_queue WHERE user_id = @u AND app_id = @a AND kind = @k AND target = @t;",
                ("@u", _app.UserId), ("@a", _app.AppId), ("@k", JobKinds.DatasetVersion), ("@t", "ds/v1")));
        }

        await Inputs.SetDatasetVersionStateAsync(_app, "ds", "v1", 21101, "freezing", null, Ct);
        var v1 = await Inputs.GetDatasetVersionAsync(_app, "ds", "v1", Ct);
        Assert.Equal((21101, "freezing"), (v1?.StatusCode, v1?.StatusDetails));
        Assert.Equal(Utf8("v1 body"), v1?.Body);
        await Inputs.SetDatasetVersionStateAsync(_app, "ds", "v1", 21101, "freezing", Utf8("replaced"), Ct);
        Assert.Equal(Utf8("replaced"), (await Inputs.GetDatasetVersionAsync(_app, "ds", "v1", Ct))?.Body);

        VersionItem[] items = [new("b", Utf8("input b"), Utf8("anns b")), new("a", Utf8("input a"), Utf8("anns a"))];
        await Inputs.WriteVersionSnapshotAsync(_app, "ds", "v1", items, Utf8("frozen"), 21102, Ct);
        await Inputs.WriteVersionSnapshotAsync(_app, "ds", "v1", items, Utf8("frozen"), 21102, Ct);
        var snapshot = await Inputs.ReadVersionSnapshotAsync(_app, "ds", "v1", Ct);
        Assert.Equal(["a", "b"], snapshot.Select(i => i.InputId));
        Assert.Equal(Utf8("anns b"), snapshot[1].Annotations);
        v1 = await Inputs.GetDatasetVersionAsync(_app, "ds", "v1", Ct);
        Assert.Equal((21102, "", "frozen"), (v1?.StatusCode, v1?.StatusDetails, Text(v1?.Body)));
        Assert.Equal(["v1"], (await Inputs.ListDatasetVersionsAsync(_app, "ds", 1, 10, Ct)).Select(v => v.Id));
    }

    [Fact]
    public async Task An_input_level_annotation_comes_with_the_input_and_its_concepts_exist_from_then_on()
    {
        await Inputs.AddInputsAsync(_app, [Input("i1", concepts: [new ConceptMention("cat", "Cat", 1), new ConceptMention("dog", "Dog", 0)])], null, Ct);

        var annotation = (await Inputs.InputLevelAnnotationsAsync(_app, ["i1", "missing"], Ct))["i1"];
        Assert.Equal(("i1", true, _app.UserId, "annotation:i1"), (annotation.InputId, annotation.InputLevel, annotation.Author, Text(annotation.Data)));
        Assert.Equal("Cat", (await Inputs.GetConceptAsync(_app, "cat", Ct))?.Name);
        var counts = await Inputs.ConceptCountsAsync(_app, 1, 10, Ct);
        Assert.Equal([("cat", 1L, 0L), ("dog", 0L, 1L)], counts.Select(c => (c.Id, c.Positive, c.Negative)));

        await Inputs.PutInputLevelAnnotationAsync(_app, new NewAnnotation("ignored", "i1", Utf8("replaced"), true, "u", [new ConceptMention("cat", "Cat", 0)]), Ct);
        var replaced = (await Inputs.InputLevelAnnotationsAsync(_app, ["i1"], Ct))["i1"];
        Assert.Equal((annotation.Id, "replaced"), (replaced.Id, Text(replaced.Data)));
        Assert.Equal([("cat", 0L, 1L), ("dog", 0L, 0L)], (await Inputs.ConceptCountsAsync(_app, 1, 10, Ct)).Select(c => (c.Id, c.Positive, c.Negative)));
    }

    [Fact]
    public async Task Annotations_add_refuse_taken_ids_filter_update_and_delete()
    {
        await Inputs.AddInputsAsync(_app, [Input("i1"), Input("i2")], null, Ct);
        Assert.Empty(await Inputs.AddAnnotationsAsync(_app, [Annotation("a1", "i1", new ConceptMention("cat", "cat", 1)), Annotation("a2", "i2")], Ct));
        Assert.Equal(["a1"], await Inputs.AddAnnotationsAsync(_app, [Annotation("a3", "i1"), Annotation("a1", "i2")], Ct));
        Assert.Null(await Inputs.GetAnnotationAsync(_app, "a3", Ct));
        Assert.Equal(["a4"], await Inputs.AddAnnotationsAsync(_app, [Annotation("a4", "i1"), Annotation("a4", "i2")], Ct));
        Assert.Null(await Inputs.GetAnnotationAsync(_app, "a4", Ct));

        var a1 = await Inputs.GetAnnotationAsync(_app, "a1", Ct);
        Assert.Equal(("i1", false, "author1", 24150, "data:a1"), (a1?.InputId, a1?.InputLevel, a1?.Author, a1?.StatusCode, Text(a1?.Data)));
        var all = new AnnotationQuery([], [], [], []);
        Assert.Equal(4, (await Inputs.ListAnnotationsAsync(_app, all, 1, 10, Ct)).Count);
        Assert.Equal(["a1"], (await Inputs.ListAnnotationsAsync(_app, all with { Ids = ["a1"] }, 1, 10, Ct)).Select(a => a.Id));
        Assert.Equal(["a2"], (await Inputs.ListAnnotationsAsync(_app, all with { InputIds = ["i2"], Authors = ["author1"] }, 1, 10, Ct)).Select(a => a.Id));
        Assert.Equal(["a2", "a1"], (await Inputs.ListAnnotationsAsync(_app, all with { Statuses = [24150] }, 1, 10, Ct)).Where(a => !a.InputLevel).Select(a => a.Id));
        Assert.Empty(await Inputs.ListAnnotationsAsync(_app, all with { Statuses = [24151] }, 1, 10, Ct));

        await Inputs.UpdateAnnotationAsync(_app, Annotation("a1", "i1", new ConceptMention("dog", "dog", 1)), Ct);
        Assert.Equal([("cat", 0L), ("dog", 1L)], (await Inputs.ConceptCountsAsync(_app, 1, 10, Ct)).Select(c => (c.Id, c.Positive)));

        Assert.Equal(1, await Inputs.DeleteAnnotationsAsync(_app, [("i1", "a1")], Ct));
        // A null annotation id deletes every annotation of the input, its input-level one included.
        Assert.Equal(2, await Inputs.DeleteAnnotationsAsync(_app, [("i2", null)], Ct));
        Assert.Equal(["i1"], (await Inputs.ListAnnotationsAsync(_app, all, 1, 10, Ct)).Select(a => a.InputId));
        Assert.Equal(0, await Inputs.DeleteAnnotationsAsync(_app, [("i2", null), ("missing", "x")], Ct));
    }

    [Fact]
    public async Task Concepts_add_refuse_taken_ids_update_and_list_by_a_literal_case_insensitive_prefix()
    {
        Assert.Empty(await Inputs.AddConceptsAsync(_app, [Concept("c1", "Cat"), Concept("c2", "catalog"), Concept("c3", "dog"), Concept("c4", "cat_5%"), Concept("c5", "catX5y")], Ct));
        Assert.Equal(["c1"], await Inputs.AddConceptsAsync(_app, [Concept("c6", "x"), Concept("c1", "y")], Ct));
        Assert.Null(await Inputs.GetConceptAsync(_app, "c6", Ct));
        Assert.Equal(["dup"], await Inputs.AddConceptsAsync(_app, [Concept("dup", "x"), Concept("dup", "y")], Ct));

        Assert.Equal(5, (await Inputs.ListConceptsAsync(_app, 1, 10, null, Ct)).Count);
        Assert.Equal(["c1", "c2", "c4", "c5"], (await Inputs.ListConceptsAsync(_app, 1, 10, "CAT", Ct)).Select(c => c.Id));
        Assert.Equal(["c4"], (await Inputs.ListConceptsAsync(_app, 1, 10, "cat_", Ct)).Select(c => c.Id));
        Assert.Equal(["c4"], (await Inputs.ListConceptsAsync(_app, 1, 10, "cat_5%", Ct)).Select(c => c.Id));
        Assert.Equal(["c3"], (await Inputs.ListConceptsAsync(_app, 1, 10, "C3", Ct)).Select(c => c.Id));
        Assert.Equal(["c2"], (await Inputs.ListConceptsAsync(_app, 2, 1, "cat", Ct)).Select(c => c.Id));

        await Inputs.UpdateConceptAsync(_app, Concept("c3", "Hound", "en"), Ct);
        var c3 = await Inputs.GetConceptAsync(_app, "c3", Ct);
        Assert.Equal(("Hound", "en"), (c3?.Name, c3?.Language));
    }

    [Fact]
    public async Task Two_writers_racing_to_add_one_concept_or_dataset_id_end_with_one_winner_and_no_error()
    {
        var second = SecondNode();
        for (var round = 0; round < 8; round++)
        {
            var id = "race" + round;
            var concepts = await Task.WhenAll(
                Task.Run(() => Inputs.AddConceptsAsync(_app, [Concept(id, "first")], Ct), Ct),
                Task.Run(() => second.AddConceptsAsync(_app, [Concept(id, "second")], Ct), Ct));
            Assert.Equal([0, 1], concepts.Select(t => t.Count).Order());

            var datasets = await Task.WhenAll(
                Task.Run(() => Inputs.AddDatasetsAsync(_app, [Dataset(id)], Ct), Ct),
                Task.Run(() => second.AddDatasetsAsync(_app, [Dataset(id)], Ct), Ct));
            Assert.Equal([0, 1], datasets.Select(t => t.Count).Order());
        }
    }
}

public sealed class SqliteCatalogTests(StoreFixture<SqliteBackend> fixture)
    : CatalogTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresCatalogTests(StoreFixture<PostgresBackend> fixture)
    : CatalogTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
