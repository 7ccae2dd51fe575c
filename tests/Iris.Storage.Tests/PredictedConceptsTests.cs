using Iris.Storage.Db;
using Iris.Storage.Tests.Infrastructure;
using Iris.Storage.Vectors;

namespace Iris.Storage.Tests;

/// <summary>
/// Predicted-concept values for concept ranks come only from inputs the concept model ran on: an input it saw scores its
/// kept value, or 0 below the ingestion floor; an input it never saw (embedded by a base workflow without that model, or
/// by another version) is absent, not 0. Rows of the release before the marker take the version of their stored concepts.
/// </summary>
public abstract class PredictedConceptsTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private static readonly float[] Vector = [1, 0, 0, 0];

    [Fact]
    public async Task Only_inputs_the_concept_model_ran_on_have_a_value()
    {
        var app = NewApp();
        var index = new SqlInputIndexStore(Db, Time);
        await index.SaveAsync(app, "seen-high", "embed", "e1", Vector, [("train", 0.9f)], "c1", Ct);
        await index.SaveAsync(app, "seen-low", "embed", "e1", Vector, [("dog", 0.8f)], "c1", Ct);
        await index.SaveAsync(app, "other-version", "embed", "e1", Vector, [("train", 0.7f)], "c2", Ct);
        await index.SaveAsync(app, "no-concept-model", "embed", "e1", Vector, [], "", Ct);

        var values = await index.PredictedValuesAsync(app, "c1", "train", Ct);
        Assert.Equal([("seen-high", 0.9f), ("seen-low", 0f)], values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => (v.Key, v.Value)));
        Assert.Equal(["other-version"], (await index.PredictedValuesAsync(app, "c2", "train", Ct)).Keys);
        Assert.Empty(await index.PredictedValuesAsync(app, "", "train", Ct));

        // Reindexed by a base workflow with the model: seen from then on; without it again: no longer.
        await index.SaveAsync(app, "no-concept-model", "embed", "e1", Vector, [("train", 0.5f)], "c1", Ct);
        Assert.Equal(0.5f, (await index.PredictedValuesAsync(app, "c1", "train", Ct))["no-concept-model"]);
        await index.SaveAsync(app, "seen-high", "embed", "e1", Vector, [], "", Ct);
        Assert.DoesNotContain("seen-high", (await index.PredictedValuesAsync(app, "c1", "train", Ct)).Keys);
    }

    private sealed class BeforeMarker(IMigrationSet current) : IMigrationSet
    {
        public string Area => current.Area;

        public IReadOnlyList<Migration> For(SqlDialect dialect) =>
            [.. current.For(dialect).TakeWhile(m => !m.Name.StartsWith("embeddings: the concept model version", StringComparison.Ordinal))];
    }

    [Fact]
    public async Task Rows_of_the_release_before_the_marker_take_the_version_of_their_concepts()
    {
        var db = Open(await Backend.NewStoreAsync("seen"));
        await db.MigrateAsync([.. StorageAreas.Migrations.Select(m => m is InputIndexMigrations ? new BeforeMarker(m) : m)], Ct);
        await using (var s = await db.WriteAsync(Ct))
        {
            foreach (var (input, concepts) in new[] { ("old-seen", true), ("old-unknown", false) })
            {
                await s.ExecuteAsync("""
                    INSERT INTO inference_input_embeddings (user_id, app_id, input_id, model_id, model_version_id, num_dimensions, vector, created_at, created_us)
                    VALUES ('u', 'a', @i, 'embed', 'e1', 1, @vec, '', 0);
                    """, ("@i", input), ("@vec", new byte[4]));
                if (concepts)
                {
                    await s.ExecuteAsync("INSERT INTO inference_input_concepts (user_id, app_id, input_id, model_version_id, concept_id, value) VALUES ('u', 'a', @i, 'c1', 'dog', 0.6);", ("@i", input));
                }
            }

            await s.CommitAsync();
        }

        await db.MigrateAsync(StorageAreas.Migrations, Ct);
        var values = await new SqlInputIndexStore(db, Time).PredictedValuesAsync(new("u", "a"), "c1", "dog", Ct);
        Assert.Equal([("old-seen", 0.6f)], values.Select(v => (v.Key, v.Value)));
    }
}

public sealed class SqlitePredictedConceptsTests(StoreFixture<SqliteBackend> fixture)
    : PredictedConceptsTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresPredictedConceptsTests(StoreFixture<PostgresBackend> fixture)
    : PredictedConceptsTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
