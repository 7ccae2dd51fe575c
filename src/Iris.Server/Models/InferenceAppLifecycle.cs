using Iris.Core.Apps;
using Iris.Storage.Vectors;

namespace Iris.Server.Models;

/// <summary>DeleteApp and PatchAppsIds for the base-workflow index: an app's stored embeddings and predicted concepts go or move with it.</summary>
internal sealed class InferenceAppLifecycle(IInputIndexStore store) : IAppLifecycleListener
{
    public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken) => store.PurgeAppAsync(app, cancellationToken);

    public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken) => store.RenameAppAsync(from, to, cancellationToken);
}
