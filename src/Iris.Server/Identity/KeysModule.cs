using Iris.Storage.Identity;
using Clarifai.Api;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Access;
using Iris.Server.Api;
using Iris.Server.Auth;
using Microsoft.Extensions.Logging;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Identity;

/// <summary>
/// Keys: PostKeys (app-specific API keys and personal access tokens), ListKeys, ListAppKeys, GetKey, PatchKeys,
/// DeleteKey. A secret is returned once, as <c>Key.id</c> of the PostKeys response (what clients use as the key);
/// afterwards keys are listed by their public id, and GetKey/PatchKeys/DeleteKey take either.
/// </summary>
internal sealed class KeysModule(IIdentityStore store, AppAccess access, TimeProvider time, ILogger<KeysModule> logger) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostKeysRequest, MultiKeyResponse>(nameof(V2.V2Base.PostKeys), PostKeysAsync);
        registry.Add<ListKeysRequest, MultiKeyResponse>(nameof(V2.V2Base.ListKeys), ListKeysAsync);
        registry.Add<ListAppKeysRequest, MultiKeyResponse>(nameof(V2.V2Base.ListAppKeys), ListAppKeysAsync);
        registry.Add<GetKeyRequest, SingleKeyResponse>(nameof(V2.V2Base.GetKey), GetKeyAsync);
        registry.Add<PatchKeysRequest, MultiKeyResponse>(nameof(V2.V2Base.PatchKeys), PatchKeysAsync);
        registry.Add<DeleteKeyRequest, Clarifai.Api.Status.BaseResponse>(nameof(V2.V2Base.DeleteKey), DeleteKeyAsync);
    }

    private async ValueTask<MultiKeyResponse> PostKeysAsync(PostKeysRequest request, CallContext context)
    {
        var user = access.RequireSelf(context, request.UserAppId);
        if (request.Keys.Count == 0)
        {
            throw IrisException.InvalidRequest("Give at least one key in keys.");
        }

        var now = IdentityMapping.Now(time);
        var planned = new List<KeyRecord>();
        foreach (var key in request.Keys)
        {
            planned.Add(await PlanAsync(context, user, key, now).ConfigureAwait(false));
        }

        var response = new MultiKeyResponse();
        foreach (var key in planned)
        {
            var secret = Tokens.NewSecret();
            await store.CreateKeyAsync(key, DbCredentialStore.Hash(secret), context.CancellationToken).ConfigureAwait(false);
            IdentityLog.KeyCreated(logger, key.Id, key.Type, key.UserId, key.AppId ?? string.Empty, context.Principal!.UserId);
            response.Keys.Add(IdentityMapping.ToProto(key, secret));
        }

        return response;
    }

    private async ValueTask<KeyRecord> PlanAsync(CallContext context, string user, Key key, DateTimeOffset now)
    {
        DateTimeOffset? expires = key.ExpiresAt is null ? null : key.ExpiresAt.ToDateTimeOffset();
        if (expires <= now)
        {
            throw IrisException.InvalidRequest("expires_at must be in the future.");
        }

        var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        switch (key.Type)
        {
            case KeyTypes.PersonalAccessToken:
                if (key.Apps.Count > 0)
                {
                    throw IrisException.InvalidRequest("A personal access token reaches every app of its user: leave apps empty.");
                }

                if (key.Scopes.Any(s => s != "All") || key.Endpoints.Count > 0)
                {
                    throw IrisException.InvalidRequest("A personal access token carries every scope of its user: give no scopes but All and no endpoints.");
                }

                return new KeyRecord(id, user, KeyTypes.PersonalAccessToken, key.Description, null, ["All"], [], now, expires);
            case "" or KeyTypes.AppSpecific:
                if (key.Apps.Count != 1)
                {
                    throw IrisException.InvalidRequest("An app-specific API key belongs to exactly one app: give it in apps.");
                }

                var named = key.Apps[0];
                var owner = named.UserId is "" or "me" ? user : named.UserId;
                var app = new AppRef(owner, named.Id);
                if (owner != user || named.Id.Length == 0 || await store.FindAppAsync(app, context.CancellationToken).ConfigureAwait(false) is null)
                {
                    throw access.Deny(context, app, StatusCode.ConnDoesNotExist, AppAccess.AppNotFoundDetails(app));
                }

                var scopes = IdentityMapping.ValidateScopes(key.Scopes);
                var endpoints = IdentityMapping.ValidateEndpoints(key.Endpoints);
                if (scopes.Count == 0 && endpoints.Count == 0)
                {
                    throw IrisException.InvalidRequest("An API key needs scopes (e.g. [\"All\"]) or endpoints.");
                }

                return new KeyRecord(id, user, KeyTypes.AppSpecific, key.Description, named.Id, scopes, endpoints, now, expires);
            default:
                throw IrisException.InvalidRequest($"Key type '{key.Type}' is unknown: use app_specific_key or personal_access_token.");
        }
    }

    private async ValueTask<MultiKeyResponse> ListKeysAsync(ListKeysRequest request, CallContext context)
    {
        var user = access.RequireSelf(context, request.UserAppId);
        IEnumerable<KeyRecord> keys = await store.ListKeysAsync(user, null, context.CancellationToken).ConfigureAwait(false);
        var now = IdentityMapping.Now(time);
        if (request.NotExpired)
        {
            keys = keys.Where(k => k.ExpiresAt is null || k.ExpiresAt > now);
        }

        if (request.Type.Length > 0)
        {
            keys = keys.Where(k => k.Type == request.Type);
        }

        if (request.Scopes.Count > 0)
        {
            keys = keys.Where(k => request.Scopes.All(s => k.Scopes.Contains(s, StringComparer.Ordinal)));
        }

        if (request.Endpoints.Count > 0)
        {
            var endpoints = IdentityMapping.ValidateEndpoints(request.Endpoints);
            keys = keys.Where(k => endpoints.All(e => k.Endpoints.Contains(e, StringComparer.Ordinal)));
        }

        return Many(Paging.Read(request.Page, request.PerPage).Of(keys));
    }

    private async ValueTask<MultiKeyResponse> ListAppKeysAsync(ListAppKeysRequest request, CallContext context)
    {
        var app = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        var keys = await store.ListKeysAsync(app.UserId, app.Id, context.CancellationToken).ConfigureAwait(false);
        return Many(Paging.Read(request.Page, request.PerPage).Of(keys));
    }

    private async ValueTask<SingleKeyResponse> GetKeyAsync(GetKeyRequest request, CallContext context)
    {
        var user = access.RequireSelf(context, request.UserAppId);
        return new SingleKeyResponse { Key = IdentityMapping.ToProto(await FindAsync(context, user, request.KeyId).ConfigureAwait(false)) };
    }

    private async ValueTask<MultiKeyResponse> PatchKeysAsync(PatchKeysRequest request, CallContext context)
    {
        var user = access.RequireSelf(context, request.UserAppId);
        var action = request.Action.Length == 0 ? "overwrite" : request.Action;
        var now = IdentityMapping.Now(time);
        var patched = new List<KeyRecord>();
        foreach (var patch in request.Keys)
        {
            var current = await FindAsync(context, user, patch.Id).ConfigureAwait(false);
            if (patch.Type.Length > 0 && patch.Type != current.Type)
            {
                throw IrisException.InvalidRequest("A key's type cannot change.");
            }

            if (patch.Apps.Count > 0 && (patch.Apps.Count != 1 || patch.Apps[0].Id != current.AppId))
            {
                throw IrisException.InvalidRequest("A key's app cannot change; create a key for the other app.");
            }

            var scopes = current.Scopes;
            var endpoints = current.Endpoints;
            if (current.Type == KeyTypes.AppSpecific)
            {
                scopes = patch.Scopes.Count > 0
                    ? IdentityMapping.PatchList(current.Scopes, IdentityMapping.ValidateScopes(patch.Scopes), action) : current.Scopes;
                endpoints = patch.Endpoints.Count > 0
                    ? IdentityMapping.PatchList(current.Endpoints, IdentityMapping.ValidateEndpoints(patch.Endpoints), action) : current.Endpoints;
                if (scopes.Count == 0 && endpoints.Count == 0)
                {
                    throw IrisException.InvalidRequest("An API key needs scopes (e.g. [\"All\"]) or endpoints.");
                }
            }
            else if (patch.Scopes.Count > 0 || patch.Endpoints.Count > 0)
            {
                throw IrisException.InvalidRequest("A personal access token carries every scope of its user; its scopes cannot change.");
            }

            DateTimeOffset? expires = patch.ExpiresAt is null ? current.ExpiresAt : patch.ExpiresAt.ToDateTimeOffset();
            if (patch.ExpiresAt is not null && expires <= now)
            {
                throw IrisException.InvalidRequest("expires_at must be in the future.");
            }

            patched.Add(current with
            {
                Description = patch.Description.Length > 0 ? patch.Description : current.Description,
                Scopes = scopes,
                Endpoints = endpoints,
                ExpiresAt = expires,
            });
        }

        foreach (var key in patched)
        {
            await store.UpdateKeyAsync(key, context.CancellationToken).ConfigureAwait(false);
        }

        return Many(patched);
    }

    private async ValueTask<Clarifai.Api.Status.BaseResponse> DeleteKeyAsync(DeleteKeyRequest request, CallContext context)
    {
        var user = access.RequireSelf(context, request.UserAppId);
        var key = await FindAsync(context, user, request.KeyId).ConfigureAwait(false);
        await store.DeleteKeyAsync(user, key.Id, context.CancellationToken).ConfigureAwait(false);
        IdentityLog.KeyDeleted(logger, key.Id, user, context.Principal!.UserId);
        return new Clarifai.Api.Status.BaseResponse();
    }

    /// <summary>A key of <paramref name="user"/> by public id or by secret; the details never echo what was given (it may be a secret).</summary>
    private async ValueTask<KeyRecord> FindAsync(CallContext context, string user, string keyId)
    {
        if (keyId.Length == 0)
        {
            throw IrisException.InvalidRequest("key_id is required.");
        }

        var key = await store.FindKeyAsync(user, keyId, context.CancellationToken).ConfigureAwait(false);
        if (key is null && Tokens.HasValidFormat(keyId))
        {
            var bySecret = await store.FindKeyByHashAsync(DbCredentialStore.Hash(keyId), context.CancellationToken).ConfigureAwait(false);
            key = bySecret?.Key is { } k && k.UserId == user ? k : null;
        }

        return key ?? throw access.Deny(context, null, StatusCode.ConnDoesNotExist, $"User '{user}' has no key with the given key_id.", user);
    }

    private static MultiKeyResponse Many(IEnumerable<KeyRecord> keys)
    {
        var response = new MultiKeyResponse();
        response.Keys.AddRange(keys.Select(k => IdentityMapping.ToProto(k)));
        return response;
    }
}
