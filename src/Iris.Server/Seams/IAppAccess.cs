using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Server.Api;

namespace Iris.Server.Seams;

/// <summary>What a handler is about to do with an app's resources.</summary>
public enum AppAccessKind
{
    /// <summary>Read, list, search, predict.</summary>
    Read,

    /// <summary>Create, change, delete.</summary>
    Write,
}

/// <summary>
/// Resolves the app a request targets (<c>user_app_id</c> or the path; an API key's own app on short routes) and
/// checks that the caller may reach it for the given kind of access. Every app-scoped handler calls this first and then
/// keys every store query by the returned <see cref="AppRef"/>. Failures throw the exact Clarifai status: a PAT
/// without an app → 11008 (<c>Must provide app external ID in API authorizer</c>); an app the caller cannot see
/// answers as if it did not exist.
/// </summary>
public interface IAppAccess
{
    ValueTask<AppRef> ResolveAsync(CallContext context, UserAppIDSet? ids, AppAccessKind kind, CancellationToken cancellationToken);
}
