using System.Security.Cryptography;
using System.Text;
using Iris.Core.Apps;
using Iris.Storage.Db;

namespace Iris.Storage.Inputs;

/// <summary>
/// Model annotations (CLARIFAI_FACTS.md 8.3): the outputs the app's base workflow stored for an input, one annotation per
/// model version that ran on it — the embedder's (its embedding) and the concept model's (its predicted concepts). They
/// are read from the base-workflow index (<c>inference_input_embeddings</c>, <c>inference_input_concepts</c>), never
/// copied into <c>annotations</c>: they come and go with those rows, and so with their input.
/// </summary>
public static class ModelAnnotations
{
    /// <summary>
    /// The id of the model annotation of <paramref name="modelVersionId"/> on <paramref name="inputId"/>: the first 16 bytes
    /// of SHA-256 over <c>"model-annotation\n" + input id + "\n" + model version id</c> (UTF-8), as 32 lowercase hex digits.
    /// The same on every node and every call, and a valid id (1 to 48 characters of A-Z, a-z, 0-9, '_', '-').
    /// </summary>
    public static string IdOf(string inputId, string modelVersionId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("model-annotation\n" + inputId + "\n" + modelVersionId)).AsSpan(0, 16));

    /// <summary>The status every model annotation has: ANNOTATION_SUCCESS (the output is stored once the model ran).</summary>
    public const int Status = 24150;

    /// <summary>
    /// The (input, model version) behind each of <paramref name="ids"/> that names a model annotation of the app, read
    /// from the base-workflow index: its ids are hashes SQL cannot compute, so the app's (input, version) keys are read
    /// (only <paramref name="inputIds"/>' when given, only <paramref name="modelVersionId"/>'s when given) and hashed.
    /// </summary>
    internal static async Task<List<(string InputId, string ModelVersionId)>> OwnersAsync(
        DbSession s, AppRef app, IReadOnlyCollection<string> ids, IReadOnlyList<string> inputIds, string? modelVersionId)
    {
        var parameters = new List<(string, object?)> { ("@u", app.UserId), ("@a", app.AppId) };
        var where = "e.user_id = @u AND e.app_id = @a";
        if (inputIds.Count > 0)
        {
            var (list, p) = Sql.InList("ki", inputIds);
            where += $" AND e.input_id IN {list}";
            parameters.AddRange(p);
        }

        if (modelVersionId is not null)
        {
            where += " AND (e.model_version_id = @v OR e.concepts_version_id = @v)";
            parameters.Add(("@v", modelVersionId));
        }

        var keys = await s.QueryAsync(r => (r.GetString(0), r.GetString(1), r.GetString(2)),
            $"SELECT e.input_id, e.model_version_id, e.concepts_version_id FROM inference_input_embeddings e WHERE {where};", [.. parameters]).ConfigureAwait(false);
        var wanted = ids as IReadOnlySet<string> ?? ids.ToHashSet(StringComparer.Ordinal);
        return [.. keys.SelectMany(k => new[] { (k.Item1, k.Item2), (k.Item1, k.Item3) })
            .Where(p => p.Item2.Length > 0 && (modelVersionId is null || string.Equals(p.Item2, modelVersionId, StringComparison.Ordinal)) && wanted.Contains(IdOf(p.Item1, p.Item2)))];
    }
}

/// <summary>
/// What a model annotation stands for: <see cref="ModelVersionId"/>'s output on the input. <see cref="ModelId"/> is the
/// model's id where the index records it (the embedder's), else empty; <see cref="EmbedModelVersionId"/> the version of
/// the embedder of the same run. <see cref="Vector"/> (an embedding) or <see cref="Concepts"/> (the predicted concepts
/// kept, best first) are read only when asked for.
/// </summary>
public sealed record ModelOutputRow(string ModelId, string ModelVersionId, string EmbedModelVersionId, bool IsEmbedding, float[]? Vector, IReadOnlyList<(string ConceptId, float Value)>? Concepts);
