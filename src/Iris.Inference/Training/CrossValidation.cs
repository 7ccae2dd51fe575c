using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Storage.Models;

namespace Iris.Inference.Training;

/// <summary>
/// Evaluation of an embedding-classifier version by k-fold cross-validation on the labels frozen with it (Clarifai's
/// transfer-learning evaluation): every labelled input is scored once by a head trained without its fold (the
/// enrichment negatives always train, never test). Needs at least <see cref="MinConcepts"/> concepts and
/// <see cref="MinInputsPerConcept"/> positive inputs per concept (else 21315 / 21316). Metrics are pooled over the
/// out-of-fold scores: per concept ROC AUC, ROC and precision-recall curves, F1 / precision / recall at
/// <see cref="Threshold"/>; the macro averages; a confusion matrix of average predicted values per actual concept;
/// the positive label counts; and the test set with predicted and ground-truth concepts.
/// </summary>
public static class CrossValidation
{
    public const int MinConcepts = 2;
    public const int MinInputsPerConcept = 10;
    public const int DefaultFolds = 5;
    public const float Threshold = 0.5f;

    /// <summary>The metrics (status 21300), or a failure status with details.</summary>
    public static EvalMetrics Evaluate(TrainingSpec spec, IReadOnlyList<TrainingLabel> labels, IReadOnlyDictionary<string, float[]> embeddings, IReadOnlyList<float[]> negatives,
        int folds = DefaultFolds, TrainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (spec.Concepts.Count < MinConcepts)
        {
            return Failed(StatusCode.ModelEvaluationNeedLabels, $"Evaluation needs at least {MinConcepts} concepts; the version has {spec.Concepts.Count}.");
        }

        var index = spec.Concepts.Select((c, i) => (c.Id, i)).ToDictionary(p => p.Id, p => p.i, StringComparer.Ordinal);
        var truth = new SortedDictionary<string, HashSet<int>>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            if (index.TryGetValue(label.ConceptId, out var c) && embeddings.ContainsKey(label.InputId))
            {
                if (!truth.TryGetValue(label.InputId, out var set))
                {
                    truth[label.InputId] = set = [];
                }

                if (label.Value > 0)
                {
                    set.Add(c);
                }
            }
        }

        var positives = new int[spec.Concepts.Count];
        foreach (var set in truth.Values)
        {
            foreach (var c in set)
            {
                positives[c]++;
            }
        }

        var short_ = spec.Concepts.Where((_, c) => positives[c] < MinInputsPerConcept).Select((d, _) => d.Id).ToArray();
        if (short_.Length > 0)
        {
            return Failed(StatusCode.ModelEvaluationNeedInputs,
                $"Evaluation needs at least {MinInputsPerConcept} positive inputs per concept; too few for: {string.Join(", ", short_.Select(id => $"{id} ({positives[index[id]]})"))}.");
        }

        // Folds by a stable hash of the input id, so an evaluation is reproducible.
        var ids = truth.Keys.ToArray();
        var fold = ids.Select(id => (int)(StableHash(id) % (uint)folds)).ToArray();
        var scores = new float[ids.Length][];
        for (var f = 0; f < folds; f++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var trainLabels = labels.Where(l => truth.ContainsKey(l.InputId) && fold[Array.BinarySearch(ids, l.InputId, StringComparer.Ordinal)] != f).ToArray();
            var test = Enumerable.Range(0, ids.Length).Where(i => fold[i] == f).ToArray();
            if (test.Length == 0)
            {
                continue;
            }

            var outcome = EmbeddingClassifierTrainer.Train(spec, trainLabels, embeddings, negatives, options, cancellationToken);
            if (outcome.Head is null)
            {
                return Failed(StatusCode.ModelEvaluationFailed, $"Fold {f + 1} of {folds} could not train: {outcome.Code} {outcome.Details}");
            }

            foreach (var i in test)
            {
                scores[i] = new float[spec.Concepts.Count];
                outcome.Head.Score(embeddings[ids[i]], scores[i]);
            }
        }

