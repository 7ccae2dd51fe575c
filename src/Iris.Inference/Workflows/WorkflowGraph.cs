using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Inference.Predict;

namespace Iris.Inference.Workflows;

/// <summary>One node of a checked workflow: its definition, the model version it runs and the node it reads from.</summary>
/// <param name="Node">The node as stored.</param>
/// <param name="Model">The model version it runs.</param>
/// <param name="Parent">Index of the node whose output feeds it; -1 when it reads the workflow's input.</param>
public sealed record PlannedNode(WorkflowNode Node, IImageModel Model, int Parent);

/// <summary>A workflow ready to run: its nodes in the workflow's order, each with its model, parents before children in <see cref="Order"/>.</summary>
public sealed class WorkflowPlan(IReadOnlyList<PlannedNode> nodes, IReadOnlyList<int> order)
{
    public IReadOnlyList<PlannedNode> Nodes { get; } = nodes;

    /// <summary>Node indexes, every parent before its children.</summary>
    public IReadOnlyList<int> Order { get; } = order;

    /// <summary>
    /// The shortest side an input must keep to serve every node (0 = full size): the image is decoded once, at the
    /// largest size any node needs. A node fed by a detector reads crops, so the graph then needs the full image.
    /// </summary>
    public int DecodeMinSide => Nodes.Count == 0 || Nodes.Any(n => n.Model.DecodeMinSide == 0 || n.Parent >= 0) ? 0 : Nodes.Max(n => n.Model.DecodeMinSide);

    /// <summary>
    /// The fit side of sharp's reduction on load when every node asks for the same one (a graph of the letterboxing
    /// detectors of one input size); otherwise 0 and the image is decoded by <see cref="DecodeMinSide"/>.
    /// </summary>
    public int DecodeFitSide => DecodeMinSide > 0 && Nodes.Select(n => n.Model.DecodeFitSide).Distinct().ToArray() is [> 0 and var side] ? side : 0;
}

/// <summary>
/// The rules a workflow graph must follow, checked when it is written and again before it runs. Each failure is a precise
/// status naming the node: 22104 for a node without an id or model, 22107 for duplicate ids, an input that is no node of
/// the workflow, more than one input, or a cycle; 21200 for a model or version that does not exist (found by the
/// caller); 22001 when a node takes an input its parent cannot give.
/// </summary>
public static class WorkflowGraph
{
    /// <summary>Nodes per workflow: far more than any real graph, small enough that checking and running stay cheap.</summary>
    public const int MaxNodes = 64;

