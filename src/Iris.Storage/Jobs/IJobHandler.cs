namespace Iris.Storage.Jobs;

/// <summary>
/// The code that runs one kind of job, registered by the area that owns the kind (inputs: ingest, purge, dataset
/// versions; models: train, evaluate; search: reindex). The job runner gives every kind its own workers, so a long job
/// of one kind never starves another; leases, renewal, back-off and the attempt bound are the runner's.
/// </summary>
public interface IJobHandler
{
    /// <summary>The <see cref="Job.Kind"/> this handler runs.</summary>
    string Kind { get; }

    /// <summary>Jobs of this kind one node runs at once.</summary>
    int Concurrency { get; }

    /// <summary>
    /// Jobs of this kind one app may hold on one node at once (claims pass over an app at the limit, so other apps find a
    /// free worker); <see cref="int.MaxValue"/>, the default, for no limit. Claims are fair between apps either way.
    /// </summary>
    int MaxPerApp => int.MaxValue;

    /// <summary>Failed attempts after which <see cref="GiveUpAsync"/> ends the job; 0 retries for ever (with back-off).</summary>
    int MaxAttempts { get; }

    /// <summary>
    /// Runs (or resumes) the job; true when it is done, false to run it again shortly (e.g. it waits for other work).
    /// Must be idempotent: a job whose worker died runs again from the start. An exception is a failed attempt.
    /// </summary>
    Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken);

    /// <summary>Records for the user that the job failed for good after <see cref="MaxAttempts"/> attempts (<see cref="Job.Attempts"/>).</summary>
    Task GiveUpAsync(Job job, CancellationToken cancellationToken);
}

/// <summary>What a running job can tell the runner.</summary>
public sealed class JobContext(JobQueue queue, long id, string owner)
{
    /// <summary>
    /// When <see cref="IJobHandler.RunAsync"/> answers false, how long the job waits before it runs again (a periodic job
    /// sets its period); null for the runner's short default.
    /// </summary>
    public TimeSpan? RunAgainAfter { get; set; }

    /// <summary>Stores how far the job has come (free text or JSON of its kind), readable while it runs.</summary>
    public Task ReportProgressAsync(string progress, CancellationToken cancellationToken) => queue.ReportProgressAsync(id, owner, progress, cancellationToken);
}

/// <summary>Wakes idle workers of a kind after new jobs were committed (they also poll once a second, which is what other nodes rely on).</summary>
public sealed class JobSignal
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _signals = new(StringComparer.Ordinal);

    public void Wake(string kind) => Of(kind).Release();

    internal SemaphoreSlim Of(string kind) => _signals.GetOrAdd(kind, _ => new SemaphoreSlim(0, int.MaxValue));

    /// <summary>Waits until <see cref="Wake"/> is called for <paramref name="kind"/> or <paramref name="poll"/> passes.</summary>
    public async Task WaitAsync(string kind, TimeSpan poll, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = new CancellationTokenSource(poll, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            await Of(kind).WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
