using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Seams;

namespace Iris.Server.Access;

/// <summary>
/// App resolution until users, apps and keys exist (the identity work replaces this): a PAT reaches its own user's
/// apps and reads <c>clarifai/main</c>; anything else answers as if it did not exist. App existence is not checked yet.
/// </summary>
internal sealed class InterimAppAccess : IAppAccess
{
    public const string MissingAppDetails = "Must provide app external ID in API authorizer";

    public ValueTask<AppRef> ResolveAsync(CallContext context, UserAppIDSet? ids, AppAccessKind kind, CancellationToken cancellationToken)
    {
        var principal = context.Principal ?? throw new IrisException(StatusCode.ConnKeyInvalid, MissingAppDetails);
        if (principal.Kind == CredentialKind.ApiKey)
        {
            var keyApp = new AppRef(principal.UserId, principal.AppId!);
            if (ids is { AppId.Length: > 0 } && (ids.AppId != keyApp.AppId || ids.UserId is { Length: > 0 } u && u != keyApp.UserId))
            {
                throw new IrisException(StatusCode.ConnKeyInvalid, "An app-specific API key reaches only its own app.");
            }

            return ValueTask.FromResult(keyApp);
        }

        if (ids is null || string.IsNullOrEmpty(ids.AppId))
        {
            throw new IrisException(StatusCode.ConnKeyInvalid, MissingAppDetails);
        }

        var userId = string.IsNullOrEmpty(ids.UserId) ? principal.UserId : ids.UserId;
        var app = new AppRef(userId, ids.AppId);
        if (userId == principal.UserId || (app == AppRef.ClarifaiMain && kind == AppAccessKind.Read))
        {
            return ValueTask.FromResult(app);
        }

        throw new IrisException(StatusCode.ConnDoesNotExist, $"app '{app}' not found.");
    }
}
