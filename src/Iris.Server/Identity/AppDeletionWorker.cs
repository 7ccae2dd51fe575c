using Iris.Core.Apps;
using Iris.Storage.Identity;
using Iris.Storage.Jobs;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Identity;

/// <summary>
/// Purges deleted apps, as <see cref="JobKinds.PurgeApp"/> jobs: DeleteApp hides the app at once (and drops its keys and
/// collaborators) and queues the job in the same transaction, as does deleting its owner (<c>iris users delete</c>);
/// the job asks every <see cref="IAppLifecycleListener"/> to remove the app's data and finally removes the app's row.
/// Any node runs it; one that dies mid-purge leaves it to another when the lease expires (every step is idempotent).
/// </summary>
internal sealed class AppDeletionWorker(
    IIdentityStore store,
    IEnumerable<IAppLifecycleListener> listeners,
    JobSignal signal,
    ILogger<AppDeletionWorker> logger) : IJobHandler
{
    public const string BootstrapKeyId = "bootstrap";

    private readonly IAppLifecycleListener[] _listeners = listeners.ToArray();

    /// <summary>Apps whose purge has completed on this node since start (tests wait on this).</summary>
    public event Action<AppRef>? Purged;

    public string Kind => JobKinds.PurgeApp;

    public int Concurrency => 1;

    // The app is already invisible; its data must go eventually.
    public int MaxAttempts => 0;

    /// <summary>Wakes this node's purge worker after DeleteApp committed its job.</summary>
    public void Wake() => signal.Wake(JobKinds.PurgeApp);

    /// <summary>Tells every module an app was renamed; failures are logged, the identity rename already committed.</summary>
    public async Task NotifyRenamedAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        foreach (var listener in _listeners)
        {
            try
            {
                await listener.RenameAppAsync(from, to, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                IdentityLog.AppRenameFailed(logger, e, from.ToString(), to.ToString());
            }
        }
    }

    public async Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var listener in _listeners)
            {
                await listener.PurgeAppAsync(job.App, cancellationToken).ConfigureAwait(false);
            }

            await store.RemoveDeletedAppAsync(job.App, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            IdentityLog.AppPurgeFailed(logger, e, job.App.ToString());
            throw;
        }

        IdentityLog.AppPurged(logger, job.App.ToString());
        Purged?.Invoke(job.App);
        return true;
    }

    public Task GiveUpAsync(Job job, CancellationToken cancellationToken) => Task.CompletedTask;
}
