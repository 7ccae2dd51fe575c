using System.Globalization;
using System.Runtime.InteropServices;
using Iris.Core.Apps;
using Iris.Core.Ingestion;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;
using Iris.Storage;
using Microsoft.Data.Sqlite;

namespace Iris.Inference.Indexing;

/// <summary>Schema of the inference area: what the base workflow computed for each input.</summary>
public sealed class InferenceMigrations : IMigrationSet
{
    public string Area => "inference";

    public IReadOnlyList<Migration> Migrations { get; } =
    [
        new(1, "input embeddings and predicted concepts", """
            CREATE TABLE inference_input_embeddings (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              model_id TEXT NOT NULL,
              model_version_id TEXT NOT NULL,
              num_dimensions INTEGER NOT NULL,
              vector BLOB NOT NULL,            -- float32 little-endian, num_dimensions values
              created_at TEXT NOT NULL,
              PRIMARY KEY (user_id, app_id, input_id, model_version_id)
            );
            CREATE TABLE inference_input_concepts (
              user_id TEXT NOT NULL,
              app_id TEXT NOT NULL,
              input_id TEXT NOT NULL,
              model_version_id TEXT NOT NULL,
              concept_id TEXT NOT NULL,
              value REAL NOT NULL,
              PRIMARY KEY (user_id, app_id, input_id, model_version_id, concept_id)
            );
            CREATE INDEX inference_input_concepts_by_concept ON inference_input_concepts (user_id, app_id, concept_id, value);
            """),
    ];
}

/// <summary>An input's stored base-workflow embedding.</summary>
public sealed record InputEmbedding(string InputId, string ModelVersionId, float[] Vector);

/// <summary>
/// Where base-workflow outputs are kept, keyed by app: the search and training work reads them. SQLite here; the
/// interface is what a PostgreSQL store would implement.
/// </summary>
public interface IInputIndexStore
{
    ValueTask SaveAsync(AppRef app, string inputId, string modelId, string modelVersionId, float[] vector, IReadOnlyList<(string ConceptId, float Value)> concepts, string conceptsVersionId, CancellationToken cancellationToken);

    ValueTask<InputEmbedding?> FindEmbeddingAsync(AppRef app, string inputId, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<(string ConceptId, float Value)>> FindConceptsAsync(AppRef app, string inputId, CancellationToken cancellationToken);

    ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken);
}

internal sealed class SqliteInputIndexStore(SqliteDatabase database) : IInputIndexStore
{
    public async ValueTask SaveAsync(AppRef app, string inputId, string modelId, string modelVersionId, float[] vector, IReadOnlyList<(string ConceptId, float Value)> concepts, string conceptsVersionId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var upsert = connection.CreateCommand())
        {
            upsert.Transaction = transaction;
            upsert.CommandText = """
                INSERT OR REPLACE INTO inference_input_embeddings (user_id, app_id, input_id, model_id, model_version_id, num_dimensions, vector, created_at)
                VALUES ($u, $a, $i, $m, $v, $n, $vec, $at);
                DELETE FROM inference_input_concepts WHERE user_id = $u AND app_id = $a AND input_id = $i;
                """;
            upsert.Parameters.AddWithValue("$u", app.UserId);
            upsert.Parameters.AddWithValue("$a", app.AppId);
            upsert.Parameters.AddWithValue("$i", inputId);
            upsert.Parameters.AddWithValue("$m", modelId);
            upsert.Parameters.AddWithValue("$v", modelVersionId);
            upsert.Parameters.AddWithValue("$n", vector.Length);
            upsert.Parameters.AddWithValue("$vec", MemoryMarshal.AsBytes(vector.AsSpan()).ToArray());
            upsert.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var (conceptId, value) in concepts)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT OR REPLACE INTO inference_input_concepts (user_id, app_id, input_id, model_version_id, concept_id, value) VALUES ($u, $a, $i, $v, $c, $val);";
            insert.Parameters.AddWithValue("$u", app.UserId);
            insert.Parameters.AddWithValue("$a", app.AppId);
            insert.Parameters.AddWithValue("$i", inputId);
            insert.Parameters.AddWithValue("$v", conceptsVersionId);
            insert.Parameters.AddWithValue("$c", conceptId);
            insert.Parameters.AddWithValue("$val", value);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<InputEmbedding?> FindEmbeddingAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = connection.CreateCommand();
        query.CommandText = "SELECT model_version_id, vector FROM inference_input_embeddings WHERE user_id = $u AND app_id = $a AND input_id = $i LIMIT 1;";
        query.Parameters.AddWithValue("$u", app.UserId);
        query.Parameters.AddWithValue("$a", app.AppId);
        query.Parameters.AddWithValue("$i", inputId);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var bytes = (byte[])reader.GetValue(1);
        return new InputEmbedding(inputId, reader.GetString(0), MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }

    public async ValueTask<IReadOnlyList<(string ConceptId, float Value)>> FindConceptsAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = connection.CreateCommand();
        query.CommandText = "SELECT concept_id, value FROM inference_input_concepts WHERE user_id = $u AND app_id = $a AND input_id = $i ORDER BY value DESC;";
        query.Parameters.AddWithValue("$u", app.UserId);
        query.Parameters.AddWithValue("$a", app.AppId);
        query.Parameters.AddWithValue("$i", inputId);
        var list = new List<(string, float)>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add((reader.GetString(0), (float)reader.GetDouble(1)));
        }

        return list;
    }

    public async ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var inputId in inputIds)
        {
            await using var delete = connection.CreateCommand();
            delete.CommandText = """
                DELETE FROM inference_input_embeddings WHERE user_id = $u AND app_id = $a AND input_id = $i;
                DELETE FROM inference_input_concepts WHERE user_id = $u AND app_id = $a AND input_id = $i;
                """;
            delete.Parameters.AddWithValue("$u", app.UserId);
            delete.Parameters.AddWithValue("$a", app.AppId);
            delete.Parameters.AddWithValue("$i", inputId);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// The base workflow at ingestion: each processed image input gets the general embedding and the general concepts
/// (those scoring at least <see cref="MinConceptValue"/>), stored in the inference area. Idempotent (upserts).
/// </summary>
public sealed class BaseWorkflowIndexer(InferenceEngine engine, ModelZoo zoo, IInputIndexStore store) : IInputIndexer
{
    /// <summary>Predicted concepts kept per input: the ones at or above this value.</summary>
    public const float MinConceptValue = 0.05f;

    public async ValueTask IndexAsync(IndexedInput input, CancellationToken cancellationToken)
    {
        var embedder = zoo.Find(GeneralEmbeddingModel.Id)!;
        var recognizer = zoo.Find(GeneralRecognitionModel.Id)!;
        var embedding = embedder.PredictAsync(input.Image, engine, cancellationToken);
        var concepts = recognizer.PredictAsync(input.Image, engine, cancellationToken);
        var vector = (await embedding.ConfigureAwait(false)).Embeddings[0].Vector.ToArray();
        var predicted = (await concepts.ConfigureAwait(false)).Concepts.Where(c => c.Value >= MinConceptValue).Select(c => (c.Id, c.Value)).ToArray();
        await store.SaveAsync(input.App, input.InputId, embedder.Descriptor.Id, embedder.Descriptor.VersionId, vector, predicted, recognizer.Descriptor.VersionId, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken) =>
        store.RemoveAsync(app, inputIds, cancellationToken);
}
