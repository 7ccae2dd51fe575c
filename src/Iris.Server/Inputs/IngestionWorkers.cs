using Iris.Storage.Blobs;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Fetching;
using Iris.Core.Ingestion;
using Iris.Core.Media;
using Iris.Imaging;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using SkiaSharp;

namespace Iris.Server.Inputs;

/// <summary>
/// The inputs area's jobs, run by the job runner: ingest (30001 → 30003 → 30000 or a failure status), purge deleted
/// inputs, freeze dataset versions. A failure that is the input's fault (bad URL, not an image, too large) fails the input
/// at once; anything else is a failed attempt, retried with back-off up to <see cref="IngestionOptions.MaxAttempts"/>
/// claims. Every step is idempotent, so a job whose process died runs again.
/// Ingestion runs in two pools: <see cref="IngestionOptions.Downloads"/> jobs at once (most of them waiting on a
/// download), of which <see cref="IngestionOptions.Workers"/> at a time decode, thumbnail and run the base workflow (the
/// CPU-bound part), so slow URLs hold only download slots and the decoding pool stays busy with inputs that are ready.
/// Their concurrent base-workflow calls are batched by the inference engine.
/// </summary>
internal sealed class IngestionWorkers(
    JobSignal signal,
    IInputStore store,
    IDatasetStore datasets,
    IBlobStore blobs,
    UrlFetcher fetcher,
    IEnumerable<IInputIndexer> indexers,
    IngestionOptions options,
    InputMapper mapper)
{
    private readonly IInputIndexer[] _indexers = [.. indexers];

    // Not disposed: lives as long as the container's singleton.
    private readonly SemaphoreSlim _cpu = new(options.Workers, options.Workers);

    /// <summary>Wakes this node's idle workers after new jobs were committed.</summary>
    public void Wake()
    {
        signal.Wake(JobKinds.Ingest);
        signal.Wake(JobKinds.Purge);
        signal.Wake(JobKinds.DatasetVersion);
    }

    /// <summary>The three kinds of the inputs area, as the job runner sees them.</summary>
    public IEnumerable<IJobHandler> Handlers() =>
    [
        new Handler(JobKinds.Ingest, options.Downloads, options.MaxAttempts, IngestAsync, (job, ct) =>
            store.FailInputAsync(job.App, job.Target, (int)StatusCode.InputFailed, GaveUp(job), ct))
        {
            MaxPerApp = options.EffectiveDownloadsPerApp,
        },
        // Purges never give up: the input is already invisible, and its rows and blobs must go eventually.
        new Handler(JobKinds.Purge, 1, 0, PurgeAsync, (_, _) => Task.CompletedTask),
        new Handler(JobKinds.DatasetVersion, 1, options.MaxAttempts, FreezeVersionAsync, (job, ct) =>
            job.Target.Split('/') is [var dataset, var version]
                ? datasets.SetDatasetVersionStateAsync(job.App, dataset, version, (int)StatusCode.DatasetVersionUnexpectedError, GaveUp(job), null, ct)
                : Task.CompletedTask),
    ];

    private static string GaveUp(Job job) => $"Processing failed after {job.Attempts} attempts; the input was kept, re-add it to try again.";

    private sealed class Handler(string kind, int concurrency, int maxAttempts, Func<Job, CancellationToken, Task<bool>> run, Func<Job, CancellationToken, Task> giveUp) : IJobHandler
    {
        public string Kind => kind;

        public int Concurrency => concurrency;

        public int MaxAttempts => maxAttempts;

        public int MaxPerApp { get; init; } = int.MaxValue;

        public Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken) => run(job, cancellationToken);

        public Task GiveUpAsync(Job job, CancellationToken cancellationToken) => giveUp(job, cancellationToken);
    }

    private async Task<bool> IngestAsync(Job item, CancellationToken ct)
    {
        var app = item.App;
        var row = await store.BeginProcessingAsync(app, item.Target, ct).ConfigureAwait(false);
        if (row is null)
        {
            return true;
        }

        if (row.Kind != InputKinds.Image)
        {
            await store.CompleteAsync(app, row.Id, ct).ConfigureAwait(false);
            return true;
        }

        try
        {
            await ProcessImageAsync(row, item, ct).ConfigureAwait(false);
        }
        catch (IrisException error)
        {
            // The input's own fault (or an indexer's verdict): final, with its specific status.
            await store.FailInputAsync(app, row.Id, (int)error.Code, error.Details, ct).ConfigureAwait(false);
        }

        return true;
    }

    private async Task ProcessImageAsync(InputRow row, Job item, CancellationToken ct)
    {
        var app = item.App;
        byte[] bytes;
        string? contentType = null;
        if (row.SourceBlob is not null)
        {
            bytes = await blobs.GetAsync(row.SourceBlob, ct).ConfigureAwait(false)
                ?? throw new IrisException(StatusCode.InputFailed, "The uploaded bytes of this input are missing from the blob store.");
        }
        else
        {
            var fetched = await fetcher.FetchAsync(UrlFetcher.ParseUrl(row.Url!), ct).ConfigureAwait(false);
            bytes = fetched.Bytes;
            contentType = fetched.ContentType;
        }

        if (bytes.Length > options.MaxImageBytes)
        {
            throw new IrisException(StatusCode.InputOverLimit, $"The image is {bytes.Length} bytes; the limit is {options.MaxImageBytes} bytes.");
        }

        await _cpu.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await DecodeAndIndexAsync(row, app, bytes, contentType, ct).ConfigureAwait(false);
        }
        finally
        {
            _cpu.Release();
        }
    }

    /// <summary>The CPU-bound part, run by at most <see cref="IngestionOptions.Workers"/> jobs at once.</summary>
    private async Task DecodeAndIndexAsync(InputRow row, AppRef app, byte[] bytes, string? contentType, CancellationToken ct)
    {
        using var image = ImageDecoding.Decode(bytes, contentType: contentType);
        var blobKey = row.SourceBlob ?? await blobs.PutAsync(bytes, ct).ConfigureAwait(false);
        var thumbKey = await blobs.PutAsync(Thumbnail(image, options.ThumbnailSize), ct).ConfigureAwait(false);
        foreach (var indexer in _indexers)
        {
            await indexer.IndexAsync(new IndexedInput(app, row.Id, image, blobKey), ct).ConfigureAwait(false);
        }

        if (!await store.CompleteImageAsync(app, row.Id, blobKey, thumbKey, image.Width, image.Height, image.Format, ColorMode(image.Bitmap), ct).ConfigureAwait(false))
        {
            // Deleted while processing: take back what the indexers recorded.
            foreach (var indexer in _indexers)
            {
                await indexer.RemoveAsync(app, [row.Id], ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A JPEG no larger than <paramref name="size"/> on its longest side (the <c>small</c> hosted size).</summary>
    private static byte[] Thumbnail(DecodedImage image, int size)
    {
        var scale = Math.Min(1.0, (double)size / Math.Max(image.Width, image.Height));
        var width = Math.Max(1, (int)Math.Round(image.Width * scale));
        var height = Math.Max(1, (int)Math.Round(image.Height * scale));
        using var resized = image.Bitmap.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKCubicResampler.Mitchell));
        using var encoded = resized.Encode(SKEncodedImageFormat.Jpeg, 85);
        return encoded.ToArray();
    }

    /// <summary>RGBA when any pixel is translucent, L when all are grey, RGB otherwise (one pass over the pixels).</summary>
    private static string ColorMode(SKBitmap bitmap)
    {
        var pixels = bitmap.GetPixelSpan();
        var grey = true;
        for (var i = 0; i + 3 < pixels.Length; i += 4)
        {
            if (pixels[i + 3] != 255)
            {
                return "RGBA";
            }

            grey &= pixels[i] == pixels[i + 1] && pixels[i + 1] == pixels[i + 2];
        }

        return grey ? "L" : "RGB";
    }

    private async Task<bool> PurgeAsync(Job item, CancellationToken ct)
    {
        foreach (var indexer in _indexers)
        {
            await indexer.RemoveAsync(item.App, [item.Target], ct).ConfigureAwait(false);
        }

        return await store.PurgeInputAsync(item.App, item.Target, ct).ConfigureAwait(false);
    }

    private async Task<bool> FreezeVersionAsync(Job item, CancellationToken ct)
    {
        if (item.Target.Split('/') is not [var datasetId, var versionId])
        {
            return true;
        }

        var app = item.App;
        var version = await datasets.GetDatasetVersionAsync(app, datasetId, versionId, ct).ConfigureAwait(false);
        if (version is null)
        {
            return true;
        }

        await datasets.SetDatasetVersionStateAsync(app, datasetId, versionId, (int)StatusCode.DatasetVersionInProgress, string.Empty, null, ct).ConfigureAwait(false);
        var items = new List<VersionItem>();
        ulong inputs = 0, unlabeled = 0, withMetadata = 0, withGeo = 0, regions = 0, boxes = 0, polygons = 0, positiveTags = 0, positiveRegionTags = 0;
        for (var page = 1; ; page++)
        {
            var links = await datasets.ListDatasetInputsAsync(app, datasetId, page, 500, ct).ConfigureAwait(false);
            if (links.Count == 0)
            {
                break;
            }

            var ids = links.Select(l => l.InputId).ToList();
            var rows = await store.ListInputsAsync(app, 1, ids.Count, null, ids, ct).ConfigureAwait(false);
            var annotations = await store.ListAnnotationsAsync(app, new AnnotationQuery([], ids, [], []), 1, int.MaxValue, ct).ConfigureAwait(false);
            var levels = annotations.Where(a => a.InputLevel).GroupBy(a => a.InputId).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            foreach (var row in rows)
            {
                var input = mapper.ToInput(app, row, levels.GetValueOrDefault(row.Id));
                var mine = new MultiAnnotationResponse();
                mine.Annotations.Add(annotations.Where(a => a.InputId == row.Id).Select(a => InputMapper.ToAnnotation(app, a)));
                items.Add(new VersionItem(row.Id, input.ToByteArray(), mine.ToByteArray()));
                inputs++;
                var all = mine.Annotations.Select(a => a.Data).ToList();
                unlabeled += all.All(d => d.Concepts.Count == 0 && d.Regions.Count == 0) ? 1u : 0u;
                withMetadata += input.Data.Metadata is { Fields.Count: > 0 } ? 1u : 0u;
                withGeo += input.Data.Geo is not null ? 1u : 0u;
                foreach (var d in all)
                {
                    positiveTags += (ulong)d.Concepts.Count(c => c.Value > 0);
                    regions += (ulong)d.Regions.Count;
                    boxes += (ulong)d.Regions.Count(r => r.RegionInfo?.BoundingBox is not null);
                    polygons += (ulong)d.Regions.Count(r => r.RegionInfo?.Polygon is not null);
                    positiveRegionTags += (ulong)d.Regions.Sum(r => r.Data?.Concepts.Count(c => c.Value > 0) ?? 0);
                }
            }
        }

        var body = DatasetVersion.Parser.ParseFrom(version.Body);
        body.Metrics["/"] = new DatasetVersionMetrics
        {
            InputsCount = inputs,
            UnlabeledInputsCount = unlabeled,
            InputsWithMetadataCount = withMetadata,
            InputsWithGeoCount = withGeo,
            RegionsCount = regions,
            BoundingBoxesCount = boxes,
            PolygonsCount = polygons,
            PositiveInputTagsCount = positiveTags,
            PositiveRegionTagsCount = positiveRegionTags,
        };
        await datasets.WriteVersionSnapshotAsync(app, datasetId, versionId, items, body.ToByteArray(), (int)StatusCode.DatasetVersionReady, ct).ConfigureAwait(false);
        return true;
    }
}
