using System.Runtime.InteropServices;
using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Models;

namespace Iris.Storage.Vectors;

/// <summary>
/// What training reads: the input-level concept labels of an app's processed inputs (frozen when a model version is
/// created) and the base-workflow embeddings stored for them.
/// </summary>
public interface ITrainingData
{
    /// <summary>
    /// The input-level labels on <paramref name="conceptIds"/> of the inputs that are processed (30000) and not being
    /// deleted now. Pending, in-progress and failed inputs are not included.
    /// </summary>
    Task<IReadOnlyList<TrainingLabel>> ProcessedLabelsAsync(AppRef app, IReadOnlyList<string> conceptIds, CancellationToken cancellationToken);

    /// <summary>The embeddings of <paramref name="modelVersionId"/> stored for the app's inputs among <paramref name="inputIds"/>.</summary>
    Task<IReadOnlyDictionary<string, float[]>> EmbeddingsAsync(AppRef app, string modelVersionId, IReadOnlySet<string> inputIds, CancellationToken cancellationToken);
}

public sealed class SqlTrainingData(Database database) : ITrainingData
{
    /// <summary>Input status code of a processed input (INPUT_DOWNLOAD_SUCCESS).</summary>
    private const int Processed = 30000;

    public async Task<IReadOnlyList<TrainingLabel>> ProcessedLabelsAsync(AppRef app, IReadOnlyList<string> conceptIds, CancellationToken cancellationToken)
    {
        if (conceptIds.Count == 0)
        {
            return [];
        }

        var (list, parameters) = Sql.InList("c", conceptIds);
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        return await s.QueryAsync(r => new TrainingLabel(r.GetString(0), r.GetString(1), (float)Convert.ToDouble(r.GetValue(2), System.Globalization.CultureInfo.InvariantCulture)), $"""
            SELECT i.id, c.concept_id, c.value FROM inputs i
            JOIN annotations n ON n.user_id = i.user_id AND n.app_id = i.app_id AND n.input_id = i.id AND n.input_level = 1
            JOIN annotation_concepts c ON c.user_id = n.user_id AND c.app_id = n.app_id AND c.annotation_id = n.id
            WHERE i.user_id = @u AND i.app_id = @a AND i.status_code = @done AND i.deleting = 0 AND c.concept_id IN {list}
            ORDER BY i.id, c.concept_id;
            """, [("@u", app.UserId), ("@a", app.AppId), ("@done", Processed), .. parameters]).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<string, float[]>> EmbeddingsAsync(AppRef app, string modelVersionId, IReadOnlySet<string> inputIds, CancellationToken cancellationToken)
    {
        await using var s = await database.ReadAsync(cancellationToken).ConfigureAwait(false);
        // One scan of the app's embeddings of that version (a long IN list would not be cheaper, and its size is unbounded).
        var rows = await s.QueryAsync(r => (r.GetString(0), Sql.Bytes(r, 1)),
            "SELECT input_id, vector FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a AND model_version_id = @v;",
            ("@u", app.UserId), ("@a", app.AppId), ("@v", modelVersionId)).ConfigureAwait(false);
        var found = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (inputId, bytes) in rows)
        {
            if (inputIds.Contains(inputId))
            {
                found[inputId] = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            }
        }

        return found;
    }
}
