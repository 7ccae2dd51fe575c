using Iris.Storage.Identity;
using Clarifai.Api;
using Clarifai.Auth.Types;
using Iris.Contracts.Descriptors;
using Iris.Server.Access;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Seams;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Identity;

/// <summary>GetUser and the scope RPCs: MyScopes, MyScopesUser, MyScopesRoot, ListScopes (all read from the descriptors).</summary>
internal sealed class UsersModule(IIdentityStore store, AppAccess access) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<GetUserRequest, SingleUserResponse>(nameof(V2.V2Base.GetUser), GetUserAsync);
        registry.Add<MyScopesRequest, MultiScopeResponse>(nameof(V2.V2Base.MyScopes), MyScopesAsync);
        registry.Add<MyScopesUserRequest, MultiScopeUserResponse>(nameof(V2.V2Base.MyScopesUser), MyScopesUser);
        registry.Add<MyScopesRootRequest, MultiScopeRootResponse>(nameof(V2.V2Base.MyScopesRoot), MyScopesRoot);
        registry.Add<ListScopesRequest, MultiScopeDepsResponse>(nameof(V2.V2Base.ListScopes), ListScopes);
    }

    /// <summary>Yourself, a public user (such as <c>clarifai</c>), or a user whose apps you can see; anyone else does not exist.</summary>
    private async ValueTask<SingleUserResponse> GetUserAsync(GetUserRequest request, CallContext context)
    {
        var caller = context.Principal!.UserId;
        var target = AppAccess.TargetUser(context, request.UserAppId);
        var user = await store.FindUserAsync(target, context.CancellationToken).ConfigureAwait(false);
        var visible = user is not null && (target == caller || user.Visibility == Gettable.Public
            || (await store.ListAppsAsync(target, caller, context.CancellationToken).ConfigureAwait(false)).Count > 0);
        if (!visible)
        {
            throw access.Deny(context, null, StatusCode.ConnDoesNotExist, AppAccess.UserNotFoundDetails(target), target);
        }

        return new SingleUserResponse { User = IdentityMapping.ToProto(user!, self: target == caller) };
    }

    /// <summary>What the credential may do in the app: an API key's scopes; a PAT's on its own app (All), as collaborator, or on a public app (reads).</summary>
    private async ValueTask<MultiScopeResponse> MyScopesAsync(MyScopesRequest request, CallContext context)
    {
        var principal = context.Principal!;
        var resolved = await access.ResolveAppAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        var response = new MultiScopeResponse { App = IdentityMapping.ToProto(resolved.App) };
        if (principal.Kind == CredentialKind.ApiKey)
        {
            response.Scopes.AddRange(principal.Scopes!.Select(ScopeCatalog.NameOf).Order(StringComparer.Ordinal));
            response.Endpoints.AddRange(principal.Endpoints.Order(StringComparer.Ordinal).Select(e => ScopeCatalog.EndpointPrefix + e));
        }
        else if (resolved.IsOwner)
        {
            response.Scopes.Add("All");
        }
        else if (resolved.Collaborator is { } c)
        {
            response.Scopes.AddRange(c.Scopes);
            response.Endpoints.AddRange(c.Endpoints.Select(e => ScopeCatalog.EndpointPrefix + e));
        }
        else
        {
            // A public app: everything that only reads.
            response.Scopes.AddRange(ScopeCatalog.All.Where(s => s.Exposed && (s.Name.EndsWith("_Get", StringComparison.Ordinal) || s.Name is "Predict" or "Search"))
                .Select(s => s.Name));
        }

        return response;
    }

    private ValueTask<MultiScopeUserResponse> MyScopesUser(MyScopesUserRequest request, CallContext context)
    {
        access.RequireSelf(context, request.UserAppId);
        return ValueTask.FromResult(new MultiScopeUserResponse { Scopes = { "All" } });
    }

    private static ValueTask<MultiScopeRootResponse> MyScopesRoot(MyScopesRootRequest request, CallContext context) =>
        ValueTask.FromResult(new MultiScopeRootResponse { Scopes = { "All" } });

    /// <summary>
    /// Every exposed scope with its recommended dependencies, and every RPC a key of <c>key_type</c> can call
    /// (<c>app_specific_key</c>, the default: KeyAuth RPCs; <c>personal_access_token</c>: also PATAuth RPCs) with its
    /// required scopes.
    /// </summary>
    private ValueTask<MultiScopeDepsResponse> ListScopes(ListScopesRequest request, CallContext context)
    {
        access.RequireSelf(context, request.UserAppId);
        var pat = request.KeyType switch
        {
            "" or KeyTypes.AppSpecific => false,
            KeyTypes.PersonalAccessToken => true,
            _ => throw Core.Errors.IrisException.InvalidRequest($"key_type '{request.KeyType}' is unknown: use app_specific_key or personal_access_token."),
        };
        var response = new MultiScopeDepsResponse();
        foreach (var scope in ScopeCatalog.All.Where(s => s.Exposed))
        {
            var deps = new ScopeDeps { Scope = scope.Name };
            deps.DependingScopes.AddRange(scope.DependsOn.Select(ScopeCatalog.NameOf));
            response.ScopeDeps.Add(deps);
        }

        foreach (var rpc in ApiCatalog.Instance.Rpcs)
        {
            if (rpc.AuthType == AuthType.KeyAuth || (pat && rpc.AuthType == AuthType.Patauth))
            {
                var deps = new EndpointDeps { Endpoint = ScopeCatalog.EndpointPrefix + rpc.Name };
                deps.DependingScopes.AddRange(rpc.RequiredScopes.Select(ScopeCatalog.NameOf));
                response.EndpointDeps.Add(deps);
            }
        }

        return ValueTask.FromResult(response);
    }
}
