using Iris.Storage.Identity;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Access;
using Iris.Server.Api;
using Iris.Server.Seams;
using Iris.Server.Workflows;
using Microsoft.Extensions.Logging;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Identity;

/// <summary>Apps: PostApps, GetApp, ListApps, PatchApps, PatchApp, PatchAppsIds, PatchAppsDetails, DeleteApp, PostAppsSearches.</summary>
internal sealed class AppsModule(IIdentityStore store, AppAccess access, AppDeletionWorker deletions, BaseWorkflowChoice baseWorkflows, TimeProvider time, ILogger<AppsModule> logger) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<GetAppRequest, SingleAppResponse>(nameof(V2.V2Base.GetApp), GetAppAsync);
        registry.Add<ListAppsRequest, MultiAppResponse>(nameof(V2.V2Base.ListApps), ListAppsAsync);
        registry.Add<PostAppsRequest, MultiAppResponse>(nameof(V2.V2Base.PostApps), PostAppsAsync);
        registry.Add<PatchAppsRequest, MultiAppResponse>(nameof(V2.V2Base.PatchApps), PatchAppsAsync);
        registry.Add<PatchAppRequest, SingleAppResponse>(nameof(V2.V2Base.PatchApp), PatchAppAsync);
        registry.Add<PatchAppsIdsRequest, MultiAppResponse>(nameof(V2.V2Base.PatchAppsIds), PatchAppsIdsAsync);
        registry.Add<PatchAppsDetailsRequest, MultiAppResponse>(nameof(V2.V2Base.PatchAppsDetails), PatchAppsDetailsAsync);
        registry.Add<DeleteAppRequest, Clarifai.Api.Status.BaseResponse>(nameof(V2.V2Base.DeleteApp), DeleteAppAsync);
        registry.Add<PostAppsSearchesRequest, MultiAppResponse>(nameof(V2.V2Base.PostAppsSearches), PostAppsSearchesAsync);
    }

    private async ValueTask<SingleAppResponse> GetAppAsync(GetAppRequest request, CallContext context)
    {
        var resolved = await access.ResolveAppAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        return new SingleAppResponse { App = IdentityMapping.ToProto(resolved.App) };
    }

    private async ValueTask<MultiAppResponse> ListAppsAsync(ListAppsRequest request, CallContext context)
    {
        var caller = context.Principal!.UserId;
        var owner = AppAccess.TargetUser(context, request.UserAppId);
        var apps = await store.ListAppsAsync(owner, caller, context.CancellationToken).ConfigureAwait(false);
        if (owner != caller && apps.Count == 0 && (await store.FindUserAsync(owner, context.CancellationToken).ConfigureAwait(false))?.Visibility != Gettable.Public)
        {
            throw access.Deny(context, null, StatusCode.ConnDoesNotExist, AppAccess.UserNotFoundDetails(owner), owner);
        }

#pragma warning disable CS0612 // name, query and id are deprecated search fields that old clients still send.
        var search = request.Search is { Length: > 0 } s ? s : request.Query is { Length: > 0 } q ? q : request.Name is { Length: > 0 } n ? n : request.Id;
#pragma warning restore CS0612
        IEnumerable<AppRecord> filtered = apps;
        if (search.Length > 0)
        {
            filtered = filtered.Where(a => a.Id.Contains(search, StringComparison.OrdinalIgnoreCase) || a.Name.Contains(search, StringComparison.OrdinalIgnoreCase));
        }

        if (request.Visibility is { Gettable: not Visibility.Types.Gettable.UnknownVisibility } v)
        {
            filtered = filtered.Where(a => a.Visibility == (int)v.Gettable);
        }

        if (request.TemplateOnly)
        {
            filtered = filtered.Where(a => a.IsTemplate);
        }

        if (request.FeaturedOnly || request.StarredOnly)
        {
            // Iris has no featured or starred apps.
            filtered = [];
        }

        filtered = request.SortByCase switch
        {
            ListAppsRequest.SortByOneofCase.SortByName => Order(filtered, a => a.Name, request.SortAscending),
            ListAppsRequest.SortByOneofCase.SortById => Order(filtered, a => a.Id, request.SortAscending),
            ListAppsRequest.SortByOneofCase.SortByCreatedAt => Order(filtered, a => a.CreatedAt, request.SortAscending),
            _ => Order(filtered, a => a.ModifiedAt, request.SortAscending),
        };
        return Many(Paging.Read(request.Page, request.PerPage).Of(filtered));
    }

    private async ValueTask<MultiAppResponse> PostAppsAsync(PostAppsRequest request, CallContext context)
    {
        var owner = access.RequireSelf(context, request.UserAppId);
        if (request.Apps.Count == 0)
        {
            throw IrisException.InvalidRequest("Give at least one app in apps.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var app in request.Apps)
        {
            IdentityMapping.ValidateId("App", app.Id);
            if (!seen.Add(app.Id))
            {
                throw IrisException.InvalidRequest($"App '{app.Id}' is given twice.");
            }

            if (await store.FindAppAsync(new AppRef(owner, app.Id), context.CancellationToken).ConfigureAwait(false) is not null)
            {
                throw IrisException.InvalidRequest($"App '{app.Id}' already exists.");
            }

            baseWorkflows.Requested(app);
        }

        var now = IdentityMapping.Now(time);
        var created = new List<AppRecord>();
        foreach (var app in request.Apps)
        {
            var record = Patch(new AppRecord(owner, app.Id, app.Id, string.Empty, string.Empty, "en", string.Empty, Gettable.Private, false, 0, string.Empty, now, now),
                app, "overwrite", null, now) with { DefaultWorkflowId = baseWorkflows.ForNewApp(app) };
            if (!await store.CreateAppAsync(record, context.CancellationToken).ConfigureAwait(false))
            {
                throw IrisException.InvalidRequest($"App '{app.Id}' already exists or is still being deleted.");
            }

            created.Add(record);
        }

        return Many(created);
    }

    private async ValueTask<MultiAppResponse> PatchAppsAsync(PatchAppsRequest request, CallContext context)
    {
        var owner = access.RequireSelf(context, request.UserAppId);
        var action = Action(request.Action);
        var targets = new List<(AppRecord Current, App Patch)>();
        foreach (var app in request.Apps)
        {
            var current = await store.FindAppAsync(new AppRef(owner, app.Id), context.CancellationToken).ConfigureAwait(false)
                ?? throw access.Deny(context, new AppRef(owner, app.Id), StatusCode.ConnDoesNotExist, AppAccess.AppNotFoundDetails(new AppRef(owner, app.Id)));
            baseWorkflows.Requested(app);
            targets.Add((current, app));
        }

        var now = IdentityMapping.Now(time);
        var patched = new List<AppRecord>();
        foreach (var (current, patch) in targets)
        {
            var record = Patch(current, patch, action, request.MetadataAction, now);
            await store.UpdateAppAsync(record, context.CancellationToken).ConfigureAwait(false);
            await baseWorkflows.ChangedAsync(record.Ref, current.DefaultWorkflowId, record.DefaultWorkflowId, request.Reindex, context.CancellationToken).ConfigureAwait(false);
            patched.Add(record);
        }

        return Many(patched);
    }

    private async ValueTask<SingleAppResponse> PatchAppAsync(PatchAppRequest request, CallContext context)
    {
        var current = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        var patch = request.App ?? new App();
        if (patch.Id.Length > 0 && patch.Id != current.Id)
        {
            throw IrisException.InvalidRequest("PatchApp cannot change an app's id; use PatchAppsIds.");
        }

        baseWorkflows.Requested(patch);
        var record = Patch(current, patch, Action(request.Action), request.MetadataAction, IdentityMapping.Now(time));
        await store.UpdateAppAsync(record, context.CancellationToken).ConfigureAwait(false);
        await baseWorkflows.ChangedAsync(record.Ref, current.DefaultWorkflowId, record.DefaultWorkflowId, request.Reindex, context.CancellationToken).ConfigureAwait(false);
        return new SingleAppResponse { App = IdentityMapping.ToProto(record) };
    }

    private async ValueTask<MultiAppResponse> PatchAppsIdsAsync(PatchAppsIdsRequest request, CallContext context)
    {
        var owner = access.RequireSelf(context, request.UserAppId);
        if (request.Action is { Length: > 0 } a && a != "overwrite")
        {
            throw IrisException.InvalidRequest($"action '{a}' is not supported by PatchAppsIds: use overwrite.");
        }

        foreach (var change in request.Ids)
        {
            IdentityMapping.ValidateId("App", change.NewId);
            var from = new AppRef(owner, change.Id);
            RefuseBuiltIn(from);
            _ = await store.FindAppAsync(from, context.CancellationToken).ConfigureAwait(false)
                ?? throw access.Deny(context, from, StatusCode.ConnDoesNotExist, AppAccess.AppNotFoundDetails(from));
        }

        var renamed = new List<AppRecord>();
        foreach (var change in request.Ids)
        {
            var from = new AppRef(owner, change.Id);
            var to = new AppRef(owner, change.NewId);
            if (!await store.RenameAppAsync(from, change.NewId, IdentityMapping.Now(time), context.CancellationToken).ConfigureAwait(false))
            {
                throw IrisException.InvalidRequest($"App '{change.NewId}' already exists.");
            }

            IdentityLog.AppRenamed(logger, from.ToString(), to.ToString(), context.Principal!.UserId);
            await deletions.NotifyRenamedAsync(from, to, context.CancellationToken).ConfigureAwait(false);
            renamed.Add((await store.FindAppAsync(to, context.CancellationToken).ConfigureAwait(false))!);
        }

        return Many(renamed);
    }

    private async ValueTask<MultiAppResponse> PatchAppsDetailsAsync(PatchAppsDetailsRequest request, CallContext context)
    {
        var path = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        var now = IdentityMapping.Now(time);
        var patched = new List<AppRecord>();
        foreach (var app in request.Apps.Count == 0 ? [new App()] : request.Apps)
        {
            if (app.Id.Length > 0 && app.Id != path.Id)
            {
                throw IrisException.InvalidRequest($"PatchAppsDetails on app '{path.Id}' cannot change app '{app.Id}'.");
            }

            if (app.Image is not null)
            {
                throw IrisException.InvalidRequest("Iris does not store app images.");
            }

            var current = patched.LastOrDefault() ?? path;
            var record = current with
            {
                Description = app.Description.Length > 0 ? app.Description : current.Description,
                Notes = app.Notes.Length > 0 ? app.Notes : current.Notes,
                ModifiedAt = now,
            };
            await store.UpdateAppAsync(record, context.CancellationToken).ConfigureAwait(false);
            patched.Add(record);
        }

        return Many(patched.TakeLast(1));
    }

    private async ValueTask<Clarifai.Api.Status.BaseResponse> DeleteAppAsync(DeleteAppRequest request, CallContext context)
    {
        var app = await access.ResolveOwnedAsync(context, request.UserAppId, context.CancellationToken).ConfigureAwait(false);
        RefuseBuiltIn(app.Ref);
        if (await store.MarkAppDeletingAsync(app.Ref, context.CancellationToken).ConfigureAwait(false))
        {
            IdentityLog.AppDeleting(logger, app.Ref.ToString(), context.Principal!.UserId);
            deletions.Wake();
        }

        return new Clarifai.Api.Status.BaseResponse();
    }

    private async ValueTask<MultiAppResponse> PostAppsSearchesAsync(PostAppsSearchesRequest request, CallContext context)
    {
        var caller = context.Principal!.UserId;
        var owner = AppAccess.TargetUser(context, request.UserAppId);
        var apps = owner == caller
            ? await store.ListVisibleAppsAsync(caller, context.CancellationToken).ConfigureAwait(false)
            : await store.ListAppsAsync(owner, caller, context.CancellationToken).ConfigureAwait(false);
        IEnumerable<AppRecord> found = apps;
        if (request.AppQuery?.Name is { Length: > 0 } pattern)
        {
            found = found.Where(a => Wildcard(pattern, a.Name) || Wildcard(pattern, a.Id));
        }

        found = found.OrderBy(a => a.UserId, StringComparer.Ordinal).ThenBy(a => a.Id, StringComparer.Ordinal);
        return Many(Paging.Read(request.Pagination?.Page ?? 0, request.Pagination?.PerPage ?? 0).Of(found));
    }

    /// <summary><c>gen*</c> matches <c>general</c>; without <c>*</c> the name must contain the pattern. Case-insensitive.</summary>
    private static bool Wildcard(string pattern, string value)
    {
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return value.Contains(pattern, StringComparison.OrdinalIgnoreCase);
        }

        var regex = "^" + string.Join(".*", pattern.Split('*').Select(System.Text.RegularExpressions.Regex.Escape)) + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(value, regex, System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant,
            TimeSpan.FromMilliseconds(100));
    }

    private static void RefuseBuiltIn(AppRef app)
    {
        if (app == AppRef.ClarifaiMain)
        {
            throw IrisException.InvalidRequest("App 'main' of user 'clarifai' holds the built-in models and cannot be renamed or deleted.");
        }
    }

    private static string Action(string action) => action switch
    {
        "" or "merge" => "merge",
        "overwrite" or "remove" => action,
        _ => throw IrisException.InvalidRequest($"action '{action}' is not supported: use merge, overwrite or remove."),
    };

    /// <summary>
    /// Applies the set fields of <paramref name="patch"/>. Scalars are replaced when given; <c>metadata</c> is merged
    /// (<c>merge</c>), replaced (<c>overwrite</c>) or has the given keys removed (<c>remove</c>), or as <c>metadata_action.op</c> says.
    /// </summary>
    private static AppRecord Patch(AppRecord current, App patch, string action, PatchAction? metadataAction, DateTimeOffset now)
    {
        if (patch.Image is not null)
        {
            throw IrisException.InvalidRequest("Iris does not store app images.");
        }

        var visibility = current.Visibility;
        if (patch.Visibility is { Gettable: not Visibility.Types.Gettable.UnknownVisibility } v)
        {
            visibility = v.Gettable switch
            {
                Visibility.Types.Gettable.Private or Visibility.Types.Gettable.Org or Visibility.Types.Gettable.Public => (int)v.Gettable,
                _ => throw IrisException.InvalidRequest($"visibility.gettable {(int)v.Gettable} is not one of 10 (PRIVATE), 30 (ORG), 50 (PUBLIC)."),
            };
        }

#pragma warning disable CS0612 // default_workflow_id is deprecated but still sent by clients.
        var workflow = patch.DefaultWorkflow?.Id is { Length: > 0 } w ? w : patch.DefaultWorkflowId;
#pragma warning restore CS0612
        var metadata = current.MetadataJson;
        if (patch.Metadata is not null)
        {
            var op = metadataAction?.Op is { Length: > 0 } o ? o : action;
            var existing = current.MetadataJson.Length > 0 ? JsonParser.Default.Parse<Struct>(current.MetadataJson) : new Struct();
            var result = op switch
            {
                "merge" => Merge(existing, patch.Metadata),
                "overwrite" => patch.Metadata.Clone(),
                "remove" or "delete" => Remove(existing, patch.Metadata),
                _ => throw IrisException.InvalidRequest($"metadata_action.op '{op}' is not supported: use merge, overwrite or delete."),
            };
            metadata = result.Fields.Count == 0 ? string.Empty : JsonFormatter.Default.Format(result);
        }

        if (patch.DefaultLanguage.Length > 0 && patch.DefaultLanguage.Length > 16)
        {
            throw IrisException.InvalidRequest($"default_language '{patch.DefaultLanguage}' is not a language code.");
        }

        return current with
        {
            Name = patch.Name.Length > 0 ? patch.Name : current.Name,
            Description = patch.Description.Length > 0 ? patch.Description : current.Description,
            Notes = patch.Notes.Length > 0 ? patch.Notes : current.Notes,
            DefaultLanguage = patch.DefaultLanguage.Length > 0 ? patch.DefaultLanguage : current.DefaultLanguage,
            DefaultWorkflowId = workflow.Length > 0 ? workflow : current.DefaultWorkflowId,
            Visibility = visibility,
            IsTemplate = patch.IsTemplate ?? current.IsTemplate,
            SampleMs = patch.SampleMs != 0 ? patch.SampleMs : current.SampleMs,
            MetadataJson = metadata,
            ModifiedAt = now,
        };
    }

    private static Struct Merge(Struct into, Struct from)
    {
        var result = into.Clone();
        foreach (var (name, value) in from.Fields)
        {
            result.Fields[name] = value.KindCase == Value.KindOneofCase.StructValue && result.Fields.TryGetValue(name, out var old) && old.KindCase == Value.KindOneofCase.StructValue
                ? Value.ForStruct(Merge(old.StructValue, value.StructValue))
                : value.Clone();
        }

        return result;
    }

    private static Struct Remove(Struct from, Struct keys)
    {
        var result = from.Clone();
        foreach (var name in keys.Fields.Keys)
        {
            result.Fields.Remove(name);
        }

        return result;
    }

    private static IEnumerable<AppRecord> Order<TKey>(IEnumerable<AppRecord> apps, Func<AppRecord, TKey> key, bool ascending) =>
        ascending ? apps.OrderBy(key).ThenBy(a => a.Id, StringComparer.Ordinal) : apps.OrderByDescending(key).ThenBy(a => a.Id, StringComparer.Ordinal);

    private static MultiAppResponse Many(IEnumerable<AppRecord> apps)
    {
        var response = new MultiAppResponse();
        response.Apps.AddRange(apps.Select(IdentityMapping.ToProto));
        return response;
    }
}
