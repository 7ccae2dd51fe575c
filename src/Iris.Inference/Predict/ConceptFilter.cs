using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Inference.Zoo;

namespace Iris.Inference.Predict;

/// <summary>A concept named in <c>select_concepts</c>: by id or by name (case-sensitive; either may be empty).</summary>
public readonly record struct ConceptSelector(string Id, string Name);

/// <summary>
/// Which of a model's scores a predict returns: <c>select_concepts</c>, then <c>min_value</c>, then
/// <c>max_concepts</c>, on the concepts and on each region's concepts (CLARIFAI_FACTS.md 6.1).
/// </summary>
/// <param name="MaxConcepts">Largest number of concepts returned (not applied when concepts are selected).</param>
/// <param name="MinValue">Concepts and regions scoring below this are dropped; 0 keeps all.</param>
/// <param name="SelectedIds">The selected concept ids, or null when all concepts are candidates.</param>
/// <param name="Unmatched">Selectors that name no concept of the model (the answer is then 10010, naming them).</param>
public sealed record ConceptFilter(int MaxConcepts, float MinValue, IReadOnlySet<string>? SelectedIds, IReadOnlyList<string> Unmatched)
{
    /// <summary>Concepts returned when the request does not say (Clarifai's default).</summary>
    public const int DefaultMaxConcepts = 20;

    /// <summary>
    /// The filter for <paramref name="descriptor"/>: <paramref name="maxConcepts"/> 0 means the default; a
    /// <paramref name="minValue"/> outside [0, 1] or selectors of which none names a concept of the model → 21202.
    /// </summary>
    public static ConceptFilter Create(uint maxConcepts, float minValue, IReadOnlyList<ConceptSelector> select, ModelDescriptor descriptor)
    {
        if (minValue is < 0 or > 1 || float.IsNaN(minValue))
        {
            throw new IrisException(StatusCode.ModelInvalidArgument, $"output_config.min_value must be between 0 and 1, got {minValue}.");
        }

        HashSet<string>? selected = null;
        var unmatched = new List<string>();
        if (select.Count > 0)
        {
            selected = new HashSet<string>(StringComparer.Ordinal);
            foreach (var wanted in select)
            {
                var match = descriptor.Concepts.FirstOrDefault(c =>
                    (wanted.Id.Length > 0 && string.Equals(c.Id, wanted.Id, StringComparison.Ordinal)) ||
                    (wanted.Name.Length > 0 && string.Equals(c.Name, wanted.Name, StringComparison.Ordinal)));
                if (match is null)
                {
                    unmatched.Add(wanted.Id.Length > 0 ? wanted.Id : wanted.Name);
                }
                else
                {
                    selected.Add(match.Id);
                }
            }

            if (selected.Count == 0)
            {
                throw new IrisException(StatusCode.ModelInvalidArgument, $"None of select_concepts ({string.Join(", ", unmatched)}) is a concept of model '{descriptor.Id}'.");
            }
        }

        return new ConceptFilter(maxConcepts == 0 ? DefaultMaxConcepts : (int)Math.Min(maxConcepts, int.MaxValue), minValue, selected, unmatched);
    }

    /// <summary>Filters <paramref name="data"/> in place: its concepts, its regions (by value) and each region's concepts.</summary>
    public void Apply(Data data)
    {
        var filtered = Filter(data.Concepts);
        data.Concepts.Clear();
        data.Concepts.AddRange(filtered);
        var filtering = SelectedIds is not null || MinValue > 0;
        var regions = data.Regions.ToArray();
        data.Regions.Clear();
        foreach (var region in regions)
        {
            if (MinValue > 0 && region.Value < MinValue)
            {
                continue;
            }

            if (region.Data is { } rd && rd.Concepts.Count > 0)
            {
                var kept = Filter(rd.Concepts);
                rd.Concepts.Clear();
                rd.Concepts.AddRange(kept);
                if (filtering && kept.Count == 0)
                {
                    continue;
                }
            }

            data.Regions.Add(region);
        }
    }

    private List<Concept> Filter(IEnumerable<Concept> concepts) => concepts
        .Where(c => SelectedIds is null || SelectedIds.Contains(c.Id))
        .Where(c => c.Value >= MinValue)
        .OrderByDescending(c => c.Value)
        .Take(SelectedIds is null ? MaxConcepts : int.MaxValue)
        .ToList();
}
