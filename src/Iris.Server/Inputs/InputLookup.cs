using Iris.Storage.Blobs;
using Iris.Core.Apps;
using Iris.Core.Inputs;
using Iris.Storage.Inputs;

namespace Iris.Server.Inputs;

/// <summary>Stored inputs for predict and search by input id: the input's id, its source URL and its original bytes.</summary>
internal sealed class InputLookup(IInputStore store, IBlobStore blobs) : IInputLookup
{
    public async ValueTask<StoredInput?> FindAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        var row = await store.GetInputAsync(app, inputId, cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return null;
        }

        // Uploaded bytes exist from the start; a URL input has bytes once it has been downloaded.
        var key = row.BlobKey ?? row.SourceBlob;
        var bytes = key is null ? null : await blobs.GetAsync(key, cancellationToken).ConfigureAwait(false);
        return new StoredInput(row.Id, row.Url, row.Kind == InputKinds.Image, bytes ?? ReadOnlyMemory<byte>.Empty);
    }
}
