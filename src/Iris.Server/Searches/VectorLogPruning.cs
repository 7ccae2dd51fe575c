using Iris.Storage.Jobs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.Hosting;

namespace Iris.Server.Searches;

/// <summary>
/// Keeps the vector change log (<c>inference_vector_changes</c>) from growing for ever: a cluster job
/// (<see cref="SearchJobKinds.PruneVectorLog"/>, queued once however many nodes start) that every
/// <see cref="SearchOptions.ChangeLogPruneInterval"/> deletes the entries no node can need any more — older than
/// <see cref="SearchOptions.ChangeLogRetention"/> and not after the app's oldest index snapshot (a restarting node restores
/// a snapshot and replays the log after it). A node whose index is behind the pruned point is told to reload by the store
/// (<see cref="IInputIndexStore.ChangesSinceAsync"/> answers a reset), so it rebuilds rather than misses a change.
/// </summary>
internal sealed class VectorLogPruning(IInputIndexStore store, JobQueue queue, JobSignal signal, SearchOptions options) : IJobHandler, IHostedService
{
    public string Kind => SearchJobKinds.PruneVectorLog;

    public int Concurrency => 1;

    // A periodic job never ends: a failed run is retried with back-off, a finished one waits for the next period.
    public int MaxAttempts => 0;

    public async Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken)
    {
        var pruned = await store.PruneChangesAsync(options.ChangeLogRetention, cancellationToken).ConfigureAwait(false);
        await context.ReportProgressAsync($"{pruned} change log entries pruned in the last run", cancellationToken).ConfigureAwait(false);
        context.RunAgainAfter = options.ChangeLogPruneInterval;
        return false;
    }

    public Task GiveUpAsync(Job job, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await queue.EnqueueClusterJobAsync(Kind, JobKinds.ClusterTarget, cancellationToken).ConfigureAwait(false))
        {
            signal.Wake(Kind);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Kinds of jobs the search area runs.</summary>
public static class SearchJobKinds
{
    /// <summary>Prunes the vector change log; a periodic cluster job (target <see cref="JobKinds.ClusterTarget"/>).</summary>
    public const string PruneVectorLog = "prune_vector_log";
}
