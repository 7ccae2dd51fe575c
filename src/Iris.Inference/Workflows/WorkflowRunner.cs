using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Inputs;
using Iris.Core.Media;
using Iris.Imaging;
using Iris.Inference.Predict;
using SkiaSharp;
using Task = System.Threading.Tasks.Task;

namespace Iris.Inference.Workflows;

/// <summary>One input's answer: each node's filtered output (in the workflow's node order) or the status the input failed with.</summary>
public sealed record WorkflowInputResult(IReadOnlyList<Data>? Outputs, IrisException? Error, StoredInput? Stored);

/// <summary>
/// Runs a checked workflow on inputs (PostWorkflowResults). Each input's bytes are read once and decoded once, and the
/// one image serves every node. Nodes run as soon as their parent is done, so independent nodes run concurrently (their
/// networks batch in the engine). A node fed by a detector runs on the crop of each region the detector kept (after the
/// detector's own output config), and answers those regions with its own data; one fed by a classifier or embedder reads
/// what its parent read. Inputs run concurrently; an input's failure is its own result.
/// </summary>
public sealed class WorkflowRunner(ImagePredictor predictor)
{
    /// <summary>Inputs per workflow predict (Clarifai's limit and the SDK's <c>MAX_WORKFLOW_PREDICT_INPUTS</c>).</summary>
    public const int MaxInputs = 32;

    /// <summary>
    /// The crop a detector's child reads: a square 1.4 times the region's longer side, centred on it, clipped to the image
    /// — the context Iris' face networks are made for (the Human library enlarges face boxes the same way).
    /// </summary>
    public const float CropScale = 1.4f;

