using Iris.Inference.Import.Onnx;

namespace Iris.Inference.Import;

/// <summary>
/// Graph clean-up after conversion: merges chains of Transpose nodes (dropping the ones that compose to
/// the identity, which is what NHWC/NCHW round trips become), then removes nodes and initializers nothing
/// reads. Pure rewiring: it never changes what the graph computes.
/// </summary>
internal static class TransposeOptimizer
{
    public static void Run(GraphProto graph)
    {
        var changed = true;
        while (changed)
        {
            changed = MergeTransposes(graph);
            changed |= RemoveDead(graph);
        }
    }

    private static bool MergeTransposes(GraphProto graph)
    {
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
        {
            foreach (var o in n.Output)
            {
                producer[o] = n;
            }
        }

        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        var changed = false;
        foreach (var n in graph.Node)
        {
            if (!string.Equals(n.OpType, "Transpose", StringComparison.Ordinal) ||
                !producer.TryGetValue(n.Input[0], out var first) ||
                !string.Equals(first.OpType, "Transpose", StringComparison.Ordinal))
            {
                continue;
            }

            var p1 = Perm(first);
            var p2 = Perm(n);
            if (p1.Length != p2.Length)
            {
                continue;
            }

            var combined = p2.Select(j => p1[j]).ToArray();
            var source = first.Input[0];
            if (combined.Select((p, i) => p == i).All(x => x) && !graphOutputs.Contains(n.Output[0]))
            {
                rename[n.Output[0]] = source;
            }
            else
            {
                n.Input[0] = source;
                n.Attribute.Clear();
                n.Attribute.Add(Attr.Ints("perm", combined));
            }

            changed = true;
        }

        if (rename.Count > 0)
        {
            foreach (var n in graph.Node)
            {
                for (var i = 0; i < n.Input.Count; i++)
                {
                    if (rename.TryGetValue(n.Input[i], out var to))
                    {
                        n.Input[i] = to;
                    }
                }
            }
        }

        return changed;
    }

    private static bool RemoveDead(GraphProto graph)
    {
        var used = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var before = graph.Node.Count;
        var keep = new List<NodeProto>();
        for (var i = graph.Node.Count - 1; i >= 0; i--)
        {
            var n = graph.Node[i];
            if (n.Output.Any(used.Contains))
            {
                keep.Add(n);
                foreach (var input in n.Input)
                {
                    used.Add(input);
                }
            }
        }

        keep.Reverse();
        graph.Node.Clear();
        graph.Node.AddRange(keep);
        var inits = graph.Initializer.Where(t => used.Contains(t.Name)).ToList();
        var initChanged = inits.Count != graph.Initializer.Count;
        graph.Initializer.Clear();
        graph.Initializer.AddRange(inits);
        return keep.Count != before || initChanged;
    }

    private static long[] Perm(NodeProto n) =>
        n.Attribute.First(a => string.Equals(a.Name, "perm", StringComparison.Ordinal)).Ints.ToArray();
}
