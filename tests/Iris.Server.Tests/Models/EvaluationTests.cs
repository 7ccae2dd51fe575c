using System.Net;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Models;

/// <summary>
/// Evaluation of a trained embedding-classifier by k-fold cross-validation on the job runner: 21303 → 21301 → 21300,
/// the summary and per-concept metrics on real photographs of distinct subjects (ROC AUC ≥ 0.9), Clarifai's minimums
/// (21315 / 21316), the legacy metrics RPCs and the evaluation RPCs, over gRPC and REST.
/// </summary>
public abstract class EvaluationTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : TrainingFixture
{
    private static readonly global::Grpc.Core.Metadata Pat = IrisFixture.PatMetadata;

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private async Task<string> TrainAsync(string app, string modelId, string[] concepts)
    {
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostModelsAsync(new PostModelsRequest { UserAppId = TrainingFixture.App(app), Models = { new Model { Id = modelId } } }, Pat)).Status.Code);
        var version = new ModelVersion { OutputInfo = new OutputInfo { Data = new Data() } };
        version.OutputInfo.Data.Concepts.AddRange(concepts.Select(c => new Concept { Id = c }));
        var posted = await iris.Grpc.PostModelVersionsAsync(new PostModelVersionsRequest { UserAppId = TrainingFixture.App(app), ModelId = modelId, ModelVersions = { version } }, Pat);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        Assert.Equal(StatusCode.ModelTrained, (await iris.WaitTrainedAsync(app, modelId, posted.Model.ModelVersion.Id)).Status.Code);
        return posted.Model.ModelVersion.Id;
    }

    private async Task<EvalMetrics> WaitEvaluatedAsync(string app, string evaluationId, FieldsValue? fields = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var got = await iris.Grpc.GetEvaluationAsync(new GetEvaluationRequest { UserAppId = TrainingFixture.App(app), EvaluationId = evaluationId, Fields = fields }, Pat);
            Assert.Equal(StatusCode.Success, got.Status.Code);
            if (got.EvalMetrics.Status.Code is not (StatusCode.ModelQueuedForEvaluation or StatusCode.ModelEvaluating))
            {
                return got.EvalMetrics;
            }

            Assert.True(DateTime.UtcNow < deadline, $"evaluation {evaluationId} still {got.EvalMetrics.Status.Code} after 120 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Cross_validation_on_distinct_photographs_scores_ROC_AUC_of_at_least_0_9_per_concept()
    {
        var app = await iris.CreateAppAsync("evaluated");
        var subjects = new[] { ("chelsea.png", "cat"), ("coffee.png", "coffee"), ("rocket.jpg", "rocket") };
        await iris.AddLabelledAsync(app, subjects.SelectMany(s => TrainingPhotos.Views(s.Item1, 12).Select((b, i) => ($"{s.Item2}-{i}", b, new[] { (s.Item2, 1f) }))));
        var versionId = await TrainAsync(app, "subjects", ["cat", "coffee", "rocket"]);

        var posted = await iris.Grpc.PostModelVersionEvaluationsAsync(new PostModelVersionEvaluationsRequest
        {
            UserAppId = TrainingFixture.App(app), ModelId = "subjects", ModelVersionId = versionId, EvalMetrics = { new EvalMetrics { Id = "kfold" } },
        }, Pat);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        Assert.Equal(StatusCode.ModelQueuedForEvaluation, posted.EvalMetrics[0].Status.Code);
        Assert.Equal("kfold", posted.EvalMetrics[0].Id);

        var all = new FieldsValue { BinaryMetrics = true, ConfusionMatrix = true, LabelCounts = true, TestSet = true };
        var metrics = await WaitEvaluatedAsync(app, "kfold", all);
        Assert.Equal(StatusCode.ModelEvaluated, metrics.Status.Code);
        Assert.True(metrics.Summary.MacroAvgRocAuc >= 0.9f, $"macro ROC AUC {metrics.Summary.MacroAvgRocAuc}");
        Assert.InRange(metrics.Summary.MacroAvgF1Score, 0.5f, 1f);
        Assert.Equal(3, metrics.BinaryMetrics.Count);
        foreach (var binary in metrics.BinaryMetrics)
        {
            Assert.True(binary.RocAuc >= 0.9f, $"{binary.Concept.Id}: ROC AUC {binary.RocAuc}");
            Assert.Equal(12u, binary.NumPos);
            Assert.Equal(24u, binary.NumNeg);
            Assert.Equal(36u, binary.NumTot);
            Assert.Equal(binary.RocCurve.Fpr.Count, binary.RocCurve.Tpr.Count);
            Assert.Equal(1f, binary.RocCurve.Tpr[^1]);
            Assert.Equal(binary.PrecisionRecallCurve.Precision.Count, binary.PrecisionRecallCurve.Recall.Count);
        }

        Assert.Equal(["cat", "coffee", "rocket"], metrics.ConfusionMatrix.ConceptIds);
        Assert.Equal(9, metrics.ConfusionMatrix.Matrix.Count);
        foreach (var concept in new[] { "cat", "coffee", "rocket" })
        {
            var row = metrics.ConfusionMatrix.Matrix.Where(e => e.Actual == concept).ToArray();
            Assert.Equal(concept, row.MaxBy(e => e.Value)!.Predicted);
        }

        Assert.All(metrics.LabelCounts.PositiveLabelCounts, l => Assert.Equal(12u, l.Count));
        Assert.Equal(36, metrics.TestSet.Count);
        var cat0 = metrics.TestSet.Single(t => t.Input.Id == "cat-0");
        Assert.Equal("cat", Assert.Single(cat0.GroundTruthConcepts).Id);
        Assert.Equal(3, cat0.PredictedConcepts.Count);

        // Without fields: the summary only.
        var summary = await WaitEvaluatedAsync(app, "kfold");
        Assert.Empty(summary.BinaryMetrics);
        Assert.Empty(summary.TestSet);
        Assert.Null(summary.ConfusionMatrix);
        Assert.Equal(metrics.Summary.MacroAvgRocAuc, summary.Summary.MacroAvgRocAuc);

        var listed = await iris.Grpc.ListModelVersionEvaluationsAsync(new ListModelVersionEvaluationsRequest { UserAppId = TrainingFixture.App(app), ModelId = "subjects", ModelVersionId = versionId }, Pat);
        Assert.Equal(["kfold"], listed.EvalMetrics.Select(e => e.Id).ToArray());

        // The legacy metrics RPCs over REST: POST …/metrics, then GET …/metrics shows the version's latest evaluation.
        var (status, started, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/admin/apps/{app}/models/subjects/versions/{versionId}/metrics", "{}"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(21303, started.GetProperty("model_version").GetProperty("metrics").GetProperty("status").GetProperty("code").GetInt32());
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var (_, got, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/admin/apps/{app}/models/subjects/versions/{versionId}/metrics"));
            var code = got.GetProperty("model_version").GetProperty("metrics").GetProperty("status").GetProperty("code").GetInt32();
            if (code == 21300)
            {
                Assert.True(got.GetProperty("model_version").GetProperty("metrics").GetProperty("summary").GetProperty("macro_avg_roc_auc").GetSingle() >= 0.9f);
                break;
            }

            Assert.Contains(code, new[] { 21303, 21301 });
            Assert.True(DateTime.UtcNow < deadline, "legacy metrics not ready after 120 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Evaluation_needs_two_concepts_and_ten_inputs_each()
    {
        var app = await iris.CreateAppAsync("too-small");
        await iris.AddLabelledAsync(app, [
            .. TrainingPhotos.Views("chelsea.png", 4).Select((b, i) => ($"cat-{i}", b, new[] { ("cat", 1f) })),
            .. TrainingPhotos.Views("coffee.png", 4).Select((b, i) => ($"coffee-{i}", b, new[] { ("coffee", 1f) })),
        ]);
        var two = await TrainAsync(app, "two", ["cat", "coffee"]);
        var one = await TrainAsync(app, "one", ["cat"]);

        var needInputs = await iris.Grpc.PostEvaluationsAsync(new PostEvaluationsRequest
        {
            UserAppId = TrainingFixture.App(app),
            EvalMetrics = { new EvalMetrics { Id = "few", Model = new Model { Id = "two", ModelVersion = new ModelVersion { Id = two } } } },
        }, Pat);
        Assert.Equal(StatusCode.Success, needInputs.Status.Code);
        var few = await WaitEvaluatedAsync(app, "few");
        Assert.Equal(StatusCode.ModelEvaluationNeedInputs, few.Status.Code);
        Assert.Contains("cat (4)", few.Status.Details, StringComparison.Ordinal);

        var single = await iris.Grpc.PostModelVersionEvaluationsAsync(new PostModelVersionEvaluationsRequest { UserAppId = TrainingFixture.App(app), ModelId = "one", ModelVersionId = one, EvalMetrics = { new EvalMetrics { Id = "single" } } }, Pat);
        Assert.Equal(StatusCode.Success, single.Status.Code);
        Assert.Equal(StatusCode.ModelEvaluationNeedLabels, (await WaitEvaluatedAsync(app, "single")).Status.Code);

        // Failed evaluations are listed only with show_failed_metrics.
        Assert.Empty((await iris.Grpc.ListEvaluationsAsync(new ListEvaluationsRequest { UserAppId = TrainingFixture.App(app) }, Pat)).EvalMetrics);
        Assert.Equal(2, (await iris.Grpc.ListEvaluationsAsync(new ListEvaluationsRequest { UserAppId = TrainingFixture.App(app), ShowFailedMetrics = true }, Pat)).EvalMetrics.Count);

        // A version that does not exist, a duplicate id and an unknown evaluation answer precisely.
        var missing = await iris.Grpc.PostModelVersionEvaluationsAsync(new PostModelVersionEvaluationsRequest { UserAppId = TrainingFixture.App(app), ModelId = "two", ModelVersionId = "nope" }, Pat);
        Assert.Equal(StatusCode.ModelDoesNotExist, missing.Status.Code);
        var duplicate = await iris.Grpc.PostModelVersionEvaluationsAsync(new PostModelVersionEvaluationsRequest { UserAppId = TrainingFixture.App(app), ModelId = "two", ModelVersionId = two, EvalMetrics = { new EvalMetrics { Id = "few" } } }, Pat);
        Assert.Equal(StatusCode.ModelInvalidArgument, duplicate.Status.Code);
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetEvaluationAsync(new GetEvaluationRequest { UserAppId = TrainingFixture.App(app), EvaluationId = "none" }, Pat)).Status.Code);
    }
}

public sealed class EvaluationTestsOnSqlite(TrainingFixture iris) : EvaluationTests<TrainingFixture>(iris);

public sealed class EvaluationTestsOnPostgres(PostgresTrainingFixture iris) : EvaluationTests<PostgresTrainingFixture>(iris);
