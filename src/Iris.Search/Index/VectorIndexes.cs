using System.Collections.Concurrent;
using Iris.Core.Apps;
using Iris.Core.IO;
using Iris.Storage.Blobs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Iris.Search.Index;

/// <summary>
/// This node's in-memory indexes, one per (app, embedding model version), loaded from the store (the source of truth)
/// on first use and brought up to date before every search from the store's change log: one small query for the app's
/// version, and the changed vectors when it moved. So every node answers with every committed insert and delete,
/// whichever node wrote it. A version below the index's own (the app was purged or renamed away) or a reset in the log
/// (an app renamed onto this id) reloads the index.
/// <para>
/// Snapshots (HNSW graphs, to the blob store) are written in the background, one at a time per index, under the graph's
/// read lock: searches go on meanwhile and <see cref="GetAsync"/> does not wait for the write. Applying a change needs the
/// graph's write lock, which would wait for the whole write (and every search queued behind a waiting writer), so while a
/// snapshot is being written the changes that arrive go to an <see cref="OverlayIndex"/> over the index instead: a small
/// side index searched exactly, whose hits are merged with the graph's (a changed or removed key's stale graph hit
/// dropped), so new inputs join results as soon as the index catches up, written or not. The graph stays as it was when
/// the write started, so the snapshot reflects exactly the version recorded with it. When the write ends, its task moves
/// the side changes into the graph in the order they came (one write lock each, searches going on between them, through
/// the overlay still); the first call after that moves what arrived meanwhile and drops the overlay. Those changes count
/// towards the next snapshot. Deleted inputs leave results at once either way (the planner checks visibility in the store,
/// and the overlay drops them).
/// </para>
/// </summary>
public sealed class VectorIndexes(IInputIndexStore store, IBlobStore? blobs = null, ILogger<VectorIndexes>? logger = null) : IAppLifecycleListener
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Changes applied since the last snapshot (at least this many, and a tenth of the index) before the next one is written.</summary>
    public const int SnapshotEvery = 1000;

    private readonly ConcurrentDictionary<(AppRef App, string ModelVersionId), Entry> _entries = new();

    /// <summary>Creates the index of a new entry (the server's: <see cref="AutoIndex"/> by default); <see cref="ExactIndex"/> unless set.</summary>
    public Func<IVectorIndex> Factory { get; init; } = () => new ExactIndex();

    /// <summary>Restores a snapshot, read from the blob's stream, into an index of the <see cref="Factory"/>'s kind; null when that engine keeps none.</summary>
    public Func<Stream, IVectorIndex?>? Restore { get; init; }

    /// <summary>How each load of this node went: from a snapshot plus the changes after it, or rebuilt from every stored vector.</summary>
    public int LoadsFromSnapshot => _fromSnapshot;

    public int LoadsFromStore => _fromStore;

    private int _fromSnapshot;
    private int _fromStore;

    /// <summary>The app's index for <paramref name="modelVersionId"/>, current with the store as of this call.</summary>
    public async Task<IVectorIndex> GetAsync(AppRef app, string modelVersionId, CancellationToken cancellationToken)
    {
        var entry = _entries.GetOrAdd((app, modelVersionId), _ => new Entry(Factory()));
        await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!entry.Loaded)
            {
                await LoadAsync(entry, app, modelVersionId, cancellationToken).ConfigureAwait(false);
                return entry.Overlay ?? entry.Index;
            }

            // A snapshot write has ended and its task has moved the changes that arrived meanwhile into the graph: the
            // few since go too, and the index answers alone again.
            if (entry.Overlay is { } overlay && !entry.Snapshotting)
            {
                overlay.MoveIntoBase();
                entry.Overlay = null;
            }

            var current = await store.VersionAsync(app, cancellationToken).ConfigureAwait(false);
            if (current < entry.Version)
            {
                await LoadAsync(entry, app, modelVersionId, cancellationToken).ConfigureAwait(false);
            }
            else if (current > entry.Version)
            {
                var changes = await store.ChangesSinceAsync(app, entry.Version, cancellationToken).ConfigureAwait(false);
                if (changes.Reset)
                {
                    await LoadAsync(entry, app, modelVersionId, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    Apply(entry, changes, modelVersionId);
                }
            }

            if (!entry.Snapshotting && entry.Unsnapshotted >= Math.Max(SnapshotEvery, entry.Index.Count / 10))
            {
                StartSnapshot(entry, app, modelVersionId);
            }

            // An auto index that has switched to a graph since the last look: its first snapshot now, so a restarted node
            // restores the graph instead of answering exactly while it rebuilds it.
            if (entry.Index is AutoIndex auto && auto.Switches != entry.Switches)
            {
                StartSnapshot(entry, app, modelVersionId);
            }

            return entry.Overlay ?? entry.Index;
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    // Applies the changes in version order: to the index, or to its overlay while a snapshot of it is being written.
    private static void Apply(Entry entry, VectorChanges changes, string modelVersionId)
    {
        IVectorIndex target = entry.Index;
        if (entry.Overlay is not null || entry.Writing)
        {
            target = entry.Overlay ??= new OverlayIndex(entry.Index);
        }

        foreach (var (inputId, version, vector) in changes.Changes)
        {
            if (vector is null)
            {
                target.Remove(inputId);
            }
            else if (string.Equals(version, modelVersionId, StringComparison.Ordinal))
            {
                target.Upsert(inputId, vector);
            }
        }

        entry.Unsnapshotted += changes.Changes.Count;
        entry.Version = changes.Version;
    }

    /// <summary>
    /// Test seam: called on the snapshot's writing thread, with the graph's read lock held, before its first byte is
    /// written (a test holds the write open there to search meanwhile).
    /// </summary>
    internal Action<AppRef>? SnapshotWriting { get; set; }

    /// <summary>
    /// The snapshot of (app, model version) being written on this node, if any: done when it is recorded (or its failure
    /// logged) and the changes that arrived during the write are in the graph.
    /// </summary>
    internal Task SnapshotWrittenAsync(AppRef app, string modelVersionId) =>
        _entries.TryGetValue((app, modelVersionId), out var entry) ? entry.Snapshot : Task.CompletedTask;

    // Starts writing a snapshot of the entry's graph in the background (the caller holds the entry's gate), unless one is
    // being written: it reflects the entry's version now, since changes go to an overlay until it is done. Then the same
    // task moves the overlay's changes into the graph.
    private void StartSnapshot(Entry entry, AppRef app, string modelVersionId)
    {
        if (blobs is null || entry.Snapshotting || GraphOf(entry.Index) is not { } graph)
        {
            return;
        }

        entry.Unsnapshotted = 0;
        var version = entry.Version;
        var index = entry.Index;
        entry.SnapshotOf = index;
        if (index is AutoIndex auto)
        {
            entry.Switches = auto.Switches; // this snapshot holds the graph it switched to
        }

        entry.Snapshot = Task.Run(async () =>
        {
            await WriteSnapshotAsync(graph, app, modelVersionId, version).ConfigureAwait(false);
            MoveOverlay(entry, index, app);
        });
    }

    // After a write, on its task: the changes that arrived during it go into the graph, while searches go on through the
    // overlay (GetAsync drops it once this is done). A failure here is logged; the next GetAsync moves the rest and
    // answers it to its caller as applying the change directly would have.
    private void MoveOverlay(Entry entry, IVectorIndex index, AppRef app)
    {
        if (entry.Overlay is not { } overlay || !ReferenceEquals(overlay.Base, index))
        {
            return;
        }

        try
        {
            overlay.MoveIntoBase();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogWarning(e, "The vector index changes of app {User}/{App} that arrived during a snapshot write could not be moved into its graph; the next search tries again.", app.UserId, app.AppId);
        }
    }

    // A snapshot of the graph to the blob store, recorded with the version it reflects; the replaced blob goes.
    private async Task WriteSnapshotAsync(HnswIndex graph, AppRef app, string modelVersionId, long version)
    {
        // A snapshot only spares a restarted node the rebuild: one that cannot be written or recorded is logged and
        // skipped, never the failure of a search. The next attempt comes after another SnapshotEvery changes. It streams
        // into the blob store, so it has no size limit (a million 1,280-d vectors write about 5.3 GB). It runs on no
        // request's cancellation: the request that started it has long been answered.
        try
        {
            var hook = SnapshotWriting;
            var key = await blobs!.PutAsync((stream, _) =>
            {
                graph.WriteSnapshot(hook is null ? stream : new FirstWriteHook(stream, () => hook(app)));
                return Task.CompletedTask;
            }, CancellationToken.None).ConfigureAwait(false);
            var replaced = await store.SaveSnapshotAsync(app, modelVersionId, version, key, CancellationToken.None).ConfigureAwait(false);
            if (replaced is not null)
            {
                await blobs.DeleteAsync(replaced, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning(e, "The vector index snapshot of app {User}/{App} could not be written to the blob store; searches go on, and a restarted node rebuilds the index from the store.", app.UserId, app.AppId);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogWarning(e, "The vector index snapshot of app {User}/{App} could not be recorded; searches go on, and a restarted node rebuilds the index from the store.", app.UserId, app.AppId);
        }
    }

    // Forwards every write; calls the hook once, before the first.
    private sealed class FirstWriteHook(Stream inner, Action hook) : ForwardingWriteStream(inner)
    {
        private Action? _hook = hook;

        protected override void OnWrite(ReadOnlySpan<byte> buffer) => Interlocked.Exchange(ref _hook, null)?.Invoke();
    }

    // The graph an index answers from, if any: an HNSW index, or the graph an auto index has switched to.
    private static HnswIndex? GraphOf(IVectorIndex index) => index switch
    {
        HnswIndex graph => graph,
        AutoIndex auto => auto.Graph,
        _ => null,
    };

    private async Task<bool> TryRestoreAsync(Entry entry, AppRef app, string modelVersionId, CancellationToken cancellationToken)
    {
        if (blobs is null || Restore is null || await store.FindSnapshotAsync(app, modelVersionId, cancellationToken).ConfigureAwait(false) is not { } snapshot)
        {
            return false;
        }

        var current = await store.VersionAsync(app, cancellationToken).ConfigureAwait(false);
        if (current < snapshot.Version || await ReadSnapshotAsync(snapshot.BlobKey, app, cancellationToken).ConfigureAwait(false) is not { } restored)
        {
            return false;
        }

        var changes = await store.ChangesSinceAsync(app, snapshot.Version, cancellationToken).ConfigureAwait(false);
        if (changes.Reset)
        {
            return false;
        }

        entry.Index = restored;
        entry.Version = snapshot.Version;
        Apply(entry, changes, modelVersionId);
        entry.Loaded = true;
        Interlocked.Increment(ref _fromSnapshot);
        return true;
    }

    // The snapshot blob read as a stream into an index; null (the caller rebuilds from the store) when it is gone or
    // cannot be read whole — a damaged or truncated blob is logged, never the failure of the search.
    private async Task<IVectorIndex?> ReadSnapshotAsync(string blobKey, AppRef app, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await blobs!.OpenReadAsync(blobKey, cancellationToken).ConfigureAwait(false);
            return stream is null ? null : Restore!(stream);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            _logger.LogWarning(e, "The vector index snapshot {Blob} of app {User}/{App} could not be read; the index is rebuilt from the store.", blobKey, app.UserId, app.AppId);
            return null;
        }
    }

    private async Task LoadAsync(Entry entry, AppRef app, string modelVersionId, CancellationToken cancellationToken)
    {
        entry.Overlay = null;
        if (await TryRestoreAsync(entry, app, modelVersionId, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var (version, vectors) = await store.LoadAllAsync(app, modelVersionId, cancellationToken).ConfigureAwait(false);
        if (entry.Writing)
        {
            // The graph being written stays as it is (clearing it would wait for the write); a new index is loaded.
            entry.Index = Factory();
        }
        else
        {
            entry.Index.Clear();
        }

        foreach (var v in vectors)
        {
            entry.Index.Upsert(v.InputId, v.Vector);
        }

        entry.Version = version;
        entry.Loaded = true;
        entry.Unsnapshotted = vectors.Count; // none is in a snapshot until the one started below (none while another is written)
        Interlocked.Increment(ref _fromStore);
        if (vectors.Count > 0)
        {
            StartSnapshot(entry, app, modelVersionId);
        }
    }

    /// <summary>Drops this node's indexes of the app; other nodes notice through the store's version.</summary>
    public void Forget(AppRef app)
    {
        foreach (var key in _entries.Keys.Where(k => k.App == app).ToList())
        {
            _entries.TryRemove(key, out _);
        }
    }

    public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        Forget(app);
        return Task.CompletedTask;
    }

    public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        Forget(from);
        Forget(to);
        return Task.CompletedTask;
    }

    private sealed class Entry(IVectorIndex index)
    {
        public IVectorIndex Index { get; set; } = index;

        public int Unsnapshotted { get; set; }

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public bool Loaded { get; set; }

        public long Version { get; set; }

        /// <summary>The <see cref="AutoIndex.Switches"/> last seen (a switch since is snapshotted).</summary>
        public int Switches { get; set; }

        /// <summary>The last snapshot started (completed when none was).</summary>
        public Task Snapshot { get; set; } = Task.CompletedTask;

        /// <summary>The index whose graph the last snapshot started is of.</summary>
        public IVectorIndex? SnapshotOf { get; set; }

        /// <summary>A snapshot is being written (or the changes that arrived meanwhile moved): no other one starts.</summary>
        public bool Snapshotting => !Snapshot.IsCompleted;

        /// <summary>A snapshot of <see cref="Index"/>'s graph is being written: it must not change, changes go to <see cref="Overlay"/>.</summary>
        public bool Writing => Snapshotting && ReferenceEquals(SnapshotOf, Index);

        /// <summary>The changes applied since a snapshot of the index started, until they are in it (read by the snapshot's task).</summary>
        public OverlayIndex? Overlay
        {
            get => Volatile.Read(ref _overlay);
            set => Volatile.Write(ref _overlay, value);
        }

        private OverlayIndex? _overlay;
    }
}
