using System.Globalization;
using Iris.Storage.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Jobs;

/// <summary>Lease and back-off of the job runner. Env <c>IRIS_INGEST_LEASE_SECONDS</c> and <c>IRIS_INGEST_RETRY_MS</c> (historic names).</summary>
public sealed record JobRunnerOptions(TimeSpan Lease, TimeSpan RetryBase)
{
    /// <summary>How often an idle worker looks for jobs written by other nodes (local writes wake it at once).</summary>
    public TimeSpan Poll { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Runs every registered <see cref="IJobHandler"/>: for each kind, <see cref="IJobHandler.Concurrency"/> workers claim
/// that kind's next ready job with a lease (fair between apps, at most <see cref="IJobHandler.MaxPerApp"/> per app here), renew the lease while the handler works, delete the job when it is done
/// and otherwise release it with exponential back-off, until <see cref="IJobHandler.MaxAttempts"/> claims end it. Any node
/// runs any job; a node that dies stops renewing, and another node claims the job when its lease expires.
/// </summary>
internal sealed partial class JobRunner(
    JobQueue queue,
    JobSignal signal,
    IEnumerable<IJobHandler> handlers,
    JobRunnerOptions options,
    TimeProvider time,
    ILogger<JobRunner> logger) : BackgroundService
{
    private readonly string _owner = Environment.MachineName + ":" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ":" + Guid.NewGuid().ToString("N")[..8];

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(handlers.SelectMany(h => Enumerable.Range(0, h.Concurrency)
            .Select(i => Task.Run(() => LoopAsync(h, $"{_owner}/{h.Kind}/{i.ToString(CultureInfo.InvariantCulture)}", stoppingToken), stoppingToken))));

    private async Task LoopAsync(IJobHandler handler, string owner, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Job? job;
            try
            {
                job = await queue.ClaimAsync(handler.Kind, owner, options.Lease, handler.MaxPerApp, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                // The database is unreachable: back off, then try again; nothing is lost, the jobs are in the database.
                LogQueueError(logger, e);
                await signal.WaitAsync(handler.Kind, options.Poll, time, stop).ConfigureAwait(false);
                continue;
            }

            if (job is null)
            {
                await signal.WaitAsync(handler.Kind, options.Poll, time, stop).ConfigureAwait(false);
                continue;
            }

            await RunAsync(handler, job, owner, stop).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(IJobHandler handler, Job job, string owner, CancellationToken stop)
    {
        using var work = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var renewal = RenewAsync(job, owner, work);
        try
        {
            var context = new JobContext(queue, job.Id, owner);
            if (await handler.RunAsync(job, context, work.Token).ConfigureAwait(false))
            {
                await queue.CompleteAsync(job.Id, owner, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                var wait = context.RunAgainAfter ?? TimeSpan.FromMilliseconds(Math.Max(200, options.RetryBase.TotalMilliseconds));
                await queue.RetryAsync(job.Id, owner, wait, "waiting", CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutting down: hand the job back at once rather than wait for the lease to expire.
            await TryAsync(() => queue.RetryAsync(job.Id, owner, TimeSpan.Zero, "shutdown", CancellationToken.None)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await FailedAttemptAsync(handler, job, owner, e).ConfigureAwait(false);
        }
        finally
        {
            await work.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(false);
        }
    }

    private async Task RenewAsync(Job job, string owner, CancellationTokenSource work)
    {
        try
        {
            while (true)
            {
                await Task.Delay(options.Lease / 3, time, work.Token).ConfigureAwait(false);
                if (!await queue.RenewAsync(job.Id, owner, options.Lease, work.Token).ConfigureAwait(false))
                {
                    // The lease was lost (this process stalled past it); another worker owns the job now.
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

    private async Task FailedAttemptAsync(IJobHandler handler, Job job, string owner, Exception e)
    {
        var final = handler.MaxAttempts > 0 && job.Attempts >= handler.MaxAttempts;
        LogAttemptFailed(logger, e, job.Kind, job.App.ToString(), job.Target, job.Attempts, final);
        await TryAsync(async () =>
        {
            if (!final)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(60_000, options.RetryBase.TotalMilliseconds * Math.Pow(2, Math.Min(job.Attempts - 1, 16))));
                await queue.RetryAsync(job.Id, owner, delay, e.GetType().Name, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            await handler.GiveUpAsync(job, CancellationToken.None).ConfigureAwait(false);
            await queue.CompleteAsync(job.Id, owner, CancellationToken.None).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    // A failure to record the outcome leaves the lease to expire: the job runs again.
    private async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogQueueError(logger, e);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Job queue unavailable; retrying")]
    private static partial void LogQueueError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "{Kind} {App}/{Target} failed on attempt {Attempt} (final: {Final})")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, string kind, string app, string target, int attempt, bool final);
}