    /// <summary>Checks ids and edges (no models needed); returns the node order, parents first, and each node's parent.</summary>
    public static (int[] Order, int[] Parents) CheckShape(IReadOnlyList<WorkflowNode> nodes)
    {
        if (nodes.Count > MaxNodes)
        {
            throw new IrisException(StatusCode.WorkflowInvalidArgument, $"A workflow has at most {MaxNodes} nodes; this one has {nodes.Count}.");
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (node.Id.Length == 0)
            {
                throw new IrisException(StatusCode.WorkflowInvalidArgument, $"Node {i + 1} of the workflow has no id: every node needs one, unique in the workflow.");
            }

            if (node.Model is not { Id.Length: > 0 })
            {
                throw new IrisException(StatusCode.WorkflowInvalidArgument, $"Node '{node.Id}' names no model: set model.id (and optionally model.model_version.id).");
            }

            if (!index.TryAdd(node.Id, i))
            {
                throw new IrisException(StatusCode.WorkflowInvalidGraph, $"Node id '{node.Id}' is used by more than one node: node ids must be unique in a workflow.");
            }
        }

        var parents = new int[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            var inputs = nodes[i].NodeInputs;
            if (inputs.Count > 1)
            {
                throw new IrisException(StatusCode.WorkflowInvalidGraph,
                    $"Node '{nodes[i].Id}' has {inputs.Count} node_inputs; Iris runs each node on one input (the workflow's input, or one other node's output).");
            }

            if (inputs.Count == 0)
            {
                parents[i] = -1;
                continue;
            }

            var from = inputs[0].NodeId;
            if (from == nodes[i].Id)
            {
                throw new IrisException(StatusCode.WorkflowInvalidGraph, $"Node '{nodes[i].Id}' takes its own output as input: a workflow graph cannot have cycles.");
            }

            if (!index.TryGetValue(from, out var parent))
            {
                throw new IrisException(StatusCode.WorkflowInvalidGraph, $"Node '{nodes[i].Id}' takes input from node '{from}', which is not a node of this workflow.");
            }

            parents[i] = parent;
        }

        // With one parent per node, a cycle is a walk up the parents that comes back to where it started.
        var order = new List<int>(nodes.Count);
        var state = new byte[nodes.Count]; // 0 unseen, 1 on the current walk, 2 placed
        for (var i = 0; i < nodes.Count; i++)
        {
            var walk = new List<int>();
            var at = i;
            while (at >= 0 && state[at] == 0)
            {
                state[at] = 1;
                walk.Add(at);
                at = parents[at];
            }

            if (at >= 0 && state[at] == 1)
            {
                var cycle = walk.SkipWhile(n => n != at).Select(n => $"'{nodes[n].Id}'").Reverse().ToList();
                cycle.Add(cycle[0]);
                throw new IrisException(StatusCode.WorkflowInvalidGraph, $"Nodes {string.Join(" → ", cycle)} form a cycle: a workflow graph cannot have cycles.");
            }

            walk.Reverse();
            foreach (var n in walk)
            {
                state[n] = 2;
                order.Add(n);
            }
        }

        return (order.ToArray(), parents);
    }

    /// <summary>
    /// The plan of a graph whose models were found (<paramref name="models"/>[i] runs node i): checks that each node can take
    /// what its parent gives. Every Iris model reads images; a classifier or embedder hands its children the image it read,
    /// a detector the crop of each region it found, a segmenter masks, which no image model can read.
    /// </summary>
    public static WorkflowPlan Plan(IReadOnlyList<WorkflowNode> nodes, IReadOnlyList<IImageModel> models)
    {
        var (order, parents) = CheckShape(nodes);
        var planned = new PlannedNode[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            planned[i] = new PlannedNode(nodes[i], models[i], parents[i]);
        }

        foreach (var i in order)
        {
            var needs = Takes(models[i].Descriptor.TypeId);
            var gives = Gives(planned, i, out var from);
            if (!string.Equals(needs, gives, StringComparison.Ordinal))
            {
                var source = from < 0 ? "the workflow's input gives images" : $"its input node '{nodes[from].Id}' ({models[from].Descriptor.TypeId}) gives {gives}";
                throw new IrisException(StatusCode.WorkflowNoMatchingInput,
                    $"Node '{nodes[i].Id}' runs model '{models[i].Descriptor.Id}' ({models[i].Descriptor.TypeId}), which takes {needs}, but {source}.");
            }
        }

        return new WorkflowPlan(planned, order);
    }

    /// <summary>Whether a node's output reaches its children as one crop per region (its model is a detector).</summary>
    public static bool Crops(IImageModel model) => string.Equals(model.Descriptor.TypeId, "visual-detector", StringComparison.Ordinal);

    private static string Takes(string typeId) => typeId.StartsWith("text-", StringComparison.Ordinal) ? "text" : "images";

    /// <summary>What node <paramref name="i"/> receives: images (the input or crops) or masks; <paramref name="from"/> is the node that made it.</summary>
    private static string Gives(PlannedNode[] nodes, int i, out int from)
    {
        from = nodes[i].Parent;
        if (from < 0)
        {
            return "images";
        }

        var type = nodes[from].Model.Descriptor.TypeId;
        if (string.Equals(type, "visual-segmenter", StringComparison.Ordinal))
        {
            return "masks";
        }

        // A detector gives crops (images); a classifier or embedder passes on what it read.
        return Crops(nodes[from].Model) ? "images" : Gives(nodes, from, out _);
    }
}
