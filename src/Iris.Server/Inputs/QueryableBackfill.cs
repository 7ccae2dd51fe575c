using System.Globalization;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Google.Protobuf;
using Iris.Storage.Inputs;
using Iris.Storage.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Inputs;

/// <summary>
/// Nothing stored is lost to search: annotations written before the queryable columns existed hold their metadata and
/// geo point only inside the serialized data, which SQL cannot read, so metadata and geo filters would miss them. The
/// inputs migration flags those rows; this job (<see cref="JobKinds.QueryableBackfill"/>, one per cluster) fills their
/// columns batch by batch with <see cref="InputMapper.QueryableOf"/>, the mapping every writer uses. Idempotent and
/// resumable: each batch commits on its own and clears its flags, so a job whose node died continues where it stopped,
/// and a run with nothing flagged does nothing. Every node queues it at start-up while flagged rows exist; the queue's
/// unique cluster-job index keeps it to one.
/// </summary>
internal sealed partial class QueryableBackfill(IQueryableBackfillStore store, JobQueue queue, JobSignal signal, ILogger<QueryableBackfill> logger) : IJobHandler, IHostedService
{
    /// <summary>Annotations read, derived and written per transaction.</summary>
    public const int BatchSize = 500;

    public string Kind => JobKinds.QueryableBackfill;

    public int Concurrency => 1;

    // Never given up: the rows must be filled eventually (a failed attempt is retried with back-off).
    public int MaxAttempts => 0;

    public async Task<bool> RunAsync(Job job, JobContext context, CancellationToken cancellationToken)
    {
        await FillAllAsync(progress => context.ReportProgressAsync(progress, cancellationToken), cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Fills every flagged annotation; returns how many were filled (0 when none was flagged).</summary>
    public async Task<long> FillAllAsync(Func<string, Task>? report, CancellationToken cancellationToken)
    {
        long filled = 0;
        while (true)
        {
            var batch = await store.PendingAsync(BatchSize, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                return filled;
            }

            var rows = new List<(long, QueryableFields)>(batch.Count);
            foreach (var row in batch)
            {
                rows.Add((row.Seq, Derive(row)));
            }

            filled += await store.FillAsync(rows, cancellationToken).ConfigureAwait(false);
            if (report is not null)
            {
                await report(filled.ToString(CultureInfo.InvariantCulture) + " annotations filled").ConfigureAwait(false);
            }
        }
    }

    private QueryableFields Derive(PendingAnnotation row)
    {
        try
        {
            return InputMapper.QueryableOf(Data.Parser.ParseFrom(row.Data));
        }
        catch (InvalidProtocolBufferException e)
        {
            // The stored bytes stay as they are (nothing is deleted); they carry nothing search can read.
            LogUnreadable(logger, e, row.Seq);
            return QueryableFields.None;
        }
    }

    public Task GiveUpAsync(Job job, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>At start-up, after the migrations: queues the job (once per cluster) while flagged rows exist.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await store.AnyPendingAsync(cancellationToken).ConfigureAwait(false)
            && await queue.EnqueueClusterJobAsync(Kind, JobKinds.ClusterTarget, cancellationToken).ConfigureAwait(false))
        {
            signal.Wake(Kind);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Annotation row {Seq} holds data that does not parse; its queryable columns stay empty")]
    private static partial void LogUnreadable(ILogger logger, Exception exception, long seq);
}
