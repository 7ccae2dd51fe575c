using Clarifai.Api;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Predict;
using Iris.Inference.Workflows;
using Iris.Server.Api;
using Iris.Server.Models;
using Iris.Server.Seams;
using Status = Clarifai.Api.Status.Status;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Workflows;

/// <summary>PostWorkflowResults (CLARIFAI_FACTS.md 6.3): at most 32 inputs through a workflow's latest or given version.</summary>
internal sealed partial class WorkflowsModule
{
    private async ValueTask<PostWorkflowResultsResponse> PostWorkflowResultsAsync(PostWorkflowResultsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        if (request.WorkflowId.Length == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Name the workflow to run in the path (workflows/{workflow_id}/results).");
        }

        if (request.Inputs.Count > WorkflowRunner.MaxInputs)
        {
            throw IrisException.InvalidRequest($"At most {WorkflowRunner.MaxInputs} inputs can be run through a workflow in one request; got {request.Inputs.Count}.");
        }

        var (workflow, nodes) = await ResolveRunAsync(app, request.WorkflowId, request.VersionId, ct).ConfigureAwait(false);
        // The graph is checked again: a model may have gone, or the caller may not read a cross-app node's model.
        var plan = await models.PlanAsync(context, app, nodes, ct).ConfigureAwait(false);
        var filters = plan.Nodes.Select(n => FilterFor(n, request.OutputConfig)).ToArray();
        if (request.OutputConfig?.SelectConcepts is { Count: > 0 } selected && filters.All(f => f.SelectedIds is { Count: 0 }))
        {
            throw new IrisException(StatusCode.ModelInvalidArgument,
                $"None of select_concepts ({string.Join(", ", selected.Select(c => c.Id.Length > 0 ? c.Id : c.Name))}) is a concept of a model of workflow '{request.WorkflowId}'.");
        }

        var sources = request.Inputs.Select(PredictMapping.SourceOf).ToArray();
        var results = await runner.RunAsync(plan, app, sources, filters, ct).ConfigureAwait(false);

        var now = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        var trimmed = plan.Nodes.Select(n => ModelViews.Trimmed(n.Model.Descriptor)).ToArray();
        var response = new PostWorkflowResultsResponse { Workflow = workflow };
        for (var i = 0; i < results.Length; i++)
        {
            var r = results[i];
            var result = new WorkflowResult
            {
                Id = WorkflowViews.NewId(),
                CreatedAt = now,
                Input = PredictMapping.Echo(request.Inputs[i], sources[i], new PredictResult(null, r.Error, r.Stored)),
                Status = r.Error is { } e ? StatusWriter.From(e) : StatusWriter.Ok(),
            };
            if (r.Outputs is { } outputs)
            {
                for (var n = 0; n < plan.Nodes.Count; n++)
                {
                    if (plan.Nodes[n].Node.SuppressOutput)
                    {
                        continue;
                    }

                    result.Outputs.Add(new Output
                    {
                        Id = WorkflowViews.NewId(),
                        Status = StatusWriter.Ok(),
                        CreatedAt = now,
                        Model = trimmed[n].Clone(),
                        Data = outputs[n],
                    });
                }
            }

            response.Results.Add(result);
        }

        response.Status = Aggregate(response.Results);
        return response;
    }

