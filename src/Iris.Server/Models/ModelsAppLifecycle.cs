using Iris.Core.Apps;
using Iris.Storage.Models;

namespace Iris.Server.Models;

/// <summary>DeleteApp and PatchAppsIds for the models area: an app's models, versions and evaluations go or move with it.</summary>
internal sealed class ModelsAppLifecycle(IModelStore store) : IAppLifecycleListener
{
    public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken) => store.PurgeAppAsync(app, cancellationToken);

    public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken) => store.RenameAppAsync(from, to, cancellationToken);
}
