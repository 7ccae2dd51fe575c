using Iris.Core.Apps;
using Iris.Storage;
using Iris.Storage.Inputs;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// The durable queue on real SQLite with a controlled clock: a claim leases one item to one owner, renewal keeps it,
/// an expired lease lets another owner claim it again (attempt 2), a stale owner can neither renew nor complete it,
/// and a retry waits its delay.
/// </summary>
public sealed class WorkQueueTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("iris-queue-");
    private readonly ManualClock _clock = new();

    public void Dispose() => _dir.Delete(recursive: true);

    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task Leases_expire_renew_and_fence_stale_owners()
    {
        var database = new SqliteDatabase(_dir.FullName, [new InputsMigrations()]);
        var blobs = new BlobStore(_dir.FullName);
        var store = new SqliteInputStore(database, blobs, _clock);
        var queue = new SqliteWorkQueue(database, _clock);
        var app = new AppRef("u", "a");
        var added = await store.AddInputsAsync(app, [new NewInput("i1", "text", [], null, true, null, ReadOnlyMemory<byte>.Empty, [], "ann1", [], [], IdConflictPolicy.Skip)], null, CancellationToken.None);
        Assert.Equal(AddOutcome.Added, added.Single().Outcome);
        Assert.Equal(1, await queue.CountAsync(CancellationToken.None));

        var lease = TimeSpan.FromSeconds(10);
        var first = await queue.ClaimAsync("A", lease, CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal((WorkKinds.Ingest, "i1", 1), (first.Kind, first.Target, first.Attempts));
        Assert.Null(await queue.ClaimAsync("B", lease, CancellationToken.None));

        _clock.Now += TimeSpan.FromSeconds(8);
        Assert.True(await queue.RenewAsync(first.Id, "A", lease, CancellationToken.None));
        _clock.Now += TimeSpan.FromSeconds(8);
        Assert.Null(await queue.ClaimAsync("B", lease, CancellationToken.None));

        // A crashed owner stops renewing: after the lease, B claims the same item, attempt 2, and A is fenced off.
        _clock.Now += TimeSpan.FromSeconds(11);
        var second = await queue.ClaimAsync("B", lease, CancellationToken.None);
        Assert.Equal((first.Id, 2), (second!.Id, second.Attempts));
        Assert.False(await queue.RenewAsync(first.Id, "A", lease, CancellationToken.None));
        await queue.CompleteAsync(first.Id, "A", CancellationToken.None);
        Assert.Equal(1, await queue.CountAsync(CancellationToken.None));

        await queue.RetryAsync(second.Id, "B", TimeSpan.FromSeconds(5), "transient", CancellationToken.None);
        Assert.Null(await queue.ClaimAsync("C", lease, CancellationToken.None));
        _clock.Now += TimeSpan.FromSeconds(5);
        var third = await queue.ClaimAsync("C", lease, CancellationToken.None);
        Assert.Equal(3, third!.Attempts);
        await queue.CompleteAsync(third.Id, "C", CancellationToken.None);
        Assert.Equal(0, await queue.CountAsync(CancellationToken.None));
    }
}
