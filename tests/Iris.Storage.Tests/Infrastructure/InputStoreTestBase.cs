using System.Text;
using Iris.Storage.Blobs;
using Iris.Storage.Inputs;

namespace Iris.Storage.Tests.Infrastructure;

/// <summary>A <see cref="StoreTestBase"/> with the inputs store over a blob directory of the test's own.</summary>
public abstract class InputStoreTestBase(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private readonly string _blobDir = Path.Combine(Path.GetTempPath(), "iris-blobs-" + Guid.NewGuid().ToString("N")[..12]);

    protected FileBlobStore Blobs { get; private set; } = null!;

    protected SqlInputStore Inputs { get; private set; } = null!;

    /// <summary>An inputs store on another opener of the same store and blob directory (a second node).</summary>
    protected SqlInputStore SecondNode() => new(Open(), Blobs, Time);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Blobs = new FileBlobStore(_blobDir);
        Inputs = new SqlInputStore(Db, Blobs, Time);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_blobDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    protected static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    protected static string? Text(byte[]? bytes) => bytes is null ? null : Encoding.UTF8.GetString(bytes);

    /// <summary>An input as the API edge builds one: opaque media, an input-level annotation, optional concepts and datasets.</summary>
    protected static NewInput Input(
        string id,
        string? url = null,
        IdConflictPolicy conflicts = IdConflictPolicy.Skip,
        bool allowDuplicateUrl = false,
        string? sourceBlob = null,
        byte[]? sourceBytes = null,
        IReadOnlyList<ConceptMention>? concepts = null,
        IReadOnlyList<string>? datasets = null,
        string kind = "image") =>
        new(id, kind, Utf8("media:" + id), url, allowDuplicateUrl, sourceBlob, sourceBytes ?? ReadOnlyMemory<byte>.Empty, Utf8("annotation:" + id),
            "ann-" + Guid.NewGuid().ToString("N")[..16], concepts ?? [], datasets ?? [], conflicts);
}
