using Clarifai.Api;
using Iris.Core.Apps;

namespace Iris.Server.Seams;

/// <summary>A stored input, as GetInput returns it, with the original bytes of its image.</summary>
public sealed record StoredInput(Input Input, ReadOnlyMemory<byte> ImageBytes);

/// <summary>
/// Reads stored inputs for other features: predict by input id, search by input. Implemented by the inputs module.
/// </summary>
public interface IInputLookup
{
    /// <summary>The input, or null when <paramref name="app"/> has no input <paramref name="inputId"/> (or it is being deleted).</summary>
    ValueTask<StoredInput?> FindAsync(AppRef app, string inputId, CancellationToken cancellationToken);
}
