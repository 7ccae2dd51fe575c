namespace Iris.Core.Apps;

/// <summary>
/// Implemented by every area that stores rows or files keyed by app (inputs, models, searches, …) and registered in
/// DI as <c>IAppLifecycleListener</c>. The identity area calls all of them. It lives in Core so that areas below the
/// server (storage, inference, search) can implement it.
/// </summary>
public interface IAppLifecycleListener
{
    /// <summary>
    /// DeleteApp: the app is already invisible to every request (GetApp answers 11101 and its keys no longer work); remove
    /// everything stored for it. Runs in the background, possibly again after a restart, so it must be idempotent.
    /// </summary>
    Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken);

    /// <summary>PatchAppsIds: the app <paramref name="from"/> is now <paramref name="to"/>; re-key stored rows.</summary>
    Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken);
}
