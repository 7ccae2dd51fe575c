using System.Globalization;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Core.Errors;
using Iris.Core.Fetching;
using Iris.Core.Ingestion;
using Iris.Core.Media;
using Iris.Imaging;
using Iris.Storage;
using Iris.Storage.Inputs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SkiaSharp;

namespace Iris.Server.Inputs;

/// <summary>
/// Background workers draining the durable queue: ingest (30001 → 30003 → 30000 or a failure status), purge deleted
/// inputs, freeze dataset versions. Each claim holds a lease renewed while working; a failure that is the input's fault
/// (bad URL, not an image, too large) fails the input at once, anything else is retried with exponential back-off up to
/// <see cref="IngestionOptions.MaxAttempts"/> claims. Every step is idempotent, so a job whose process died runs again.
/// </summary>
internal sealed partial class IngestionWorkers(
    IWorkQueue queue,
    IInputStore store,
    IDatasetStore datasets,
    BlobStore blobs,
    UrlFetcher fetcher,
    IEnumerable<IInputIndexer> indexers,
    IngestionOptions options,
    InputMapper mapper,
    TimeProvider time,
    ILogger<IngestionWorkers> logger) : BackgroundService
{
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private readonly IInputIndexer[] _indexers = [.. indexers];
    private readonly string _owner = Environment.MachineName + ":" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ":" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Wakes idle workers after new work was committed (they also poll once a second).</summary>
    public void Wake() => _signal.Release(options.Workers);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Workers).Select(i => Task.Run(() => LoopAsync(_owner + "/" + i.ToString(CultureInfo.InvariantCulture), stoppingToken), stoppingToken)));

    private async Task LoopAsync(string owner, CancellationToken stop)
    {
        var lease = TimeSpan.FromSeconds(options.LeaseSeconds);
        while (!stop.IsCancellationRequested)
        {
            WorkItem? item;
            try
            {
                item = await queue.ClaimAsync(owner, lease, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                LogQueueError(logger, e);
                await WaitAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
                continue;
            }

            if (item is null)
            {
                await WaitAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
                continue;
            }

            await RunAsync(item, owner, lease, stop).ConfigureAwait(false);
        }
    }

    private async Task WaitAsync(TimeSpan poll, CancellationToken stop)
    {
        try
        {
            using var timeout = new CancellationTokenSource(poll, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            await _signal.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunAsync(WorkItem item, string owner, TimeSpan lease, CancellationToken stop)
    {
        using var work = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var renewal = RenewAsync(item, owner, lease, work);
        try
        {
            var done = item.Kind switch
            {
                WorkKinds.Ingest => await IngestAsync(item, work.Token).ConfigureAwait(false),
                WorkKinds.Purge => await PurgeAsync(item, work.Token).ConfigureAwait(false),
                WorkKinds.DatasetVersion => await FreezeVersionAsync(item, work.Token).ConfigureAwait(false),
                _ => true,
            };
            if (done)
            {
                await queue.CompleteAsync(item.Id, owner, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await queue.RetryAsync(item.Id, owner, TimeSpan.FromMilliseconds(Math.Max(200, options.RetryBaseMs)), "waiting", CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutting down: hand the item back at once rather than wait for the lease to expire.
            await queue.RetryAsync(item.Id, owner, TimeSpan.Zero, "shutdown", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await FailedAttemptAsync(item, owner, e).ConfigureAwait(false);
        }
        finally
        {
            await work.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(false);
        }
    }

    private async Task RenewAsync(WorkItem item, string owner, TimeSpan lease, CancellationTokenSource work)
    {
        try
        {
            while (true)
            {
                await Task.Delay(lease / 3, time, work.Token).ConfigureAwait(false);
                if (!await queue.RenewAsync(item.Id, owner, lease, work.Token).ConfigureAwait(false))
                {
                    // The lease was lost (this process stalled past it); another worker owns the item now.
                    await work.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            // The store is unavailable: stop renewing; if the work outlives the lease, another claim repeats it (idempotent).
            LogQueueError(logger, e);
        }
    }

    private async Task FailedAttemptAsync(WorkItem item, string owner, Exception e)
    {
        var final = item.Attempts >= options.MaxAttempts && item.Kind != WorkKinds.Purge;
        LogAttemptFailed(logger, e, item.Kind, item.App.ToString(), item.Target, item.Attempts, final);
        try
        {
            if (!final)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(60_000, options.RetryBaseMs * Math.Pow(2, Math.Min(item.Attempts - 1, 16))));
                await queue.RetryAsync(item.Id, owner, delay, e.GetType().Name, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            var details = $"Processing failed after {item.Attempts} attempts; the input was kept, re-add it to try again.";
            if (item.Kind == WorkKinds.Ingest)
            {
                await store.FailInputAsync(item.App, item.Target, (int)StatusCode.InputFailed, details, CancellationToken.None).ConfigureAwait(false);
            }
            else if (item.Kind == WorkKinds.DatasetVersion && item.Target.Split('/') is [var dataset, var version])
            {
                await datasets.SetDatasetVersionStateAsync(item.App, dataset, version, (int)StatusCode.DatasetVersionUnexpectedError, details, null, CancellationToken.None).ConfigureAwait(false);
            }

            await queue.CompleteAsync(item.Id, owner, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception inner)
        {
            // The lease expires and the item runs again.
            LogQueueError(logger, inner);
        }
    }

    private async Task<bool> IngestAsync(WorkItem item, CancellationToken ct)
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

    private async Task ProcessImageAsync(InputRow row, WorkItem item, CancellationToken ct)
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

    private async Task<bool> PurgeAsync(WorkItem item, CancellationToken ct)
    {
        foreach (var indexer in _indexers)
        {
            await indexer.RemoveAsync(item.App, [item.Target], ct).ConfigureAwait(false);
        }

        return await store.PurgeInputAsync(item.App, item.Target, ct).ConfigureAwait(false);
    }

    private async Task<bool> FreezeVersionAsync(WorkItem item, CancellationToken ct)
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

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Work queue unavailable; retrying")]
    private static partial void LogQueueError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "{Kind} {App}/{Target} failed on attempt {Attempt} (final: {Final})")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, string kind, string app, string target, int attempt, bool final);
}