        return Metrics(spec, ids, truth.Values.ToArray(), scores);
    }

    private static EvalMetrics Metrics(TrainingSpec spec, string[] ids, HashSet<int>[] truth, float[][] scores)
    {
        var metrics = new EvalMetrics
        {
            Status = new Clarifai.Api.Status.Status { Code = StatusCode.ModelEvaluated, Description = "Model was successfully evaluated." },
            Summary = new MetricsSummary(),
            ConfusionMatrix = new ConfusionMatrix(),
            LabelCounts = new LabelDistribution(),
        };
        var aucs = new List<double>();
        var f1s = new List<double>();
        var precisions = new List<double>();
        var recalls = new List<double>();
        for (var c = 0; c < spec.Concepts.Count; c++)
        {
            var concept = ConceptOf(spec, c);
            var points = Enumerable.Range(0, ids.Length).Select(i => (Score: scores[i][c], Positive: truth[i].Contains(c))).OrderByDescending(p => p.Score).ToArray();
            var pos = points.Count(p => p.Positive);
            var neg = points.Length - pos;
            var binary = new BinaryMetrics { NumPos = (uint)pos, NumNeg = (uint)neg, NumTot = (uint)points.Length, Concept = concept, RocCurve = new ROC(), PrecisionRecallCurve = new PrecisionRecallCurve() };

            // One ROC / PR point per distinct score, from the highest threshold down.
            int tp = 0, fp = 0;
            double auc = 0, averagePrecision = 0;
            var lastFpr = 0.0;
            var lastTpr = 0.0;
            for (var k = 0; k < points.Length; k++)
            {
                if (points[k].Positive)
                {
                    tp++;
                }
                else
                {
                    fp++;
                }

                if (k + 1 < points.Length && points[k + 1].Score == points[k].Score)
                {
                    continue;
                }

                var tpr = pos == 0 ? 0 : (double)tp / pos;
                var fpr = neg == 0 ? 0 : (double)fp / neg;
                var precision = (double)tp / (tp + fp);
                auc += (fpr - lastFpr) * (tpr + lastTpr) / 2;
                averagePrecision += (tpr - lastTpr) * precision;
                (lastFpr, lastTpr) = (fpr, tpr);
                binary.RocCurve.Fpr.Add((float)fpr);
                binary.RocCurve.Tpr.Add((float)tpr);
                binary.RocCurve.Thresholds.Add(points[k].Score);
                binary.PrecisionRecallCurve.Recall.Add((float)tpr);
                binary.PrecisionRecallCurve.Precision.Add((float)precision);
                binary.PrecisionRecallCurve.Thresholds.Add(points[k].Score);
            }

            var predictedPositive = points.Count(p => p.Score >= Threshold);
            var truePositive = points.Count(p => p.Score >= Threshold && p.Positive);
            var p = predictedPositive == 0 ? 0 : (double)truePositive / predictedPositive;
            var r = pos == 0 ? 0 : (double)truePositive / pos;
            var f1 = p + r == 0 ? 0 : 2 * p * r / (p + r);
            binary.RocAuc = (float)auc;
            binary.F1 = (float)f1;
            binary.AvgPrecision = (float)averagePrecision;
            metrics.BinaryMetrics.Add(binary);
            aucs.Add(auc);
            f1s.Add(f1);
            precisions.Add(p);
            recalls.Add(r);
            metrics.LabelCounts.PositiveLabelCounts.Add(new LabelCount { Concept = concept, Count = (uint)pos });
            metrics.ConfusionMatrix.ConceptIds.Add(concept.Id);
        }

        metrics.Summary.MacroAvgRocAuc = (float)aucs.Average();
        metrics.Summary.MacroStdRocAuc = (float)Std(aucs);
        metrics.Summary.MacroAvgF1Score = (float)f1s.Average();
        metrics.Summary.MacroStdF1Score = (float)Std(f1s);
        metrics.Summary.MacroAvgPrecision = (float)precisions.Average();
        metrics.Summary.MacroAvgRecall = (float)recalls.Average();

        // Average predicted value of each concept over the inputs of each actual concept.
        for (var actual = 0; actual < spec.Concepts.Count; actual++)
        {
            var rows = Enumerable.Range(0, ids.Length).Where(i => truth[i].Contains(actual)).ToArray();
            for (var predicted = 0; predicted < spec.Concepts.Count; predicted++)
            {
                metrics.ConfusionMatrix.Matrix.Add(new ConfusionMatrixEntry
                {
                    Actual = spec.Concepts[actual].Id,
                    Predicted = spec.Concepts[predicted].Id,
                    Value = rows.Length == 0 ? 0 : (float)rows.Average(i => scores[i][predicted]),
                    ActualConcept = ConceptOf(spec, actual),
                    PredictedConcept = ConceptOf(spec, predicted),
                });
            }
        }

        for (var i = 0; i < ids.Length; i++)
        {
            var entry = new EvalTestSetEntry { Input = new Input { Id = ids[i] } };
            for (var c = 0; c < spec.Concepts.Count; c++)
            {
                var concept = ConceptOf(spec, c);
                concept.Value = scores[i][c];
                entry.PredictedConcepts.Add(concept);
            }

            entry.GroundTruthConcepts.AddRange(truth[i].Order().Select(c => ConceptOf(spec, c)));
            metrics.TestSet.Add(entry);
        }

        return metrics;
    }

    private static Concept ConceptOf(TrainingSpec spec, int c) => new() { Id = spec.Concepts[c].Id, Name = spec.Concepts[c].Name, Value = 1 };

    private static double Std(List<double> values)
    {
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count);
    }

    private static EvalMetrics Failed(StatusCode code, string details) => new()
    {
        Status = new Clarifai.Api.Status.Status { Code = code, Description = code.ToString(), Details = details },
    };

    private static uint StableHash(string s)
    {
        var hash = 2166136261u;
        foreach (var ch in s)
        {
            hash = (hash ^ ch) * 16777619u;
        }

        return hash;
    }
}
