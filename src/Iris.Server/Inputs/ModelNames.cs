using System.Collections.Concurrent;
using Iris.Inference.Zoo;

namespace Iris.Server.Inputs;

/// <summary>
/// What a model annotation names besides its model version: the model's id and its concepts' names. The base workflows'
/// models are built-ins of <c>clarifai/main</c>, found here by version id; a version Iris no longer serves (weights
/// replaced since the input was indexed) keeps what the index recorded (the embedder's id; concept ids as names).
/// </summary>
internal sealed class ModelNames(ModelZoo? zoo)
{
    private readonly ConcurrentDictionary<string, (string ModelId, IReadOnlyDictionary<string, string> Concepts)> _byVersion = new(StringComparer.Ordinal);

    /// <summary>The built-in model of <paramref name="versionId"/>: its id (empty when unknown) and concept names by id.</summary>
    public (string ModelId, IReadOnlyDictionary<string, string> Concepts) Of(string versionId) => _byVersion.GetOrAdd(versionId, v =>
        zoo?.Models.FirstOrDefault(m => string.Equals(m.Descriptor.VersionId, v, StringComparison.Ordinal)) is { } model
            ? (model.Descriptor.Id, model.Descriptor.Concepts.GroupBy(c => c.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal))
            : (string.Empty, new Dictionary<string, string>(StringComparer.Ordinal)));
}
