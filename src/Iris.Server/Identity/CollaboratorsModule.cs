using Iris.Storage.Identity;
using Clarifai.Api;
using Iris.Core.Errors;
using Iris.Server.Access;
using Iris.Server.Api;
using Iris.Server.Seams;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Identity;

/// <summary>
/// Collaborators: PostCollaborators, ListCollaborators, PatchCollaborators, DeleteCollaborators, ListCollaborations. Only
/// the app's owner (or an API key of the app) manages them; a collaborator reaches the app within the scopes granted.
/// Collaborators are named by user id (Iris keeps no e-mail addresses to invite by).
/// </summary>
internal sealed class CollaboratorsModule(IIdentityStore store, AppAccess access, TimeProvider time) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostCollaboratorsRequest, MultiCollaboratorsResponse>(nameof(V2.V2Base.PostCollaborators), PostAsync);
        registry.Add<ListCollaboratorsRequest, MultiCollaboratorsResponse>(nameof(V2.V2Base.ListCollaborators), ListAsync);
        registry.Add<PatchCollaboratorsRequest, MultiCollaboratorsResponse>(nameof(V2.V2Base.PatchCollaborators), PatchAsync);
        registry.Add<DeleteCollaboratorsRequest, Clarifai.Api.Status.BaseResponse>(nameof(V2.V2Base.DeleteCollaborators), DeleteAsync);
        registry.Add<ListCollaborationsRequest, MultiCollaborationsResponse>(nameof(V2.V2Base.ListCollaborations), ListCollaborationsAsync);
    }

    private async ValueTask<MultiCollaboratorsResponse> PostAsync(PostCollaboratorsRequest request, CallContext context)
    {
        var app = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        if (request.Collaborators.Count == 0)
        {
            throw IrisException.InvalidRequest("Give at least one collaborator in collaborators.");
        }

        var now = IdentityMapping.Now(time);
        var planned = new List<(CollaboratorRecord Record, UserRecord User)>();
        foreach (var c in request.Collaborators)
        {
            var userId = c.User?.Id ?? string.Empty;
            if (userId.Length == 0)
            {
                throw IrisException.InvalidRequest("Name each collaborator by user.id (Iris does not invite by e-mail).");
            }

            var user = await store.FindUserAsync(userId, context.CancellationToken).ConfigureAwait(false)
                ?? throw access.Deny(context, app.Ref, StatusCode.ConnDoesNotExist, AppAccess.UserNotFoundDetails(userId));
            if (userId == app.UserId)
            {
                throw IrisException.InvalidRequest($"User '{userId}' owns app '{app.Id}' and cannot also collaborate on it.");
            }

            if (await store.FindCollaboratorAsync(app.Ref, userId, context.CancellationToken).ConfigureAwait(false) is not null
                || planned.Any(p => p.User.Id == userId))
            {
                throw IrisException.InvalidRequest($"User '{userId}' already collaborates on app '{app.Id}'.");
            }

            var scopes = IdentityMapping.ValidateScopes(c.Scopes);
            var endpoints = IdentityMapping.ValidateEndpoints(c.Endpoints);
            if (scopes.Count == 0 && endpoints.Count == 0)
            {
                throw IrisException.InvalidRequest("Give the collaborator's scopes (e.g. [\"All\"]) or endpoints.");
            }

            var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
            planned.Add((new CollaboratorRecord(id, app.Ref, userId, scopes, endpoints, now, now), user));
        }

        var response = new MultiCollaboratorsResponse();
        foreach (var (record, user) in planned)
        {
            if (!await store.AddCollaboratorAsync(record, context.CancellationToken).ConfigureAwait(false))
            {
                throw IrisException.InvalidRequest($"User '{record.UserId}' already collaborates on app '{app.Id}'.");
            }

            response.Collaborators.Add(IdentityMapping.ToProto(record, app, user));
        }

        return response;
    }

    private async ValueTask<MultiCollaboratorsResponse> ListAsync(ListCollaboratorsRequest request, CallContext context)
    {
        var resolved = await access.ResolveAppAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        if (!resolved.IsOwner && resolved.Collaborator is null)
        {
            throw access.Deny(context, resolved.App.Ref, StatusCode.ConnInsufficientScopes,
                $"Only the owner and the collaborators of app '{resolved.App.Id}' (user '{resolved.App.UserId}') can list its collaborators.");
        }

        var response = new MultiCollaboratorsResponse();
        var owner = await store.FindUserAsync(resolved.App.UserId, context.CancellationToken).ConfigureAwait(false);
        if (owner is not null)
        {
            response.AppOwner = IdentityMapping.ToProto(owner, self: false);
        }

        var collaborators = await store.ListCollaboratorsAsync(resolved.App.Ref, context.CancellationToken).ConfigureAwait(false);
        foreach (var c in Paging.Read(request.Page, request.PerPage).Of(collaborators))
        {
            response.Collaborators.Add(IdentityMapping.ToProto(c, resolved.App, await store.FindUserAsync(c.UserId, context.CancellationToken).ConfigureAwait(false)));
        }

        return response;
    }

    private async ValueTask<MultiCollaboratorsResponse> PatchAsync(PatchCollaboratorsRequest request, CallContext context)
    {
        var app = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        var action = request.Action.Length == 0 ? "overwrite" : request.Action;
        var existing = await store.ListCollaboratorsAsync(app.Ref, context.CancellationToken).ConfigureAwait(false);
        var now = IdentityMapping.Now(time);
        var patched = new List<CollaboratorRecord>();
        foreach (var c in request.Collaborators)
        {
            var current = existing.FirstOrDefault(e => (c.Id.Length > 0 && e.Id == c.Id) || (c.User?.Id is { Length: > 0 } u && e.UserId == u))
                ?? throw access.Deny(context, app.Ref, StatusCode.ConnDoesNotExist,
                    $"App '{app.Id}' has no collaborator '{(c.User?.Id is { Length: > 0 } u2 ? u2 : c.Id)}'.");
            var scopes = c.Scopes.Count > 0 ? IdentityMapping.PatchList(current.Scopes, IdentityMapping.ValidateScopes(c.Scopes), action) : current.Scopes;
            var endpoints = c.Endpoints.Count > 0 ? IdentityMapping.PatchList(current.Endpoints, IdentityMapping.ValidateEndpoints(c.Endpoints), action) : current.Endpoints;
            if (scopes.Count == 0 && endpoints.Count == 0)
            {
                throw IrisException.InvalidRequest("A collaborator needs scopes or endpoints; DeleteCollaborators removes one.");
            }

            patched.Add(current with { Scopes = scopes, Endpoints = endpoints, ModifiedAt = now });
        }

        var response = new MultiCollaboratorsResponse();
        foreach (var c in patched)
        {
            await store.UpdateCollaboratorAsync(c, context.CancellationToken).ConfigureAwait(false);
            response.Collaborators.Add(IdentityMapping.ToProto(c, app, await store.FindUserAsync(c.UserId, context.CancellationToken).ConfigureAwait(false)));
        }

        return response;
    }

    private async ValueTask<Clarifai.Api.Status.BaseResponse> DeleteAsync(DeleteCollaboratorsRequest request, CallContext context)
    {
        var app = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        if (request.UserEmails.Count > 0)
        {
            throw IrisException.InvalidRequest("Iris names collaborators by user id: use collaborator_ids.");
        }

        if (request.CollaboratorIds.Count == 0)
        {
            throw IrisException.InvalidRequest("Give the collaborators to remove in collaborator_ids.");
        }

        var existing = await store.ListCollaboratorsAsync(app.Ref, context.CancellationToken).ConfigureAwait(false);
        var users = new List<string>();
        foreach (var id in request.CollaboratorIds)
        {
            var match = existing.FirstOrDefault(e => e.Id == id || e.UserId == id)
                ?? throw access.Deny(context, app.Ref, StatusCode.ConnDoesNotExist, $"App '{app.Id}' has no collaborator '{id}'.");
            users.Add(match.UserId);
        }

        foreach (var user in users)
        {
            await store.DeleteCollaboratorAsync(app.Ref, user, context.CancellationToken).ConfigureAwait(false);
        }

        return new Clarifai.Api.Status.BaseResponse();
    }

    private async ValueTask<MultiCollaborationsResponse> ListCollaborationsAsync(ListCollaborationsRequest request, CallContext context)
    {
        var user = access.RequireSelf(context, request.UserAppId);
        IEnumerable<(CollaboratorRecord Collaborator, AppRecord App)> rows = await store.ListCollaborationsAsync(user, context.CancellationToken).ConfigureAwait(false);
        if (request.TemplateOnly)
        {
            rows = rows.Where(r => r.App.IsTemplate);
        }

        var response = new MultiCollaborationsResponse();
        foreach (var (c, app) in Paging.Read(request.Page, request.PerPage).Of(rows))
        {
            var owner = await store.FindUserAsync(app.UserId, context.CancellationToken).ConfigureAwait(false);
            var collaboration = new Collaboration
            {
                App = IdentityMapping.ToProto(app),
                AppOwner = owner is null ? new User { Id = app.UserId } : IdentityMapping.ToProto(owner, self: false),
                CreatedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(c.CreatedAt),
            };
            collaboration.Scopes.AddRange(c.Scopes);
            collaboration.Endpoints.AddRange(c.Endpoints.Select(e => ScopeCatalog.EndpointPrefix + e));
            response.Collaborations.Add(collaboration);
        }

        return response;
    }
}
