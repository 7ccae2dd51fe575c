using Iris.Core.Apps;
using Iris.Core.Ingestion;
using Iris.Inference.Indexing;
using Iris.Inference.Predict;
using Iris.Inference.Workflows;
using Iris.Inference.Zoo;
using Iris.Storage;
using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Vectors;

namespace Iris.Inference.Tests;

/// <summary>The base workflow at ingestion, on a real photograph and a real SQLite database.</summary>
[Collection(EngineCollection.Name)]
public sealed class IndexerTests(EngineFixture fixture) : IDisposable
{
    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("iris-indexer-");

    [Fact]
    public async Task Indexing_stores_the_general_embedding_and_concepts_per_app_and_removing_forgets_them()
    {
        await using var database = new SqliteDatabase(_dataDir.FullName);
        await database.MigrateAsync(StorageAreas.Migrations, CancellationToken.None);
        var store = new SqlInputIndexStore(database, TimeProvider.System);
        // An app with no base workflow recorded (created before apps chose one) is indexed with General.
        var zoo = new ModelZoo();
        var bases = new AppBaseWorkflows(new SqlIdentityStore(database, TimeProvider.System), new PublicWorkflows(zoo), new ZooModelRegistry(zoo));
        IInputIndexer indexer = new BaseWorkflowIndexer(fixture.Engine, bases, store);
        var app = new AppRef("someone", "photos");
        var other = new AppRef("someone", "other");
        using var image = Repo.Decode(Repo.MetroNorth);

        await indexer.IndexAsync(new IndexedInput(app, "metro", image, "blob-key"), CancellationToken.None);
        // Idempotent: a crashed job runs again.
        await indexer.IndexAsync(new IndexedInput(app, "metro", image, "blob-key"), CancellationToken.None);

        var embedding = await store.FindEmbeddingAsync(app, "metro", CancellationToken.None);
        Assert.NotNull(embedding);
        Assert.Equal(GeneralEmbeddingModel.Dimensions, embedding.Vector.Length);
        Assert.Equal(new GeneralEmbeddingModel().Descriptor.VersionId, embedding.ModelVersionId);
        Assert.InRange(Math.Sqrt(embedding.Vector.Sum(v => v * v)), 0.999, 1.001);
        var concepts = await store.FindConceptsAsync(app, "metro", CancellationToken.None);
        Assert.Contains(concepts, c => c.ConceptId == "ai_HLmqFqBf" && c.Value >= 0.2f);
        Assert.Null(await store.FindEmbeddingAsync(other, "metro", CancellationToken.None));

        await indexer.RemoveAsync(app, ["metro"], CancellationToken.None);
        Assert.Null(await store.FindEmbeddingAsync(app, "metro", CancellationToken.None));
        Assert.Empty(await store.FindConceptsAsync(app, "metro", CancellationToken.None));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dataDir.Delete(recursive: true);
    }
}
