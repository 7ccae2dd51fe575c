using Iris.Core.Apps;
using Iris.Imaging;

namespace Iris.Core.Ingestion;

/// <summary>An image input that ingestion has fetched, decoded (upright) and stored.</summary>
/// <param name="App">The app it belongs to.</param>
/// <param name="InputId">Its id in that app.</param>
/// <param name="Image">The decoded image; valid only during the call, owned by ingestion.</param>
/// <param name="BlobKey">The content address of the original bytes in the blob store.</param>
public sealed record IndexedInput(AppRef App, string InputId, DecodedImage Image, string BlobKey);

/// <summary>
/// The one hook where an app's base workflow runs on each processed input: ingestion calls every registered indexer
/// after it has decoded and stored an image, before it marks the input 30000. An indexer that throws an
/// <see cref="Errors.IrisException"/> fails the input with that status; any other exception is retried like other
/// processing failures. Indexers must be idempotent: a crashed job runs again.
/// </summary>
public interface IInputIndexer
{
    ValueTask IndexAsync(IndexedInput input, CancellationToken cancellationToken);

    /// <summary>Forget what was indexed for these inputs (they are being deleted).</summary>
    ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken);
}
