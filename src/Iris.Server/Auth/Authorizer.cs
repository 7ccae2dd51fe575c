using Clarifai.Api.Status;
using Clarifai.Auth.Types;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Iris.Server.Identity;

namespace Iris.Server.Auth;

/// <summary>
/// The RPC-level authorization step (before the handler and before the app is resolved): <c>cl_auth_type</c> decides
/// which kinds of token an RPC takes, and an API key must hold every scope of the RPC's <c>cl_depending_scopes</c>
/// (read from the descriptors) unless the RPC is among the key's endpoints. PATs carry every scope of their user;
/// what a PAT reaches inside an app (ownership, collaboration, visibility) is decided by the app access step.
/// </summary>
public static class Authorizer
{
    public static void Authorize(RpcInfo rpc, Principal principal)
    {
        if (principal.Kind != CredentialKind.ApiKey)
        {
            return;
        }

        if (rpc.AuthType is not AuthType.KeyAuth)
        {
            throw new IrisException(StatusCode.ConnKeyInvalid,
                $"{rpc.Name} takes a personal access token; an app-specific API key cannot call it.");
        }

        if (principal.Endpoints.Contains(rpc.Name))
        {
            return;
        }

        var missing = MissingScopes(rpc, principal);
        if (missing.Count > 0)
        {
            throw new IrisException(StatusCode.ConnInsufficientScopes,
                $"The API key lacks the scope{(missing.Count == 1 ? string.Empty : "s")} {string.Join(", ", missing)} required by {rpc.Name}.");
        }
    }

    /// <summary>Names of the RPC's required scopes that <paramref name="principal"/> does not hold, in descriptor order.</summary>
    public static List<string> MissingScopes(RpcInfo rpc, Principal principal)
    {
        var missing = new List<string>();
        foreach (var scope in rpc.RequiredScopes)
        {
            if (!principal.HasScope(scope))
            {
                missing.Add(ScopeCatalog.NameOf(scope));
            }
        }

        return missing;
    }
}
