using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Inputs;
using Iris.Storage.Searches;
using Iris.Storage.Tests.Infrastructure;
using Iris.Testing;

namespace Iris.Storage.Tests;

/// <summary>
/// The search store's matching ids (what a filtered vector rank resolves into its index's allowed set). On SQLite an answer
/// is kept while the file's data version has not moved: these tests change, between two identical calls, each kind of row a
/// filter reads (labels added and deleted, from this opener and from another one as a second node or process would;
/// deletion; dataset membership; an input's status) and require the second answer to show the change, so a cache that was
/// not invalidated by any one of them fails here. PostgreSQL reads every time and must answer the same.
/// </summary>
public abstract class SearchStoreTests(IStoreBackend backend, string store) : InputStoreTestBase(backend, store)
{
    private readonly AppRef _app = NewApp();

    private SqlSearchStore Search => _search ??= new SqlSearchStore(Db);

    private SqlSearchStore? _search;

    private static readonly InputCondition[] Cats = [new InputCondition.Label("cat", string.Empty, true, false)];

    private async Task<List<string>> MatchingAsync(params InputCondition[] conditions) =>
        [.. (await Search.MatchingIdsAsync(_app, conditions, Ct)).Order(StringComparer.Ordinal)];

    private static NewAnnotation Cat(string id, string inputId) => new(id, inputId, Utf8("annotation:" + id), false, "someone", [new ConceptMention("cat", "cat", 1)]);

    [Fact]
    public async Task Labels_written_by_an_older_release_are_found_by_label_filters_after_the_migration()
    {
        // The label filter reads the input id from the concept row, which releases before it did not write.
        var location = await Backend.NewStoreAsync("labels");
        var db = Open(location);
        await OlderRelease.MigrateBeforeQueryableColumnsAsync(db, Ct);
        foreach (var (input, value) in new[] { ("in0", 1.0), ("in1", 0.0), ("in2", 1.0), ("in3", -1.0) })
        {
            await OlderRelease.WriteInputAsync(db, "u", "a", input, "image", [1], Utf8("annotation"), 1, Ct);
            if (value >= 0)
            {
                await OlderRelease.WriteLabelAsync(db, "u", "a", input, "cat", value, Ct);
            }
        }

        await db.MigrateAsync(StorageAreas.Migrations, Ct);
        var search = new SqlSearchStore(db);
        var app = new AppRef("u", "a");
        Assert.Equal(["in0", "in2"], (await search.MatchingIdsAsync(app, Cats, Ct)).Order(StringComparer.Ordinal));
        Assert.Equal(["in1"], await search.MatchingIdsAsync(app, [new InputCondition.Label("cat", string.Empty, false, false)], Ct));
        Assert.Equal(["in0", "in2"], (await search.CandidatesAsync(app, [new InputCondition.Label(string.Empty, "cat", true, false)], Ct)).Select(c => c.InputId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Matching_ids_follow_every_write_a_filter_reads()
    {
        await Inputs.AddDatasetsAsync(_app, [new DatasetRow("ds", Utf8("body"), Time.GetUtcNow(), Time.GetUtcNow())], Ct);
        await Inputs.AddInputsAsync(_app, [Input("a", concepts: [new ConceptMention("cat", "cat", 1)]), Input("b"), Input("c"), Input("d")], null, Ct);
        Assert.Equal(["a"], await MatchingAsync(Cats));
        var first = await Search.MatchingIdsAsync(_app, Cats, Ct);
        var again = await Search.MatchingIdsAsync(_app, Cats, Ct);
        Assert.Equal(["a"], again);
        if (Db.Dialect == SqlDialect.Sqlite)
        {
            // Nothing was written in between: SQLite answers from its cache (the planner keeps the resolved set with the list).
            Assert.Same(first, again);
        }

        // A label added on this opener, then deleted.
        Assert.Empty(await Inputs.AddAnnotationsAsync(_app, [Cat("ann-b", "b")], Ct));
        Assert.Equal(["a", "b"], await MatchingAsync(Cats));
        Assert.Equal(1, await Inputs.DeleteAnnotationsAsync(_app, [("b", "ann-b")], Ct));
        Assert.Equal(["a"], await MatchingAsync(Cats));

        // A label added by another opener of the same store (another node, another process).
        Assert.Empty(await SecondNode().AddAnnotationsAsync(_app, [Cat("ann-c", "c")], Ct));
        Assert.Equal(["a", "c"], await MatchingAsync(Cats));

        // A deleted input leaves at once.
        Assert.Equal(["a"], await Inputs.MarkDeletingAsync(_app, ["a"], Ct));
        Assert.Equal(["c"], await MatchingAsync(Cats));

        // Dataset membership.
        InputCondition[] inDataset = [new InputCondition.Datasets(["ds"], false)];
        Assert.Empty(await MatchingAsync(inDataset));
        await Inputs.AddDatasetInputsAsync(_app, "ds", ["d"], Ct);
        Assert.Equal(["d"], await MatchingAsync(inDataset));
        await SecondNode().DeleteDatasetInputsAsync(_app, "ds", ["d"], Ct);
        Assert.Empty(await MatchingAsync(inDataset));

        // An input's status.
        InputCondition[] failed = [new InputCondition.Status(30002, false)];
        Assert.Empty(await MatchingAsync(failed));
        await Inputs.FailInputAsync(_app, "d", 30002, "bad image", Ct);
        Assert.Equal(["d"], await MatchingAsync(failed));
    }

    [Fact]
    public async Task Matching_ids_are_the_candidates_ids_for_every_condition_kind()
    {
        await Inputs.AddDatasetsAsync(_app, [new DatasetRow("ds", Utf8("body"), Time.GetUtcNow(), Time.GetUtcNow())], Ct);
        await Inputs.AddInputsAsync(_app, [Input("a", concepts: [new ConceptMention("cat", "cat", 1)], datasets: ["ds"]), Input("b", concepts: [new ConceptMention("cat", "cat", 0)]),
            Input("c", kind: "text"), Input("d")], null, Ct);
        InputCondition[][] queries =
        [
            [],
            Cats,
            [new InputCondition.Label("cat", string.Empty, false, false)],
            [new InputCondition.Label(string.Empty, "cat", true, false)],
            [new InputCondition.Label("cat", string.Empty, true, true)],
            [new InputCondition.Datasets(["ds"], false)],
            [new InputCondition.Kinds(["text"], false)],
            [new InputCondition.InputIds(["a", "d", "zz"], false)],
            [new InputCondition.InputIds([], false)],
            [new InputCondition.InputIds(["a", "b", "c"], false), new InputCondition.Label("cat", string.Empty, true, true)],
        ];
        string[][] expected = [["a", "b", "c", "d"], ["a"], ["b"], ["a"], ["b", "c", "d"], ["a"], ["c"], ["a", "d"], [], ["b", "c"]];

        for (var q = 0; q < queries.Length; q++)
        {
            var candidates = await Search.CandidatesAsync(_app, queries[q], Ct);
            Assert.Equal(expected[q], candidates.Select(c => c.InputId).Order(StringComparer.Ordinal));
            Assert.Equal(expected[q], await MatchingAsync(queries[q]));
        }
    }
}

public sealed class SqliteSearchStoreTests(StoreFixture<SqliteBackend> fixture)
    : SearchStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresSearchStoreTests(StoreFixture<PostgresBackend> fixture)
    : SearchStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
