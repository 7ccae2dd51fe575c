using System.Threading.Channels;
using Iris.Core.Apps;
using Iris.Server.Auth;
using Iris.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Identity;

/// <summary>
/// Seeds the bootstrap user and PAT at start, and purges deleted apps in the background: DeleteApp hides the app at once
/// (and drops its keys and collaborators); this worker then asks every <see cref="IAppLifecycleListener"/> to remove the
/// app's data and finally removes the app's row. Apps marked by another process (<c>iris users delete</c>) or left
/// half-purged by a crash are found by polling, so a purge always completes.
/// </summary>
internal sealed class AppDeletionWorker(
    IIdentityStore store,
    IEnumerable<IAppLifecycleListener> listeners,
    IrisServerOptions serverOptions,
    BootstrapCredentials bootstrap,
    IdentityOptions options,
    ILogger<AppDeletionWorker> logger) : BackgroundService
{
    public const string BootstrapKeyId = "bootstrap";

    private readonly Channel<AppRef> _queue = Channel.CreateUnbounded<AppRef>();
    private readonly IAppLifecycleListener[] _listeners = listeners.ToArray();

    // Seeded while the host resolves its hosted services, i.e. before any of them (Kestrel included) starts, so the
    // bootstrap PAT works from the first request. Synchronous: one small transaction, once per start.
    private readonly bool _seeded = Seed(store, serverOptions, bootstrap);

    /// <summary>Apps whose purge has completed since start (tests wait on this).</summary>
    public event Action<AppRef>? Purged;

    public void Enqueue(AppRef app) => _queue.Writer.TryWrite(app);

    /// <summary>True once the bootstrap user and PAT are in the store.</summary>
    public bool Seeded => _seeded;

    private static bool Seed(IIdentityStore store, IrisServerOptions serverOptions, BootstrapCredentials bootstrap)
    {
        store.EnsureBootstrapAsync(serverOptions.BootstrapUser, BootstrapKeyId, DbCredentialStore.Hash(bootstrap.Token), CancellationToken.None).GetAwaiter().GetResult();
        return true;
    }

    /// <summary>Tells every module an app was renamed; failures are logged, the identity rename already committed.</summary>
    public async Task NotifyRenamedAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        foreach (var listener in _listeners)
        {
            try
            {
                await listener.RenameAppAsync(from, to, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                IdentityLog.AppRenameFailed(logger, e, from.ToString(), to.ToString());
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromSeconds(options.DeletionPollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var app in await store.ListDeletingAppsAsync(stoppingToken).ConfigureAwait(false))
                {
                    await PurgeAsync(app, stoppingToken).ConfigureAwait(false);
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(poll);
                try
                {
                    await _queue.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // Poll interval elapsed.
                }

                while (_queue.Reader.TryRead(out _))
                {
                    // The scan at the top of the loop picks every marked app up.
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task PurgeAsync(AppRef app, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var listener in _listeners)
            {
                await listener.PurgeAppAsync(app, cancellationToken).ConfigureAwait(false);
            }

            await store.RemoveDeletedAppAsync(app, cancellationToken).ConfigureAwait(false);
            IdentityLog.AppPurged(logger, app.ToString());
            Purged?.Invoke(app);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            IdentityLog.AppPurgeFailed(logger, e, app.ToString());
        }
    }
}
