using Iris.Core.Apps;
using Iris.Storage.Tests.Infrastructure;
using Iris.Storage.Vectors;

namespace Iris.Storage.Tests;

/// <summary>
/// The base-workflow index: an input's embedding comes back bit for bit with its predicted concepts, a re-save replaces
/// both, removal, app purge and rename reach every row, and two nodes saving one input at once (a job retaken after a
/// lease expired) leave one writer's embedding and concepts, never a mix or an error.
/// </summary>
public abstract class InputIndexStoreTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private readonly AppRef _app = NewApp();

    private SqlInputIndexStore Index => new(Db, Time);

    private static float[] Vector(int seed, int dimensions = 512)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, dimensions).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    [Fact]
    public async Task An_embedding_and_its_concepts_read_back_exactly()
    {
        float[] vector = [.. Vector(1), float.Epsilon, -0f, float.MaxValue];
        await Index.SaveAsync(_app, "in1", "general", "v1", vector, [("dog", 0.25f), ("cat", 0.75f), ("ant", 0.25f)], "c1", Ct);

        var found = await Index.FindEmbeddingAsync(_app, "in1", Ct);
        Assert.NotNull(found);
        Assert.Equal(("in1", "v1"), (found.InputId, found.ModelVersionId));
        Assert.Equal(vector.Select(BitConverter.SingleToInt32Bits), found.Vector.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal([("cat", 0.75f), ("ant", 0.25f), ("dog", 0.25f)], await Index.FindConceptsAsync(_app, "in1", Ct));
        Assert.Null(await Index.FindEmbeddingAsync(_app, "missing", Ct));
        Assert.Null(await Index.FindEmbeddingAsync(NewApp(), "in1", Ct));
        Assert.Empty(await Index.FindConceptsAsync(_app, "missing", Ct));
    }

    [Fact]
    public async Task Saving_again_replaces_the_embedding_and_the_concepts()
    {
        await Index.SaveAsync(_app, "in1", "general", "v1", Vector(1), [("dog", 0.9f), ("cat", 0.1f)], "c1", Ct);
        await Index.SaveAsync(_app, "in1", "general", "v1", Vector(2, 256), [("bird", 0.5f)], "c1", Ct);

        Assert.Equal(Vector(2, 256), (await Index.FindEmbeddingAsync(_app, "in1", Ct))?.Vector);
        Assert.Equal([("bird", 0.5f)], await Index.FindConceptsAsync(_app, "in1", Ct));
    }

    [Fact]
    public async Task Remove_purge_and_rename_reach_every_row_of_the_app()
    {
        var other = NewApp();
        foreach (var id in new[] { "a", "b", "c" })
        {
            await Index.SaveAsync(_app, id, "general", "v1", Vector(id[0]), [("x", 1f)], "c1", Ct);
        }

        await Index.SaveAsync(other, "a", "general", "v1", Vector(9), [("x", 1f)], "c1", Ct);

        await Index.RemoveAsync(_app, ["a", "missing"], Ct);
        Assert.Null(await Index.FindEmbeddingAsync(_app, "a", Ct));
        Assert.Empty(await Index.FindConceptsAsync(_app, "a", Ct));
        Assert.NotNull(await Index.FindEmbeddingAsync(other, "a", Ct));

        var renamed = NewApp();
        await Index.RenameAppAsync(_app, renamed, Ct);
        Assert.Null(await Index.FindEmbeddingAsync(_app, "b", Ct));
        Assert.Equal(Vector('b'), (await Index.FindEmbeddingAsync(renamed, "b", Ct))?.Vector);
        Assert.Equal([("x", 1f)], await Index.FindConceptsAsync(renamed, "c", Ct));

        await Index.PurgeAppAsync(renamed, Ct);
        Assert.Null(await Index.FindEmbeddingAsync(renamed, "b", Ct));
        Assert.Empty(await Index.FindConceptsAsync(renamed, "c", Ct));
        Assert.NotNull(await Index.FindEmbeddingAsync(other, "a", Ct));
    }

    [Fact]
    public async Task Two_nodes_saving_one_input_at_once_leave_one_writers_rows()
    {
        var second = new SqlInputIndexStore(Open(), Time);
        for (var round = 0; round < 8; round++)
        {
            var id = "race" + round;
            await Task.WhenAll(
                Task.Run(() => Index.SaveAsync(_app, id, "general", "v1", Vector(1), [("one", 1f), ("shared", 0.5f)], "c1", Ct), Ct),
                Task.Run(() => second.SaveAsync(_app, id, "general", "v1", Vector(2), [("two", 1f), ("shared", 0.25f)], "c1", Ct), Ct));

            var vector = (await Index.FindEmbeddingAsync(_app, id, Ct))?.Vector;
            var concepts = await Index.FindConceptsAsync(_app, id, Ct);
            if (vector?.SequenceEqual(Vector(1)) == true)
            {
                Assert.Equal([("one", 1f), ("shared", 0.5f)], concepts);
            }
            else
            {
                Assert.Equal(Vector(2), vector);
                Assert.Equal([("two", 1f), ("shared", 0.25f)], concepts);
            }
        }
    }
}

public sealed class SqliteInputIndexStoreTests(StoreFixture<SqliteBackend> fixture)
    : InputIndexStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresInputIndexStoreTests(StoreFixture<PostgresBackend> fixture)
    : InputIndexStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
