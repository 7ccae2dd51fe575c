using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Inference.Workflows;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Seams;
using Iris.Server.Validation;
using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Workflows;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Workflows;

/// <summary>
/// Workflow CRUD and versions (CLARIFAI_FACTS.md 6.4): an app's workflows are stored, the public ones of
/// <c>clarifai/main</c> are built in (<see cref="PublicWorkflows"/>). Every graph is checked when written; a change of
/// nodes makes a new version, pinned to the model versions it found. Unknown workflows and versions on reads answer
/// 11101 as other resources do; on predict 22102.
/// </summary>
internal sealed partial class WorkflowsModule(
    IAppAccess access,
    IIdentityStore identity,
    IWorkflowStore store,
    PublicWorkflows builtins,
    WorkflowModels models,
    WorkflowRunner runner,
    TimeProvider time) : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<PostWorkflowsRequest, MultiWorkflowResponse>(nameof(V2.V2Base.PostWorkflows), PostWorkflowsAsync);
        registry.Add<GetWorkflowRequest, SingleWorkflowResponse>(nameof(V2.V2Base.GetWorkflow), GetWorkflowAsync);
        registry.Add<ListWorkflowsRequest, MultiWorkflowResponse>(nameof(V2.V2Base.ListWorkflows), ListWorkflowsAsync);
        registry.Add<PatchWorkflowsRequest, MultiWorkflowResponse>(nameof(V2.V2Base.PatchWorkflows), PatchWorkflowsAsync);
        registry.Add<PatchWorkflowIdsRequest, MultiWorkflowResponse>(nameof(V2.V2Base.PatchWorkflowIds), PatchWorkflowIdsAsync);
        registry.Add<DeleteWorkflowRequest, Clarifai.Api.Status.BaseResponse>(nameof(V2.V2Base.DeleteWorkflow), DeleteWorkflowAsync);
        registry.Add<DeleteWorkflowsRequest, Clarifai.Api.Status.BaseResponse>(nameof(V2.V2Base.DeleteWorkflows), DeleteWorkflowsAsync);
        registry.Add<ListWorkflowVersionsRequest, MultiWorkflowVersionResponse>(nameof(V2.V2Base.ListWorkflowVersions), ListWorkflowVersionsAsync);
        registry.Add<GetWorkflowVersionRequest, SingleWorkflowVersionResponse>(nameof(V2.V2Base.GetWorkflowVersion), GetWorkflowVersionAsync);
        registry.Add<PatchWorkflowVersionsRequest, MultiWorkflowVersionResponse>(nameof(V2.V2Base.PatchWorkflowVersions), PatchWorkflowVersionsAsync);
        registry.Add<DeleteWorkflowVersionsRequest, Clarifai.Api.Status.BaseResponse>(nameof(V2.V2Base.DeleteWorkflowVersions), DeleteWorkflowVersionsAsync);
        registry.Add<PostWorkflowResultsRequest, PostWorkflowResultsResponse>(nameof(V2.V2Base.PostWorkflowResults), PostWorkflowResultsAsync);
    }

    private async ValueTask<MultiWorkflowResponse> PostWorkflowsAsync(PostWorkflowsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Workflows.Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give at least one workflow in 'workflows'.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var created = new List<StoredWorkflow>();
        var now = Clock.NowMicros(time);
        foreach (var w in request.Workflows)
        {
            Ids.Require("Workflow id", w.Id, IdKind.Resource, StatusCode.WorkflowInvalidArgument);
            if (!seen.Add(w.Id))
            {
                throw new IrisException(StatusCode.WorkflowDuplicate, $"Workflow '{w.Id}' is given twice in the request.");
            }

            if (w.Nodes.Count == 0)
            {
                throw new IrisException(StatusCode.WorkflowInvalidArgument, $"Workflow '{w.Id}' has no nodes: give at least one node with a model.");
            }

            var plan = await models.PlanAsync(context, app, w.Nodes, ct).ConfigureAwait(false);
            var visibility = WorkflowViews.VisibilityOf(w.Visibility, WorkflowViews.DefaultVisibility);
            var metadata = WorkflowViews.MetadataJson(w.Metadata);
            var record = new WorkflowRecord(app, w.Id, w.Description, w.Notes, metadata, visibility, [.. w.UseCases], now, now);
            var version = new WorkflowVersionRecord(w.Id, WorkflowViews.NewId(), 1, WorkflowViews.NodesJson(WorkflowModels.Pinned(plan)), w.Description, string.Empty,
                metadata, visibility, now, now);
            created.Add(new StoredWorkflow(record, version));
        }

        if (await store.CreateAsync(created, ct).ConfigureAwait(false) is { } taken)
        {
            throw new IrisException(StatusCode.WorkflowDuplicate, $"Workflow '{taken}' already exists in app '{app}'.");
        }

        var response = new MultiWorkflowResponse();
        response.Workflows.AddRange(created.Select(WorkflowViews.Stored));
        return response;
    }

    private async ValueTask<SingleWorkflowResponse> GetWorkflowAsync(GetWorkflowRequest request, CallContext context)
    {
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, context.CancellationToken).ConfigureAwait(false);
        return new SingleWorkflowResponse { Workflow = await FindViewAsync(app, request.WorkflowId, context.CancellationToken).ConfigureAwait(false) };
    }

    private async ValueTask<MultiWorkflowResponse> ListWorkflowsAsync(ListWorkflowsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var page = Paging.Read(request.Page, request.PerPage);
        var workflows = new List<Workflow>();
        if (request.UserAppId is { AppId.Length: > 0 } || context.Principal is { Kind: CredentialKind.ApiKey })
        {
            var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
            workflows.AddRange(await ListAppAsync(app, ct).ConfigureAwait(false));
        }
        else if (request.UserAppId is { UserId.Length: > 0 })
        {
            // The user route: every workflow of the user's apps the caller can see.
            var caller = context.Principal!.UserId;
            var owner = string.IsNullOrEmpty(request.UserAppId.UserId) ? caller : request.UserAppId.UserId;
            foreach (var app in await identity.ListAppsAsync(owner, caller, ct).ConfigureAwait(false))
            {
                workflows.AddRange(await ListAppAsync(app.Ref, ct).ConfigureAwait(false));
            }
        }
        else
        {
            // The public route with a PAT: the public workflows.
            workflows.AddRange(builtins.All.Select(WorkflowViews.Builtin));
        }

        IEnumerable<Workflow> found = workflows;
#pragma warning disable CS0612 // query, id and search_term are deprecated spellings of search that old clients still send.
        var search = request.Search is { Length: > 0 } s ? s : request.Query is { Length: > 0 } q ? q : request.SearchTerm is { Length: > 0 } t ? t : request.Id;
#pragma warning restore CS0612
        if (search.Length > 0)
        {
            var words = search.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            found = found.Where(w => words.All(word => string.Join(' ', w.Id, w.Description, w.Notes, string.Join(' ', w.UseCases)).Contains(word, StringComparison.OrdinalIgnoreCase)));
        }

        if (request.Visibility is { Gettable: not Visibility.Types.Gettable.UnknownVisibility } v)
        {
            found = found.Where(w => w.Visibility.Gettable == v.Gettable);
        }

        if (request.FeaturedOnly || request.StarredOnly || request.Bookmark)
        {
            // Iris has no featured, starred or bookmarked workflows.
            found = [];
        }

        found = request.SortByCase switch
        {
            ListWorkflowsRequest.SortByOneofCase.SortById => Order(found, w => w.Id, request.SortAscending),
            ListWorkflowsRequest.SortByOneofCase.SortByCreatedAt => Order(found, w => w.CreatedAt.ToDateTimeOffset(), request.SortAscending),
            // No stars or relevance scores: those sorts keep the default order, by modification time.
            _ => Order(found, w => w.ModifiedAt.ToDateTimeOffset(), request.SortAscending),
        };
        var response = new MultiWorkflowResponse();
        response.Workflows.AddRange(page.Of(found));
        return response;
    }

    private async ValueTask<MultiWorkflowResponse> PatchWorkflowsAsync(PatchWorkflowsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        var action = request.Action switch
        {
            "" or "merge" => "merge",
            "overwrite" or "remove" => request.Action,
            _ => throw new IrisException(StatusCode.WorkflowInvalidArgument, $"action '{request.Action}' is not supported: use merge, overwrite or remove."),
        };
        if (request.Workflows.Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give at least one workflow in 'workflows'.");
        }

        // Everything is checked before anything is written.
        var now = Clock.NowMicros(time);
        var changes = new List<(WorkflowRecord Workflow, WorkflowVersionRecord? Version, StoredWorkflow Current)>();
        foreach (var patch in request.Workflows)
        {
            var current = await store.FindAsync(app, patch.Id, ct).ConfigureAwait(false) ?? throw NotFound(app, patch.Id);
            var (workflow, nodes) = Patch(current, patch, action, now);
            WorkflowVersionRecord? version = null;
            if (nodes is not null)
            {
                if (nodes.Count == 0)
                {
                    throw new IrisException(StatusCode.WorkflowInvalidArgument, $"Workflow '{patch.Id}' would have no nodes: a workflow keeps at least one node.");
                }

                var plan = await models.PlanAsync(context, app, nodes, ct).ConfigureAwait(false);
                var json = WorkflowViews.NodesJson(WorkflowModels.Pinned(plan));
                if (!string.Equals(json, current.Latest.NodesJson, StringComparison.Ordinal))
                {
                    version = new WorkflowVersionRecord(workflow.Id, WorkflowViews.NewId(), 0, json, workflow.Description, current.Latest.License, workflow.MetadataJson,
                        workflow.Visibility, now, now);
                }
            }

            changes.Add((workflow, version, current));
        }

        var response = new MultiWorkflowResponse();
        foreach (var (workflow, version, current) in changes)
        {
            if (!await store.UpdateAsync(workflow, version, ct).ConfigureAwait(false))
            {
                throw NotFound(app, workflow.Id);
            }

            response.Workflows.Add(WorkflowViews.Stored((await store.FindAsync(app, workflow.Id, ct).ConfigureAwait(false)) ?? current));
        }

        return response;
    }

    /// <summary>
    /// The workflow's fields after the patch, and its new node list (null when the patch gives no nodes): <c>merge</c>
    /// replaces given fields, merges metadata and replaces or adds nodes by id; <c>overwrite</c> replaces all of them;
    /// <c>remove</c> drops the given nodes (by id), use cases and metadata keys.
    /// </summary>
    private static (WorkflowRecord Workflow, IReadOnlyList<WorkflowNode>? Nodes) Patch(StoredWorkflow current, Workflow patch, string action, long now)
    {
        var w = current.Workflow;
        var nodes = WorkflowViews.Nodes(current.Latest.NodesJson).ToList();
        var existingMeta = w.MetadataJson.Length > 0 ? JsonParser.Default.Parse<Struct>(w.MetadataJson) : new Struct();
        switch (action)
        {
            case "overwrite":
                return (w with
                {
                    Description = patch.Description,
                    Notes = patch.Notes,
                    MetadataJson = WorkflowViews.MetadataJson(patch.Metadata),
                    Visibility = WorkflowViews.VisibilityOf(patch.Visibility, w.Visibility),
                    UseCases = [.. patch.UseCases],
                    ModifiedUs = now,
                }, patch.Nodes.Count > 0 ? patch.Nodes : null);
            case "remove":
                foreach (var key in patch.Metadata?.Fields.Keys ?? Enumerable.Empty<string>())
                {
                    existingMeta.Fields.Remove(key);
                }

                var removedNodes = patch.Nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
                foreach (var id in removedNodes)
                {
                    if (!nodes.Any(n => n.Id == id))
                    {
                        throw new IrisException(StatusCode.WorkflowInvalidArgument, $"Workflow '{w.Id}' has no node '{id}' to remove.");
                    }
                }

                // Nodes that read a removed node would lose their input: the graph check names them.
                return (w with
                {
                    MetadataJson = WorkflowViews.MetadataJson(existingMeta),
                    UseCases = [.. w.UseCases.Where(u => !patch.UseCases.Contains(u))],
                    ModifiedUs = now,
                }, removedNodes.Count > 0 ? nodes.Where(n => !removedNodes.Contains(n.Id)).ToList() : null);
            default:
                foreach (var (key, value) in patch.Metadata?.Fields ?? (IEnumerable<KeyValuePair<string, Value>>)[])
                {
                    existingMeta.Fields[key] = value.Clone();
                }

                List<WorkflowNode>? merged = null;
                if (patch.Nodes.Count > 0)
                {
                    merged = nodes;
                    foreach (var node in patch.Nodes)
                    {
                        var at = merged.FindIndex(n => n.Id == node.Id);
                        if (at >= 0 && node.Id.Length > 0)
                        {
                            merged[at] = node;
                        }
                        else
                        {
                            merged.Add(node);
                        }
                    }
                }

                return (w with
                {
                    Description = patch.Description.Length > 0 ? patch.Description : w.Description,
                    Notes = patch.Notes.Length > 0 ? patch.Notes : w.Notes,
                    MetadataJson = WorkflowViews.MetadataJson(existingMeta),
                    Visibility = WorkflowViews.VisibilityOf(patch.Visibility, w.Visibility),
                    UseCases = patch.UseCases.Count > 0 ? [.. w.UseCases.Union(patch.UseCases)] : w.UseCases,
                    ModifiedUs = now,
                }, merged);
        }
    }

    private async ValueTask<MultiWorkflowResponse> PatchWorkflowIdsAsync(PatchWorkflowIdsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.Action is { Length: > 0 } a && a != "overwrite")
        {
            throw new IrisException(StatusCode.WorkflowInvalidArgument, $"action '{a}' is not supported by PatchWorkflowIds: use overwrite.");
        }

        if (request.Ids.Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give at least one {id, new_id} pair in 'ids'.");
        }

        foreach (var change in request.Ids)
        {
            Ids.Require("Workflow id", change.NewId, IdKind.Resource, StatusCode.WorkflowInvalidArgument);
            _ = await store.FindAsync(app, change.Id, ct).ConfigureAwait(false) ?? throw NotFound(app, change.Id);
        }

        var response = new MultiWorkflowResponse();
        foreach (var change in request.Ids)
        {
            if (!await store.RenameAsync(app, change.Id, change.NewId, Clock.NowMicros(time), ct).ConfigureAwait(false))
            {
                throw new IrisException(StatusCode.WorkflowDuplicate, $"Workflow '{change.NewId}' already exists in app '{app}'.");
            }

            response.Workflows.Add(WorkflowViews.Stored((await store.FindAsync(app, change.NewId, ct).ConfigureAwait(false))!));
        }

        return response;
    }

    private async ValueTask<Clarifai.Api.Status.BaseResponse> DeleteWorkflowAsync(DeleteWorkflowRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if ((await store.DeleteAsync(app, [request.WorkflowId], ct).ConfigureAwait(false)).Count == 0)
        {
            throw NotFound(app, request.WorkflowId);
        }

        return new Clarifai.Api.Status.BaseResponse();
    }

    private async ValueTask<Clarifai.Api.Status.BaseResponse> DeleteWorkflowsAsync(DeleteWorkflowsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        if (request.DeleteAll)
        {
            if (request.Ids.Count > 0)
            {
                throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give either 'ids' or 'delete_all', not both.");
            }

            var all = await store.ListAsync(app, ct).ConfigureAwait(false);
            await store.DeleteAsync(app, [.. all.Select(w => w.Workflow.Id)], ct).ConfigureAwait(false);
            return new Clarifai.Api.Status.BaseResponse();
        }

        if (request.Ids.Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give the workflow ids to delete in 'ids', or set 'delete_all'.");
        }

        // All or nothing: an unknown id deletes none.
        foreach (var id in request.Ids)
        {
            _ = await store.FindAsync(app, id, ct).ConfigureAwait(false) ?? throw NotFound(app, id);
        }

        await store.DeleteAsync(app, [.. request.Ids], ct).ConfigureAwait(false);
        return new Clarifai.Api.Status.BaseResponse();
    }

    private async ValueTask<MultiWorkflowVersionResponse> ListWorkflowVersionsAsync(ListWorkflowVersionsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        var page = Paging.Read(request.Page, request.PerPage);
        var response = new MultiWorkflowVersionResponse();
        if (await store.FindAsync(app, request.WorkflowId, ct).ConfigureAwait(false) is null)
        {
            var builtin = Builtin(request.WorkflowId) ?? throw NotFound(app, request.WorkflowId);
            response.WorkflowVersions.AddRange(page.Of([WorkflowViews.BuiltinVersion(builtin)]));
            return response;
        }

        var versions = await store.ListVersionsAsync(app, request.WorkflowId, ct).ConfigureAwait(false);
        response.WorkflowVersions.AddRange(page.Of(versions).Select(v => WorkflowViews.Version(app, v)));
        return response;
    }

    private async ValueTask<SingleWorkflowVersionResponse> GetWorkflowVersionAsync(GetWorkflowVersionRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Read, ct).ConfigureAwait(false);
        if (await store.FindAsync(app, request.WorkflowId, ct).ConfigureAwait(false) is null)
        {
            var builtin = Builtin(request.WorkflowId) ?? throw NotFound(app, request.WorkflowId);
            var view = WorkflowViews.BuiltinVersion(builtin);
            return view.Id == request.WorkflowVersionId
                ? new SingleWorkflowVersionResponse { WorkflowVersion = view }
                : throw VersionNotFound(request.WorkflowId, request.WorkflowVersionId);
        }

        var version = await store.FindVersionAsync(app, request.WorkflowId, request.WorkflowVersionId, ct).ConfigureAwait(false)
            ?? throw VersionNotFound(request.WorkflowId, request.WorkflowVersionId);
        return new SingleWorkflowVersionResponse { WorkflowVersion = WorkflowViews.Version(app, version) };
    }

    private async ValueTask<MultiWorkflowVersionResponse> PatchWorkflowVersionsAsync(PatchWorkflowVersionsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        var action = request.Action switch
        {
            "" or "merge" => "merge",
            "overwrite" => "overwrite",
            _ => throw new IrisException(StatusCode.WorkflowInvalidArgument, $"action '{request.Action}' is not supported by PatchWorkflowVersions: use merge or overwrite."),
        };
        _ = await store.FindAsync(app, request.WorkflowId, ct).ConfigureAwait(false) ?? throw NotFound(app, request.WorkflowId);
        if (request.WorkflowVersions.Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give at least one version in 'workflow_versions'.");
        }

        var now = Clock.NowMicros(time);
        var patched = new List<WorkflowVersionRecord>();
        foreach (var patch in request.WorkflowVersions)
        {
            var current = await store.FindVersionAsync(app, request.WorkflowId, patch.Id, ct).ConfigureAwait(false) ?? throw VersionNotFound(request.WorkflowId, patch.Id);
            if (patch.Nodes.Count > 0)
            {
                throw new IrisException(StatusCode.WorkflowInvalidArgument,
                    $"The nodes of workflow version '{patch.Id}' cannot change: versions are immutable graphs. PatchWorkflows with new nodes makes a new version.");
            }

            var metadata = current.MetadataJson;
            if (patch.Metadata is not null)
            {
                var merged = action == "overwrite" || metadata.Length == 0 ? new Struct() : JsonParser.Default.Parse<Struct>(metadata);
                foreach (var (key, value) in patch.Metadata.Fields)
                {
                    merged.Fields[key] = value.Clone();
                }

                metadata = WorkflowViews.MetadataJson(merged);
            }

            patched.Add(current with
            {
                Description = action == "overwrite" || patch.Description.Length > 0 ? patch.Description : current.Description,
                License = action == "overwrite" || patch.License.Length > 0 ? patch.License : current.License,
                MetadataJson = action == "overwrite" && patch.Metadata is null ? string.Empty : metadata,
                Visibility = WorkflowViews.VisibilityOf(patch.Visibility, current.Visibility),
                ModifiedUs = now,
            });
        }

        var response = new MultiWorkflowVersionResponse();
        foreach (var version in patched)
        {
            if (!await store.UpdateVersionAsync(app, version, ct).ConfigureAwait(false))
            {
                throw VersionNotFound(request.WorkflowId, version.Id);
            }

            response.WorkflowVersions.Add(WorkflowViews.Version(app, version));
        }

        return response;
    }

    private async ValueTask<Clarifai.Api.Status.BaseResponse> DeleteWorkflowVersionsAsync(DeleteWorkflowVersionsRequest request, CallContext context)
    {
        var ct = context.CancellationToken;
        var app = await access.ResolveAsync(context, request.UserAppId, AppAccessKind.Write, ct).ConfigureAwait(false);
        _ = await store.FindAsync(app, request.WorkflowId, ct).ConfigureAwait(false) ?? throw NotFound(app, request.WorkflowId);
        if (request.WorkflowVersionIds.Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidRequest, "Give the version ids to delete in 'workflow_version_ids'.");
        }

        var versions = await store.ListVersionsAsync(app, request.WorkflowId, ct).ConfigureAwait(false);
        foreach (var id in request.WorkflowVersionIds)
        {
            if (!versions.Any(v => v.Id == id))
            {
                throw VersionNotFound(request.WorkflowId, id);
            }
        }

        if (versions.All(v => request.WorkflowVersionIds.Contains(v.Id)))
        {
            throw new IrisException(StatusCode.WorkflowInvalidArgument,
                $"Deleting these versions would leave workflow '{request.WorkflowId}' with none: a workflow keeps at least one version. Delete the workflow instead.");
        }

        if ((await store.DeleteVersionsAsync(app, request.WorkflowId, [.. request.WorkflowVersionIds], ct).ConfigureAwait(false)).Count == 0)
        {
            throw new IrisException(StatusCode.WorkflowInvalidArgument, $"Workflow '{request.WorkflowId}' keeps at least one version; another request deleted the others.");
        }

        return new Clarifai.Api.Status.BaseResponse();
    }

    private async ValueTask<IEnumerable<Workflow>> ListAppAsync(AppRef app, CancellationToken ct)
    {
        var stored = (await store.ListAsync(app, ct).ConfigureAwait(false)).Select(WorkflowViews.Stored);
        return app == AppRef.ClarifaiMain ? builtins.All.Select(WorkflowViews.Builtin).Concat(stored) : stored;
    }

    /// <summary>A workflow of the app, or (as predict resolves built-in models) a public workflow of <c>clarifai/main</c>; 11101 when neither.</summary>
    private async ValueTask<Workflow> FindViewAsync(AppRef app, string id, CancellationToken ct)
    {
        if (await store.FindAsync(app, id, ct).ConfigureAwait(false) is { } stored)
        {
            return WorkflowViews.Stored(stored);
        }

        return WorkflowViews.Builtin(Builtin(id) ?? throw NotFound(app, id));
    }

    /// <summary>A built-in workflow: those of <c>clarifai/main</c> resolve from every app, as built-in models do.</summary>
    private BuiltinWorkflow? Builtin(string id) => builtins.Find(id);

    private static IEnumerable<Workflow> Order<TKey>(IEnumerable<Workflow> workflows, Func<Workflow, TKey> key, bool ascending) =>
        ascending ? workflows.OrderBy(key).ThenBy(w => w.Id, StringComparer.Ordinal) : workflows.OrderByDescending(key).ThenBy(w => w.Id, StringComparer.Ordinal);

    private static IrisException NotFound(AppRef app, string id) =>
        new(StatusCode.ConnDoesNotExist, $"workflow_id '{id}' not found in app '{app}'. Check the url of your request.");

    private static IrisException VersionNotFound(string workflowId, string versionId) =>
        new(StatusCode.ConnDoesNotExist, $"workflow version '{versionId}' of workflow '{workflowId}' not found. Check the url of your request.");
}
