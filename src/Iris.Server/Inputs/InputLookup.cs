using Iris.Storage.Blobs;
using Iris.Core.Apps;
using Iris.Server.Seams;
using Iris.Storage.Inputs;

namespace Iris.Server.Inputs;

/// <summary>Stored inputs for predict and search by input id: the input as GetInput shows it and its original bytes.</summary>
internal sealed class InputLookup(IInputStore store, IBlobStore blobs, InputMapper mapper) : IInputLookup
{
    public async ValueTask<StoredInput?> FindAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        var row = await store.GetInputAsync(app, inputId, cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return null;
        }

        var levels = await store.InputLevelAnnotationsAsync(app, [row.Id], cancellationToken).ConfigureAwait(false);
        // Uploaded bytes exist from the start; a URL input has bytes once it has been downloaded.
        var key = row.BlobKey ?? row.SourceBlob;
        var bytes = key is null ? null : await blobs.GetAsync(key, cancellationToken).ConfigureAwait(false);
        return new StoredInput(mapper.ToInput(app, row, levels.GetValueOrDefault(row.Id)), bytes ?? ReadOnlyMemory<byte>.Empty);
    }
}
