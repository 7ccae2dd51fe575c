using Iris.Core.Apps;
using Iris.Search.Index;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// Holds a node's snapshot of one app open inside its write (the graph's read lock held) through the
/// <see cref="VectorIndexes.SnapshotWriting"/> seam, until <see cref="ReleaseAsync"/>: what arrives meanwhile can be
/// searched without a sleep deciding the timing.
/// </summary>
internal sealed class HeldSnapshot : IDisposable
{
    private readonly VectorIndexes _indexes;
    private readonly AppRef _app;
    private readonly string _version;
    private readonly ManualResetEventSlim _writing = new();
    private readonly ManualResetEventSlim _release = new();

    public HeldSnapshot(VectorIndexes indexes, AppRef app, string version)
    {
        (_indexes, _app, _version) = (indexes, app, version);
        indexes.SnapshotWriting = written =>
        {
            if (written == app)
            {
                _writing.Set();
                _release.Wait(TimeSpan.FromSeconds(60));
            }
        };
    }

    /// <summary>Fails the test unless the snapshot's write has started (and is now held) within 30 s.</summary>
    public void AssertWriting() => Assert.True(_writing.Wait(TimeSpan.FromSeconds(30)), "the snapshot did not start writing");

    /// <summary>True while the held write has not finished.</summary>
    public bool Held => !_indexes.SnapshotWrittenAsync(_app, _version).IsCompleted;

    /// <summary>Lets the write go on and waits for it (and what its task does after it) to finish; the seam is cleared.</summary>
    public async Task ReleaseAsync()
    {
        _release.Set();
        await _indexes.SnapshotWrittenAsync(_app, _version);
        _indexes.SnapshotWriting = null;
    }

    public void Dispose()
    {
        _release.Set();
        _indexes.SnapshotWriting = null;
    }
}
