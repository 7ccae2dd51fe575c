using Clarifai.Api.Status;
using Iris.Storage.Models;

namespace Iris.Inference.Training;

/// <summary>A training's result: the head, or the Clarifai status it failed with and why.</summary>
public sealed record TrainingOutcome(ClassifierHead? Head, StatusCode Code, string Details, int Examples, int Iterations)
{
    public static TrainingOutcome Failed(StatusCode code, string details) => new(null, code, details, 0, 0);
}

/// <summary>
/// Builds the examples of an embedding-classifier version and trains its head. Examples are the inputs that carry an
/// input-level label on at least one of the model's concepts and have an embedding of the base embedder. A concept's
/// positives are the inputs labelled with it at value 1. Not mutually exclusive (one-vs-rest): every other example is a
/// negative of that concept — labelled 0 on it, or positive only for other concepts — and so is every enrichment
/// negative. Mutually exclusive (softmax): an example's target is spread over its positive concepts; examples without
/// any, and the enrichment negatives, form a background class that predictions do not report.
/// </summary>
public static class EmbeddingClassifierTrainer
{
    public static TrainingOutcome Train(TrainingSpec spec, IReadOnlyList<TrainingLabel> labels, IReadOnlyDictionary<string, float[]> embeddings, IReadOnlyList<float[]> negatives,
        TrainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (spec.Concepts.Count == 0)
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingInvalidParams, "The version names no concept: set output_info.data.concepts.");
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 0; c < spec.Concepts.Count; c++)
        {
            index.TryAdd(spec.Concepts[c].Id, c);
        }

        // Per input: its label per concept (1, 0) where it has one.
        var inputs = new SortedDictionary<string, Dictionary<int, float>>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            if (index.TryGetValue(label.ConceptId, out var c) && embeddings.ContainsKey(label.InputId))
            {
                if (!inputs.TryGetValue(label.InputId, out var byConcept))
                {
                    inputs[label.InputId] = byConcept = [];
                }

                byConcept[c] = label.Value > 0 ? 1f : 0f;
            }
        }

        if (inputs.Count == 0)
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingNoData,
                "No input processed (30000) when the version was created carries a label on the model's concepts: add inputs with these concepts and wait for them to be processed.");
        }

        var positives = new int[spec.Concepts.Count];
        var unlabelledNegatives = 0;
        foreach (var byConcept in inputs.Values)
        {
            var any = false;
            foreach (var (c, v) in byConcept)
            {
                if (v > 0)
                {
                    positives[c]++;
                    any = true;
                }
            }

            unlabelledNegatives += any ? 0 : 1;
        }

        var missing = spec.Concepts.Where((_, c) => positives[c] == 0).Select(d => d.Id).ToArray();
        if (missing.Length == spec.Concepts.Count)
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingNoPositives, "No input is labelled with any of the model's concepts at value 1 (every label is a negative).");
        }

        if (missing.Length > 0)
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingNoPositives, $"These concepts have no positive example (an input labelled with value 1): {string.Join(", ", missing)}.");
        }

        var dimensions = embeddings[inputs.Keys.First()].Length;
        var usable = negatives.Where(n => n.Length == dimensions).ToArray();
        var hasNegatives = unlabelledNegatives > 0 || usable.Length > 0;
        var exampleNegatives = spec.Concepts.Count > 1 || hasNegatives;
        if (!exampleNegatives || (!spec.MutuallyExclusive && spec.Concepts.Count == 1 && !hasNegatives))
        {
            return TrainingOutcome.Failed(StatusCode.ModelTrainingInsufficientData,
                $"Concept '{spec.Concepts[0].Id}' has positive examples but no negatives: label inputs with value 0 for it, add another concept, or keep train_info.params.enrich_dataset \"Automatic\".");
        }

        var classes = spec.MutuallyExclusive ? spec.Concepts.Count + (hasNegatives ? 1 : 0) : spec.Concepts.Count;
        var count = inputs.Count + usable.Length;
        var features = new float[count * dimensions];
        var targets = new float[count * classes];
        var weights = new float[count];
        var row = 0;
        foreach (var (inputId, byConcept) in inputs)
        {
            embeddings[inputId].AsSpan().CopyTo(features.AsSpan(row * dimensions, dimensions));
            var target = targets.AsSpan(row * classes, classes);
            var positive = byConcept.Where(p => p.Value > 0).Select(p => p.Key).ToArray();
            if (spec.MutuallyExclusive)
            {
                if (positive.Length == 0)
                {
                    target[classes - 1] = 1;
                }
                else
                {
                    foreach (var c in positive)
                    {
                        target[c] = 1f / positive.Length;
                    }
                }
            }
            else
            {
                foreach (var c in positive)
                {
                    target[c] = 1;
                }
            }

            weights[row++] = 1;
        }

        foreach (var negative in usable)
        {
            negative.AsSpan().CopyTo(features.AsSpan(row * dimensions, dimensions));
            if (spec.MutuallyExclusive)
            {
                targets[row * classes + classes - 1] = 1;
            }

            weights[row++] = 1;
        }

        var set = new TrainingSet(features, count, dimensions, targets, classes, weights);
        var (w, b, iterations) = LogisticTrainer.Train(set, spec.MutuallyExclusive, options, cancellationToken);
        var head = new ClassifierHead(spec.MutuallyExclusive ? HeadKind.Softmax : HeadKind.OneVsRest, dimensions, spec.Concepts.Select(c => c.Id).ToArray(), classes, w, b);
        return new TrainingOutcome(head, StatusCode.ModelTrained, $"Trained on {inputs.Count} labelled inputs and {usable.Length} enrichment negatives.", count, iterations);
    }
}
