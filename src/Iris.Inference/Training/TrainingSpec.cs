using Clarifai.Api;
using Google.Protobuf.WellKnownTypes;
using Iris.Inference.Zoo;

namespace Iris.Inference.Training;

/// <summary>What <c>enrich_dataset</c> asks for.</summary>
public enum Enrichment
{
    /// <summary>Add the embedder's supplemental negatives when it has some (the default).</summary>
    Automatic,

    /// <summary>Train on the app's labelled inputs only.</summary>
    Disabled,
}

/// <summary>
/// The training settings of an embedding-classifier version, read from its stored <see cref="ModelVersion"/>: the
/// concepts (<c>output_info.data.concepts</c>), the base embedder (<c>input_info.base_embed_model</c>), mutual
/// exclusivity (<c>output_info.output_config.concepts_mutually_exclusive</c>) and enrichment
/// (<c>train_info.params.enrich_dataset</c>, or the legacy <c>closed_environment</c>: true → Disabled).
/// </summary>
public sealed record TrainingSpec(IReadOnlyList<ConceptDef> Concepts, string EmbedderId, bool MutuallyExclusive, Enrichment Enrich)
{
    public const string EnrichParam = "enrich_dataset";
    public const string ClosedEnvironmentParam = "closed_environment";

    /// <summary>The settings, or the reason they are invalid (answered as 21118).</summary>
    public static (TrainingSpec? Spec, string? Problem) Read(ModelVersion version)
    {
        var concepts = version.OutputInfo?.Data?.Concepts.Select(c => new ConceptDef(c.Id, c.Name.Length > 0 ? c.Name : c.Id)).ToArray() ?? [];
        var embedder = version.InputInfo?.BaseEmbedModel?.Id ?? string.Empty;
#pragma warning disable CS0612 // concepts_mutually_exclusive is deprecated in the proto, and what every client sends.
        var exclusive = version.OutputInfo?.OutputConfig?.ConceptsMutuallyExclusive ?? false;
#pragma warning restore CS0612
        var enrich = Enrichment.Automatic;
        if (version.TrainInfo?.Params is { } p && p.Fields.TryGetValue(EnrichParam, out var value))
        {
            if (value.KindCase != Value.KindOneofCase.StringValue)
            {
                return (null, $"train_info.params.{EnrichParam} must be \"Automatic\" or \"Disabled\".");
            }

            switch (value.StringValue)
            {
                case "Automatic":
                    break;
                case "Disabled":
                    enrich = Enrichment.Disabled;
                    break;
                default:
                    return (null, $"train_info.params.{EnrichParam} must be \"Automatic\" or \"Disabled\"; got \"{value.StringValue}\".");
            }
        }
        else if (ClosedEnvironment(version) is { } closed)
        {
            enrich = closed ? Enrichment.Disabled : Enrichment.Automatic;
        }

        return (new TrainingSpec(concepts, embedder, exclusive, enrich), null);
    }

    /// <summary>The legacy <c>closed_environment</c> flag where a Struct can carry it (the field itself left the proto).</summary>
    private static bool? ClosedEnvironment(ModelVersion version)
    {
        foreach (var s in new[] { version.TrainInfo?.Params, version.OutputInfo?.Params, version.OutputInfo?.OutputConfig?.HyperParams })
        {
            if (s is not null && s.Fields.TryGetValue(ClosedEnvironmentParam, out var v) && v.KindCase == Value.KindOneofCase.BoolValue)
            {
                return v.BoolValue;
            }
        }

        return null;
    }
}