    /// <summary>One result per source, in order; <paramref name="filters"/>[i] filters node i's output.</summary>
    public async Task<WorkflowInputResult[]> RunAsync(WorkflowPlan plan, AppRef app, IReadOnlyList<ImageSource> sources, IReadOnlyList<ConceptFilter> filters, CancellationToken cancellationToken)
    {
        if (sources.Count == 0)
        {
            throw IrisException.InvalidRequest("Provide at least one input in 'inputs'.");
        }

        if (sources.Count > MaxInputs)
        {
            throw IrisException.InvalidRequest($"At most {MaxInputs} inputs can be run through a workflow in one request; got {sources.Count}.");
        }

        var running = new Task<WorkflowInputResult>[sources.Count];
        for (var i = 0; i < running.Length; i++)
        {
            running[i] = RunOneAsync(plan, app, sources[i], filters, cancellationToken);
        }

        return await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task<WorkflowInputResult> RunOneAsync(WorkflowPlan plan, AppRef app, ImageSource source, IReadOnlyList<ConceptFilter> filters, CancellationToken cancellationToken)
    {
        StoredInput? stored = null;
        try
        {
            var read = await predictor.ReadAsync(app, source, cancellationToken).ConfigureAwait(false);
            stored = read.Stored;
            using var image = ImageDecoding.Decode(read.Bytes.Span, plan.DecodeMinSide, read.ContentType, plan.DecodeFitSide);
            var outputs = await RunGraphAsync(plan, image, filters, cancellationToken).ConfigureAwait(false);
            return new WorkflowInputResult(outputs, null, stored);
        }
        catch (IrisException e)
        {
            return new WorkflowInputResult(null, e, stored);
        }
    }

    private async Task<Data[]> RunGraphAsync(WorkflowPlan plan, DecodedImage image, IReadOnlyList<ConceptFilter> filters, CancellationToken cancellationToken)
    {
        var nodes = new Task<NodeRun>[plan.Nodes.Count];
        foreach (var i in plan.Order)
        {
            var parent = plan.Nodes[i].Parent;
            nodes[i] = parent < 0
                ? RunNodeAsync(plan.Nodes[i], filters[i], image, null, cancellationToken)
                : ThenAsync(nodes[parent], plan.Nodes[i], filters[i], image, cancellationToken);
        }

        try
        {
            var runs = await Task.WhenAll(nodes).ConfigureAwait(false);
            return runs.Select(r => r.Output).ToArray();
        }
        finally
        {
            // Every crop was made for this input; each node's crops are disposed once all nodes are done.
            foreach (var node in nodes)
            {
                if (node.IsCompletedSuccessfully && node.Result.OwnsCrops)
                {
                    foreach (var crop in node.Result.Crops!)
                    {
                        crop.Image.Dispose();
                    }
                }
            }
        }
    }

    private async Task<NodeRun> ThenAsync(Task<NodeRun> parent, PlannedNode node, ConceptFilter filter, DecodedImage image, CancellationToken cancellationToken)
    {
        var from = await parent.ConfigureAwait(false);
        return await RunNodeAsync(node, filter, image, from.Crops, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs one node on the whole image (<paramref name="crops"/> null) or on each crop its detector parent handed down.</summary>
    private async Task<NodeRun> RunNodeAsync(PlannedNode node, ConceptFilter filter, DecodedImage image, IReadOnlyList<Crop>? crops, CancellationToken cancellationToken)
    {
        var model = node.Model;
        var cropsChildren = WorkflowGraph.Crops(model);
        if (crops is null)
        {
            var data = await model.PredictAsync(image, predictor.Engine, cancellationToken).ConfigureAwait(false);
            filter.Apply(data);
            return cropsChildren ? new NodeRun(data, CropRegions(image, data.Regions), OwnsCrops: true) : new NodeRun(data, null, OwnsCrops: false);
        }

        var perCrop = await Task.WhenAll(crops.Select(c => model.PredictAsync(c.Image, predictor.Engine, cancellationToken).AsTask())).ConfigureAwait(false);
        var output = new Data();
        var childCrops = cropsChildren ? new List<Crop>() : null;
        for (var c = 0; c < crops.Count; c++)
        {
            var found = perCrop[c];
            if (cropsChildren)
            {
                // A detector on a crop: its regions, moved back into the coordinates of the whole image.
                var mapped = found.Regions.Select(r => ToImage(r, crops[c].Box)).ToList();
                found.Regions.Clear();
                found.Regions.AddRange(mapped);
                filter.Apply(found);
                output.Regions.AddRange(found.Regions);
                childCrops!.AddRange(CropRegions(image, found.Regions));
                continue;
            }

            // A classifier or embedder on a crop: the parent's region, with this model's data.
            var region = crops[c].Region.Clone();
            region.Data = found;
            filter.Apply(found);
            output.Regions.Add(region);
        }

        if (filter.SelectedIds is not null || filter.MinValue > 0)
        {
            // Regions whose concepts the filter removed say nothing; embeddings (no concepts) always stay.
            var kept = output.Regions.Where(r => r.Data is null || r.Data.Concepts.Count > 0 || r.Data.Embeddings.Count > 0 || r.Data.Regions.Count > 0 || r.Data.Text is not null).ToList();
            output.Regions.Clear();
            output.Regions.AddRange(kept);
        }

        // A classifier's children read the same crops (owned by the detector's run); a detector's, the crops it made.
        return cropsChildren ? new NodeRun(output, childCrops, OwnsCrops: true) : new NodeRun(output, crops, OwnsCrops: false);
    }

    private static List<Crop> CropRegions(DecodedImage image, IEnumerable<Region> regions)
    {
        var crops = new List<Crop>();
        foreach (var region in regions)
        {
            if (region.RegionInfo?.BoundingBox is not { } box)
            {
                continue;
            }

            float cx = (box.LeftCol + box.RightCol) / 2 * image.Width, cy = (box.TopRow + box.BottomRow) / 2 * image.Height;
            var side = Math.Max((box.RightCol - box.LeftCol) * image.Width, (box.BottomRow - box.TopRow) * image.Height) * CropScale;
            var area = SKRectI.Round(new SKRect(cx - (side / 2), cy - (side / 2), cx + (side / 2), cy + (side / 2)));
            if (image.Crop(area) is { } crop)
            {
                // The crop's place in the image, as fractions: where a detector child's boxes map back to.
                var clipped = SKRectI.Intersect(area, new SKRectI(0, 0, image.Width, image.Height));
                var place = new BoundingBox
                {
                    TopRow = (float)clipped.Top / image.Height,
                    LeftCol = (float)clipped.Left / image.Width,
                    BottomRow = (float)clipped.Bottom / image.Height,
                    RightCol = (float)clipped.Right / image.Width,
                };
                var template = new Region { Id = region.Id, RegionInfo = region.RegionInfo.Clone(), Value = region.Value };
                crops.Add(new Crop(template, crop, place));
            }
        }

        return crops;
    }

    private static Region ToImage(Region region, BoundingBox place)
    {
        var mapped = region.Clone();
        if (mapped.RegionInfo?.BoundingBox is { } b)
        {
            float h = place.BottomRow - place.TopRow, w = place.RightCol - place.LeftCol;
            b.TopRow = place.TopRow + (b.TopRow * h);
            b.BottomRow = place.TopRow + (b.BottomRow * h);
            b.LeftCol = place.LeftCol + (b.LeftCol * w);
            b.RightCol = place.LeftCol + (b.RightCol * w);
        }

        return mapped;
    }

    /// <summary>A region a detector found, the crop of it its children read, and where the crop lies in the image.</summary>
    private sealed record Crop(Region Region, DecodedImage Image, BoundingBox Box);

    /// <summary>A node's filtered output and what its children read: null for the whole image, else one crop per region.</summary>
    private sealed record NodeRun(Data Output, IReadOnlyList<Crop>? Crops, bool OwnsCrops);
}
