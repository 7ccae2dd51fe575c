using Iris.Core.Apps;
using Iris.Storage.Blobs;
using Iris.Storage.Tests.Infrastructure;
using Iris.Storage.Vectors;

namespace Iris.Storage.Tests;

/// <summary>
/// The vector change log is pruned without losing a change: entries go only when older than the retention window and
/// not after the app's oldest snapshot (or its current version without one); a reader behind the pruned point is told
/// to reload (reset), never handed a log with a hole. An app's snapshot blobs leave the blob store when it is purged or
/// renamed away, and a snapshot offered for a purged app is refused and handed back for deletion.
/// </summary>
public abstract class VectorLogPruningTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    private readonly string _blobDir = Path.Combine(Path.GetTempPath(), "iris-prune-" + Guid.NewGuid().ToString("N"));

    private FileBlobStore? _blobs;

    private FileBlobStore Blobs => _blobs ??= new FileBlobStore(_blobDir);

    private SqlInputIndexStore Index => new(Db, Time, Blobs);

    private static float[] Vector(int seed) => [seed, 1, 0, 0];

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_blobDir))
        {
            Directory.Delete(_blobDir, recursive: true);
        }
    }

    private async Task SaveAsync(AppRef app, params string[] inputs)
    {
        foreach (var input in inputs)
        {
            await Index.SaveAsync(app, input, "embed", "e1", Vector(input.Length), [], "", Ct);
        }
    }

    [Fact]
    public async Task Entries_go_only_past_the_retention_window_and_a_reader_behind_them_reloads()
    {
        var app = NewApp();
        await SaveAsync(app, "a", "b", "c");          // versions 1–3
        Time.Advance(TimeSpan.FromMinutes(30));
        await Index.PruneChangesAsync(Retention, Ct);
        Assert.Equal(3, (await Index.ChangesSinceAsync(app, 0, Ct)).Changes.Count); // younger than an hour: kept

        Time.Advance(TimeSpan.FromMinutes(31));
        await SaveAsync(app, "d");                    // version 4, new
        await Index.PruneChangesAsync(Retention, Ct);

        var behind = await Index.ChangesSinceAsync(app, 1, Ct);
        Assert.True(behind.Reset);                    // versions 2–3 are gone: reload, do not apply a log with a hole
        Assert.Equal(4, behind.Version);
        var current = await Index.ChangesSinceAsync(app, 3, Ct);
        Assert.False(current.Reset);
        Assert.Equal(["d"], current.Changes.Select(c => c.InputId));
        Assert.Equal(4, await Index.VersionAsync(app, Ct));
        Assert.Equal(4, (await Index.LoadAllAsync(app, "e1", Ct)).Vectors.Count); // the vectors themselves stay

        // Nothing more to prune: a second run changes nothing.
        await Index.PruneChangesAsync(Retention, Ct);
        Assert.False((await Index.ChangesSinceAsync(app, 3, Ct)).Reset);
    }

    [Fact]
    public async Task Entries_after_the_oldest_snapshot_stay_whatever_their_age()
    {
        var app = NewApp();
        await SaveAsync(app, "a", "b");               // versions 1–2, model e1
        await Index.SaveAsync(app, "z", "embed0", "e0", Vector(9), [], "", Ct); // version 3, model e0
        Assert.Null(await Index.SaveSnapshotAsync(app, "e1", 3, await Blobs.PutAsync(new byte[] { 3 }, Ct), Ct));
        Assert.Null(await Index.SaveSnapshotAsync(app, "e0", 2, await Blobs.PutAsync(new byte[] { 2 }, Ct), Ct));
        // A snapshot of a model the app has no vectors of any more (its base workflow changed) holds nothing back.
        Assert.Null(await Index.SaveSnapshotAsync(app, "gone", 1, await Blobs.PutAsync(new byte[] { 1 }, Ct), Ct));
        await SaveAsync(app, "c", "d");               // versions 4–5
        Time.Advance(TimeSpan.FromHours(2));
        await Index.PruneChangesAsync(Retention, Ct);

        // The oldest snapshot that counts reflects version 2: a node restoring it needs 3 onwards.
        Assert.True((await Index.ChangesSinceAsync(app, 1, Ct)).Reset);
        var fromSnapshot = await Index.ChangesSinceAsync(app, 2, Ct);
        Assert.False(fromSnapshot.Reset);
        Assert.Equal(["z", "c", "d"], fromSnapshot.Changes.Select(c => c.InputId));
    }

    [Fact]
    public async Task Purging_or_renaming_an_app_deletes_its_snapshot_blobs()
    {
        var (purged, renamed, other) = (NewApp(), NewApp(), NewApp());
        await SaveAsync(purged, "a");
        await SaveAsync(renamed, "a");
        await SaveAsync(other, "a");
        var keys = new List<string>();
        foreach (var (app, content) in new[] { (purged, (byte)1), (renamed, (byte)2), (other, (byte)3) })
        {
            var key = await Blobs.PutAsync(new byte[] { 9, content }, Ct);
            Assert.Null(await Index.SaveSnapshotAsync(app, "e1", 1, key, Ct));
            keys.Add(key);
        }

        await Index.PurgeAppAsync(purged, Ct);
        var target = NewApp();
        await Index.RenameAppAsync(renamed, target, Ct);

        Assert.False(await Blobs.ExistsAsync(keys[0], Ct));
        Assert.False(await Blobs.ExistsAsync(keys[1], Ct));
        Assert.True(await Blobs.ExistsAsync(keys[2], Ct));
        Assert.Null(await Index.FindSnapshotAsync(purged, "e1", Ct));
        Assert.Null(await Index.FindSnapshotAsync(target, "e1", Ct));

        // A node still holding the purged app's graph offers a snapshot: refused, and its blob handed back for deletion.
        var late = await Blobs.PutAsync(new byte[] { 9, 9 }, Ct);
        Assert.Equal(late, await Index.SaveSnapshotAsync(purged, "e1", 1, late, Ct));
        Assert.Null(await Index.FindSnapshotAsync(purged, "e1", Ct));
        // An older snapshot than the recorded one is handed back too; the recorded one stays.
        var older = await Blobs.PutAsync(new byte[] { 8 }, Ct);
        Assert.Equal(older, await Index.SaveSnapshotAsync(other, "e1", 0, older, Ct));
        Assert.Equal((1L, keys[2]), await Index.FindSnapshotAsync(other, "e1", Ct));
    }
}

public sealed class SqliteVectorLogPruningTests(StoreFixture<SqliteBackend> fixture)
    : VectorLogPruningTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresVectorLogPruningTests(StoreFixture<PostgresBackend> fixture)
    : VectorLogPruningTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