    /// <summary>The workflow as the response names it and the nodes of the version to run (latest when <paramref name="versionId"/> is empty).</summary>
    private async ValueTask<(Workflow Workflow, IReadOnlyList<WorkflowNode> Nodes)> ResolveRunAsync(AppRef app, string workflowId, string versionId, CancellationToken ct)
    {
        if (await store.FindAsync(app, workflowId, ct).ConfigureAwait(false) is { } stored)
        {
            var view = WorkflowViews.Stored(stored);
            if (versionId.Length == 0 || versionId == stored.Latest.Id)
            {
                return (view, view.Nodes);
            }

            var version = await store.FindVersionAsync(app, workflowId, versionId, ct).ConfigureAwait(false)
                ?? throw new IrisException(StatusCode.WorkflowDoesNotExist, $"Workflow '{workflowId}' has no version '{versionId}'.");
            view.Version = WorkflowViews.Version(app, version);
            view.Nodes.Clear();
            view.Nodes.AddRange(view.Version.Nodes);
            return (view, view.Nodes);
        }

        var builtin = Builtin(workflowId)
            ?? throw new IrisException(StatusCode.WorkflowDoesNotExist, $"Workflow '{workflowId}' does not exist in app '{app}' or among the public workflows of clarifai/main.");
        if (versionId.Length > 0 && versionId != WorkflowViews.BuiltinVersionId(builtin))
        {
            throw new IrisException(StatusCode.WorkflowDoesNotExist, $"Workflow '{workflowId}' has no version '{versionId}'.");
        }

        var builtinView = WorkflowViews.Builtin(builtin);
        return (builtinView, builtinView.Nodes);
    }

    /// <summary>
    /// A node's output filter: the node's <c>output_info_override</c> (its <c>output_config</c> and <c>params</c>), then
    /// the request's <c>output_config</c>, whose set fields win. Selected concepts that a node's model does not know select
    /// nothing of that node (other nodes may know them).
    /// </summary>
    private static ConceptFilter FilterFor(PlannedNode node, OutputConfig? request)
    {
        uint max = 0;
        var min = 0f;
        var select = new List<ConceptSelector>();
        void Take(OutputConfig? config)
        {
            if (config is null)
            {
                return;
            }

            max = config.MaxConcepts != 0 ? config.MaxConcepts : max;
            min = config.MinValue != 0 ? config.MinValue : min;
            if (config.SelectConcepts.Count > 0)
            {
                select = [.. config.SelectConcepts.Select(c => new ConceptSelector(c.Id, c.Name))];
            }
        }

        if (node.Node.OutputInfoOverride is { } o)
        {
            Take(o.OutputConfig);
            if (o.Params is { } p)
            {
                if (p.Fields.TryGetValue("max_concepts", out var mc) && mc.KindCase == Value.KindOneofCase.NumberValue)
                {
                    max = (uint)Math.Clamp(mc.NumberValue, 0, uint.MaxValue);
                }

                if (p.Fields.TryGetValue("min_value", out var mv) && mv.KindCase == Value.KindOneofCase.NumberValue)
                {
                    min = (float)mv.NumberValue;
                }
            }
        }

        Take(request);
        var descriptor = node.Model.Descriptor;
        if (select.Count > 0 && !select.Any(s => descriptor.Concepts.Any(c => (s.Id.Length > 0 && c.Id == s.Id) || (s.Name.Length > 0 && c.Name == s.Name))))
        {
            var none = ConceptFilter.Create(max, min, [], descriptor);
            return none with { SelectedIds = new HashSet<string>(StringComparer.Ordinal) };
        }

        return ConceptFilter.Create(max, min, select, descriptor);
    }

    /// <summary>10000 when every input succeeded; 10010 when some failed; when all failed, their one status or 10020.</summary>
    private static Status Aggregate(IReadOnlyList<WorkflowResult> results)
    {
        var failed = results.Count(r => r.Status.Code != StatusCode.Success);
        if (failed == 0)
        {
            return StatusWriter.Ok();
        }

        if (failed < results.Count)
        {
            return new Status { Code = StatusCode.MixedStatus, Description = StatusCatalog.Describe(StatusCode.MixedStatus), Details = $"{failed} of {results.Count} inputs failed; see each result's status." };
        }

        return results.Select(r => r.Status.Code).Distinct().Count() == 1
            ? results[0].Status.Clone()
            : new Status { Code = StatusCode.Failure, Description = StatusCatalog.Describe(StatusCode.Failure), Details = "Every input failed; see each result's status." };
    }
}
