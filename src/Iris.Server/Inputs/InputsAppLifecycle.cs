using Iris.Core.Apps;
using Iris.Storage.Inputs;

namespace Iris.Server.Inputs;

/// <summary>DeleteApp and PatchAppsIds for the inputs area: every input, annotation, concept, dataset and job of the app goes or moves with it.</summary>
internal sealed class InputsAppLifecycle(IInputStore store) : IAppLifecycleListener
{
    public Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken) => store.PurgeAppAsync(app, cancellationToken);

    public Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken) => store.RenameAppAsync(from, to, cancellationToken);
}
