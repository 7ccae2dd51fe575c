using Iris.Core.Apps;

namespace Iris.Core.Inputs;

/// <summary>A stored input as predict and search read it: no wire types, only what they need to work on its image.</summary>
/// <param name="Id">The input's id in its app.</param>
/// <param name="Url">The URL it was added from; null when its bytes were uploaded.</param>
/// <param name="IsImage">Whether the input is an image (text inputs have no image bytes).</param>
/// <param name="ImageBytes">
/// The original encoded bytes of its image: uploaded bytes from the start, a URL input's once ingestion downloaded them;
/// empty otherwise. Shared with the blob store's copy, not duplicated.
/// </param>
public sealed record StoredInput(string Id, string? Url, bool IsImage, ReadOnlyMemory<byte> ImageBytes);

/// <summary>
/// Reads stored inputs for other features: predict by input id, search by input. Implemented by the inputs area; lives
/// in Core so that inference and search, which sit below the server, can call it.
/// </summary>
public interface IInputLookup
{
    /// <summary>The input, or null when <paramref name="app"/> has no input <paramref name="inputId"/> (or it is being deleted).</summary>
    ValueTask<StoredInput?> FindAsync(AppRef app, string inputId, CancellationToken cancellationToken);
}
