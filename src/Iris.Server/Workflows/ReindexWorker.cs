using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Ingestion;
using Iris.Core.Media;
using Iris.Inference.Workflows;
using Iris.Server.Inputs;
using Iris.Storage.Blobs;
using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Iris.Storage.Workflows;
using Task = System.Threading.Tasks.Task;

namespace Iris.Server.Workflows;

/// <summary>
/// Reindexing after an app's base workflow changed, on the job runner: a <see cref="WorkflowJobKinds.ReindexApp"/> job
/// walks the app's processed image inputs by id and queues one <see cref="WorkflowJobKinds.ReindexInput"/> job per input
/// (with its state 30501, in the same transaction); each of those decodes the stored original and runs the app's current
/// base workflow through every indexer, as ingestion does (30503, then 30500 or 30502 with details). Idempotent: a job
/// whose worker died runs again; an app whose base workflow changed again is reindexed by the newer job.
/// </summary>
internal sealed class ReindexWorker(
    IWorkflowStore store,
    IInputStore inputs,
    IBlobStore blobs,
    IIdentityStore identity,
    AppBaseWorkflows bases,
    IEnumerable<IInputIndexer> indexers,
    JobSignal signal,
    TimeProvider time)
{
    /// <summary>Inputs read and queued per transaction by the app job.</summary>
    public const int PageSize = 500;

    /// <summary>Attempts per input before it is marked 30502 (the base workflow failing on a stored, decodable image is not the input's fault).</summary>
    public const int MaxAttempts = 5;

    private readonly IInputIndexer[] _indexers = [.. indexers];

    public IEnumerable<IJobHandler> Handlers() =>
    [
        new Handler(WorkflowJobKinds.ReindexApp, 1, 0, QueueInputsAsync, (_, _) => Task.CompletedTask),
        new Handler(WorkflowJobKinds.ReindexInput, 2, MaxAttempts, ReindexInputAsync, (job, ct) =>
            store.SetReindexStateAsync(job.App, job.Target, ReindexStates.Failed, $"Reindexing failed after {job.Attempts} attempts.", Clock.NowMicros(time), ct)),
    ];

    private async Task<bool> QueueInputsAsync(Job job, CancellationToken ct)
    {
        if (!await IsCurrentAsync(job.App, job.Target, ct).ConfigureAwait(false))
        {
            return true;
        }

        string? lastId = null;
        while (true)
        {
            var page = await inputs.StreamInputsAsync(job.App, PageSize, lastId, descending: false, orderById: true, ct).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            var ids = page.Where(r => r.Kind == InputKinds.Image && r.StatusCode == InputStates.Success).Select(r => r.Id).ToList();
            if (ids.Count > 0)
            {
                await store.QueueReindexInputsAsync(job.App, job.Target, ids, Clock.NowMicros(time), ct).ConfigureAwait(false);
                signal.Wake(WorkflowJobKinds.ReindexInput);
            }

            lastId = page[^1].Id;
        }

        return true;
    }

    private async Task<bool> ReindexInputAsync(Job job, CancellationToken ct)
    {
        var app = job.App;
        var now = Clock.NowMicros(time);
        await store.SetReindexStateAsync(app, job.Target, ReindexStates.InProgress, string.Empty, now, ct).ConfigureAwait(false);
        var row = await inputs.GetInputAsync(app, job.Target, ct).ConfigureAwait(false);
        if (row is null)
        {
            // Deleted since it was queued: it leaves the counts.
            await store.ForgetReindexAsync(app, [job.Target], ct).ConfigureAwait(false);
            return true;
        }

        if (row.BlobKey is null || row.StatusCode != InputStates.Success)
        {
            await store.SetReindexStateAsync(app, job.Target, ReindexStates.Failed, $"The input is not processed (status {row.StatusCode}); nothing to reindex.", Clock.NowMicros(time), ct).ConfigureAwait(false);
            return true;
        }

        try
        {
            var bytes = await blobs.GetAsync(row.BlobKey, ct).ConfigureAwait(false)
                ?? throw new IrisException(Clarifai.Api.Status.StatusCode.InputFailed, "The stored original of this input is missing from the blob store.");
            using var image = ImageDecoding.Decode(bytes);
            foreach (var indexer in _indexers)
            {
                await indexer.IndexAsync(new IndexedInput(app, row.Id, image, row.BlobKey), ct).ConfigureAwait(false);
            }

            if (await inputs.GetInputAsync(app, job.Target, ct).ConfigureAwait(false) is null)
            {
                // Deleted while it was reindexed (its purge may already have run): take back what the indexers wrote.
                foreach (var indexer in _indexers)
                {
                    await indexer.RemoveAsync(app, [row.Id], ct).ConfigureAwait(false);
                }

                return true;
            }

            await store.SetReindexStateAsync(app, job.Target, ReindexStates.Success, string.Empty, Clock.NowMicros(time), ct).ConfigureAwait(false);
        }
        catch (IrisException e)
        {
            await store.SetReindexStateAsync(app, job.Target, ReindexStates.Failed, e.Details, Clock.NowMicros(time), ct).ConfigureAwait(false);
        }

        return true;
    }

    private async Task<bool> IsCurrentAsync(AppRef app, string workflowId, CancellationToken ct)
    {
        var record = await identity.FindAppAsync(app, ct).ConfigureAwait(false);
        return record is not null && string.Equals(bases.EffectiveId(record.DefaultWorkflowId), workflowId, StringComparison.Ordinal);
    }

    private sealed class Handler(string kind, int concurrency, int maxAttempts, Func<Job, CancellationToken, Task<bool>> run, Func<Job, CancellationToken, Task> giveUp) : IJobHandler
    {
        public string Kind => kind;

        public int Concurrency => concurrency;

        public int MaxAttempts => maxAttempts;

        public Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken) => run(job, cancellationToken);

        public Task GiveUpAsync(Job job, CancellationToken cancellationToken) => giveUp(job, cancellationToken);
    }
}
