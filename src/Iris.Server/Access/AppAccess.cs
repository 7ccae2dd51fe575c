using Iris.Storage.Identity;
using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Identity;
using Iris.Server.Seams;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Access;

/// <summary>
/// The rules of "Changes to the Use of PATs and API Keys" (seeds/002): an API key reaches only its own app, on the
/// short routes or by naming it; a PAT must name the owner and the app, and reaches its user's apps, apps it
/// collaborates on (within the granted scopes) and public apps such as <c>clarifai/main</c> (read only). An app the
/// caller may not see answers exactly as an app that does not exist.
/// </summary>
internal sealed class AppAccess(IIdentityStore store, ILogger<AppAccess> logger) : IAppAccess
{
    public const string MissingAppDetails = "Must provide app external ID in API authorizer";

    public async ValueTask<AppRef> ResolveAsync(CallContext context, UserAppIDSet? ids, AppAccessKind kind, CancellationToken cancellationToken) =>
        (await ResolveAppAsync(context, ids, kind, cancellationToken).ConfigureAwait(false)).App.Ref;

    /// <summary>As <see cref="ResolveAsync"/>, with the app's record and whether the caller acts as its owner.</summary>
    public async ValueTask<ResolvedApp> ResolveAppAsync(CallContext context, UserAppIDSet? ids, AppAccessKind kind, CancellationToken cancellationToken)
    {
        var principal = context.Principal ?? throw Deny(context, null, StatusCode.ConnKeyInvalid, MissingAppDetails);
        if (principal.Kind == CredentialKind.ApiKey)
        {
            var keyApp = new AppRef(principal.UserId, principal.AppId!);
            if (ids is { AppId.Length: > 0 } && (ids.AppId != keyApp.AppId || (ids.UserId is { Length: > 0 } u && u != keyApp.UserId)))
            {
                var named = new AppRef(string.IsNullOrEmpty(ids.UserId) ? keyApp.UserId : ids.UserId, ids.AppId);
                throw Deny(context, named, StatusCode.ConnKeyInvalid,
                    $"An app-specific API key reaches only its own app; use a personal access token to reach app '{named.AppId}' of user '{named.UserId}'.");
            }

            var own = await store.FindAppAsync(keyApp, cancellationToken).ConfigureAwait(false) ?? throw NotFound(context, keyApp);
            return new ResolvedApp(own, IsOwner: true, Collaborator: null);
        }

        if (ids is null || string.IsNullOrEmpty(ids.AppId))
        {
            throw Deny(context, null, StatusCode.ConnKeyInvalid, MissingAppDetails);
        }

        var target = new AppRef(string.IsNullOrEmpty(ids.UserId) ? principal.UserId : ids.UserId, ids.AppId);
        var app = await store.FindAppAsync(target, cancellationToken).ConfigureAwait(false) ?? throw NotFound(context, target);
        if (app.UserId == principal.UserId)
        {
            return new ResolvedApp(app, IsOwner: true, Collaborator: null);
        }

        var collaborator = await store.FindCollaboratorAsync(target, principal.UserId, cancellationToken).ConfigureAwait(false);
        if (collaborator is not null)
        {
            var missing = MissingScopes(context, collaborator);
            if (missing.Count > 0)
            {
                throw Deny(context, target, StatusCode.ConnInsufficientScopes,
                    $"As a collaborator on app '{target.AppId}' of user '{target.UserId}' you lack the scope{(missing.Count == 1 ? string.Empty : "s")} {string.Join(", ", missing)} required by {context.Rpc.Name}.");
            }

            return new ResolvedApp(app, IsOwner: false, collaborator);
        }

        if (app.Visibility == Gettable.Public)
        {
            if (kind == AppAccessKind.Read)
            {
                return new ResolvedApp(app, IsOwner: false, Collaborator: null);
            }

            throw Deny(context, target, StatusCode.ConnDoesNotExist,
                $"App '{target.AppId}' of user '{target.UserId}' is public and read-only: only its owner and collaborators can change it.");
        }

        throw NotFound(context, target);
    }

    /// <summary>Resolves an app for an operation only its owner may do (settings, keys, collaborators, deletion).</summary>
    public async ValueTask<AppRecord> ResolveOwnedAsync(CallContext context, UserAppIDSet? ids, CancellationToken cancellationToken)
    {
        var resolved = await ResolveAppAsync(context, ids, AppAccessKind.Write, cancellationToken).ConfigureAwait(false);
        if (!resolved.IsOwner)
        {
            throw Deny(context, resolved.App.Ref, StatusCode.ConnInsufficientScopes,
                $"Only the owner of app '{resolved.App.Id}' (user '{resolved.App.UserId}') can call {context.Rpc.Name}.");
        }

        return resolved.App;
    }

    /// <summary>The user a user-level request names (<c>me</c> already resolved); an empty id means the caller.</summary>
    public static string TargetUser(CallContext context, UserAppIDSet? ids) =>
        string.IsNullOrEmpty(ids?.UserId) ? context.Principal!.UserId : ids.UserId;

    /// <summary>User-level operations on one's own account only: anyone else's answers as if that user did not exist.</summary>
    public string RequireSelf(CallContext context, UserAppIDSet? ids)
    {
        var user = TargetUser(context, ids);
        if (user != context.Principal!.UserId)
        {
            throw Deny(context, null, StatusCode.ConnDoesNotExist, UserNotFoundDetails(user), user);
        }

        return user;
    }

    public static string AppNotFoundDetails(AppRef app) => $"App '{app.AppId}' of user '{app.UserId}' does not exist.";

    public static string UserNotFoundDetails(string userId) => $"User '{userId}' does not exist.";

    public IrisException Deny(CallContext context, AppRef? app, StatusCode code, string details, string? user = null)
    {
        IdentityLog.AccessDenied(logger, context.Rpc.Name, context.Principal?.UserId ?? string.Empty, context.Principal?.KeyId ?? string.Empty,
            app?.ToString() ?? user ?? string.Empty, (int)code, context.RequestId);
        return new IrisException(code, details);
    }

    private static List<string> MissingScopes(CallContext context, CollaboratorRecord collaborator)
    {
        if (collaborator.Endpoints.Contains(context.Rpc.Name, StringComparer.Ordinal))
        {
            return [];
        }

        var granted = new Principal(collaborator.UserId, CredentialKind.ApiKey)
        {
            Scopes = collaborator.Scopes.Select(s => ScopeCatalog.TryParse(s, out var scope) ? scope : Clarifai.Auth.Scope.S.Undef).ToHashSet(),
        };
        return Authorizer.MissingScopes(context.Rpc, granted);
    }

    private IrisException NotFound(CallContext context, AppRef app) => Deny(context, app, StatusCode.ConnDoesNotExist, AppNotFoundDetails(app));
}

/// <summary>An app resolved for a request: its record, and how the caller relates to it.</summary>
internal sealed record ResolvedApp(AppRecord App, bool IsOwner, CollaboratorRecord? Collaborator);
