using System.Net;
using Clarifai.Api;
using Clarifai.Api.Status;
using Metadata = Grpc.Core.Metadata;
using Iris.Server.Tests.Infrastructure;
using static Iris.Server.Tests.Workflows.WorkflowsFixture;

namespace Iris.Server.Tests.Workflows;

/// <summary>Workflow CRUD and versions over gRPC and REST, and every graph validation failure with its precise status naming the node.</summary>
public abstract class WorkflowCrudTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : WorkflowsFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    internal static WorkflowNode Node(string id, string modelId, string? input = null, string? version = null)
    {
        var node = new WorkflowNode { Id = id, Model = new Model { Id = modelId } };
        if (version is not null)
        {
            node.Model.ModelVersion = new ModelVersion { Id = version };
        }

        if (input is not null)
        {
            node.NodeInputs.Add(new NodeInput { NodeId = input });
        }

        return node;
    }

    private async Task<MultiWorkflowResponse> PostAsync(string app, params Workflow[] workflows)
    {
        var request = new PostWorkflowsRequest { UserAppId = App(app) };
        request.Workflows.AddRange(workflows);
        return await iris.Grpc.PostWorkflowsAsync(request, IrisFixture.PatMetadata);
    }

    private static Workflow Workflow(string id, params WorkflowNode[] nodes)
    {
        var w = new Workflow { Id = id };
        w.Nodes.AddRange(nodes);
        return w;
    }

    [Fact]
    public async Task Create_read_list_patch_versions_rename_and_delete()
    {
        var app = await iris.CreateAppAsync("wf-crud", "Empty");
        var created = await PostAsync(app, Workflow("mine", Node("concepts", "general-image-recognition"), Node("embed", "general-image-embedding")));
        Ok(created.Status);
        var mine = Assert.Single(created.Workflows);
        Assert.Equal(("mine", "wf-crud", "admin"), (mine.Id, mine.AppId, mine.UserId));
        Assert.Matches("^[0-9a-f]{32}$", mine.Version.Id);
        // Each node's model version is pinned to the one found, so the version always runs the same models.
        Assert.All(mine.Nodes, n => Assert.Matches("^[0-9a-f]{32}$", n.Model.ModelVersion.Id));
        Assert.Equal(["concepts", "embed"], mine.Nodes.Select(n => n.Id));

        Ok((await PostAsync(app, Workflow("second", Node("only", "nsfw-recognition")))).Status);
        var got = await iris.Grpc.GetWorkflowAsync(new GetWorkflowRequest { UserAppId = App(app), WorkflowId = "mine" }, IrisFixture.PatMetadata);
        Ok(got.Status);
        Assert.Equal(mine.Version.Id, got.Workflow.Version.Id);

        var list = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = App(app), SortById = true, SortAscending = true }, IrisFixture.PatMetadata);
        Assert.Equal(["mine", "second"], list.Workflows.Select(w => w.Id));
        var paged = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = App(app), SortById = true, SortAscending = true, Page = 2, PerPage = 1 }, IrisFixture.PatMetadata);
        Assert.Equal(["second"], paged.Workflows.Select(w => w.Id));
        var searched = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = App(app), Search = "SEC" }, IrisFixture.PatMetadata);
        Assert.Equal(["second"], searched.Workflows.Select(w => w.Id));
        var userRoute = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = new UserAppIDSet { UserId = "me" } }, IrisFixture.PatMetadata);
        Assert.Contains(userRoute.Workflows, w => w.Id == "mine" && w.AppId == "wf-crud");

        // A change of fields keeps the version; a change of nodes makes a new one.
        var describe = new PatchWorkflowsRequest { UserAppId = App(app), Action = "merge", Workflows = { new Workflow { Id = "mine", Description = "described" } } };
        var described = await iris.Grpc.PatchWorkflowsAsync(describe, IrisFixture.PatMetadata);
        Ok(described.Status);
        Assert.Equal(("described", mine.Version.Id), (described.Workflows[0].Description, described.Workflows[0].Version.Id));
        var regraph = new PatchWorkflowsRequest { UserAppId = App(app), Action = "overwrite", Workflows = { Workflow("mine", Node("embed", "general-image-embedding")) } };
        var regraphed = await iris.Grpc.PatchWorkflowsAsync(regraph, IrisFixture.PatMetadata);
        Ok(regraphed.Status);
        var v2 = regraphed.Workflows[0].Version.Id;
        Assert.NotEqual(mine.Version.Id, v2);
        Assert.Equal(["embed"], regraphed.Workflows[0].Nodes.Select(n => n.Id));

        var versions = await iris.Grpc.ListWorkflowVersionsAsync(new ListWorkflowVersionsRequest { UserAppId = App(app), WorkflowId = "mine" }, IrisFixture.PatMetadata);
        Assert.Equal([v2, mine.Version.Id], versions.WorkflowVersions.Select(v => v.Id));
        var old = await iris.Grpc.GetWorkflowVersionAsync(new GetWorkflowVersionRequest { UserAppId = App(app), WorkflowId = "mine", WorkflowVersionId = mine.Version.Id }, IrisFixture.PatMetadata);
        Assert.Equal(["concepts", "embed"], old.WorkflowVersion.Nodes.Select(n => n.Id));
        var patchVersion = new PatchWorkflowVersionsRequest { UserAppId = App(app), WorkflowId = "mine", Action = "merge", WorkflowVersions = { new WorkflowVersion { Id = mine.Version.Id, Description = "first graph", License = "MIT" } } };
        var patchedVersion = await iris.Grpc.PatchWorkflowVersionsAsync(patchVersion, IrisFixture.PatMetadata);
        Ok(patchedVersion.Status);
        Assert.Equal(("first graph", "MIT"), (patchedVersion.WorkflowVersions[0].Description, patchedVersion.WorkflowVersions[0].License));

        var deleteAll = new DeleteWorkflowVersionsRequest { UserAppId = App(app), WorkflowId = "mine", WorkflowVersionIds = { v2, mine.Version.Id } };
        var refused = await iris.Grpc.DeleteWorkflowVersionsAsync(deleteAll, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.WorkflowInvalidArgument, refused.Status.Code);
        Assert.Contains("keeps at least one version", refused.Status.Details, StringComparison.Ordinal);
        Ok((await iris.Grpc.DeleteWorkflowVersionsAsync(new DeleteWorkflowVersionsRequest { UserAppId = App(app), WorkflowId = "mine", WorkflowVersionIds = { mine.Version.Id } }, IrisFixture.PatMetadata)).Status);
        var gone = await iris.Grpc.GetWorkflowVersionAsync(new GetWorkflowVersionRequest { UserAppId = App(app), WorkflowId = "mine", WorkflowVersionId = mine.Version.Id }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, gone.Status.Code);

        var rename = await iris.Grpc.PatchWorkflowIdsAsync(new PatchWorkflowIdsRequest { UserAppId = App(app), Action = "overwrite", Ids = { new IdUpdateSource { Id = "mine", NewId = "renamed" } } }, IrisFixture.PatMetadata);
        Ok(rename.Status);
        Assert.Equal(("renamed", v2), (rename.Workflows[0].Id, rename.Workflows[0].Version.Id));
        var taken = await iris.Grpc.PatchWorkflowIdsAsync(new PatchWorkflowIdsRequest { UserAppId = App(app), Ids = { new IdUpdateSource { Id = "renamed", NewId = "second" } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.WorkflowDuplicate, taken.Status.Code);

        Ok((await iris.Grpc.DeleteWorkflowAsync(new DeleteWorkflowRequest { UserAppId = App(app), WorkflowId = "renamed" }, IrisFixture.PatMetadata)).Status);
        var missing = await iris.Grpc.GetWorkflowAsync(new GetWorkflowRequest { UserAppId = App(app), WorkflowId = "renamed" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, missing.Status.Code);
        Assert.Equal("workflow_id 'renamed' not found in app 'admin/wf-crud'. Check the url of your request.", missing.Status.Details);
        var unknownDelete = await iris.Grpc.DeleteWorkflowsAsync(new DeleteWorkflowsRequest { UserAppId = App(app), Ids = { "second", "nope" } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, unknownDelete.Status.Code);
        Ok((await iris.Grpc.DeleteWorkflowsAsync(new DeleteWorkflowsRequest { UserAppId = App(app), DeleteAll = true }, IrisFixture.PatMetadata)).Status);
        var empty = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = App(app) }, IrisFixture.PatMetadata);
        Assert.Empty(empty.Workflows);
    }

    public static TheoryData<string, WorkflowNode[], StatusCode, string> BadGraphs => new()
    {
        { "no nodes", [], StatusCode.WorkflowInvalidArgument, "Workflow 'bad' has no nodes: give at least one node with a model." },
        { "node without id", [Node("", "general-image-recognition")], StatusCode.WorkflowInvalidArgument, "Node 1 of the workflow has no id: every node needs one, unique in the workflow." },
        { "node without model", [new WorkflowNode { Id = "lonely" }], StatusCode.WorkflowInvalidArgument, "Node 'lonely' names no model: set model.id (and optionally model.model_version.id)." },
        { "duplicate node ids", [Node("twin", "general-image-recognition"), Node("twin", "general-image-embedding")], StatusCode.WorkflowInvalidGraph,
            "Node id 'twin' is used by more than one node: node ids must be unique in a workflow." },
        { "unknown input node", [Node("a", "general-image-recognition", "ghost")], StatusCode.WorkflowInvalidGraph, "Node 'a' takes input from node 'ghost', which is not a node of this workflow." },
        { "self loop", [Node("a", "general-image-recognition", "a")], StatusCode.WorkflowInvalidGraph, "Node 'a' takes its own output as input: a workflow graph cannot have cycles." },
        { "cycle", [Node("a", "face-detection", "c"), Node("b", "face-detection", "a"), Node("c", "face-detection", "b")], StatusCode.WorkflowInvalidGraph,
            "Nodes 'b' → 'c' → 'a' → 'b' form a cycle: a workflow graph cannot have cycles." },
        { "unknown model", [Node("m", "no-such-model")], StatusCode.ModelDoesNotExist,
            "Node 'm': model 'no-such-model' does not exist in app 'admin/wf-bad' or among the public models of clarifai/main." },
        { "unknown version", [Node("m", "general-image-recognition", version: "00000000000000000000000000000000")], StatusCode.ModelDoesNotExist,
            "Node 'm': model 'general-image-recognition' has no version '00000000000000000000000000000000'." },
        { "masks into a classifier", [Node("seg", "person-segmentation"), Node("cls", "general-image-recognition", "seg")], StatusCode.WorkflowNoMatchingInput,
            "Node 'cls' runs model 'general-image-recognition' (visual-classifier), which takes images, but its input node 'seg' (visual-segmenter) gives masks." },
    };

    [Theory]
    [MemberData(nameof(BadGraphs))]
    public async Task Every_bad_graph_is_refused_with_a_status_naming_the_node(string why, WorkflowNode[] nodes, StatusCode code, string details)
    {
        _ = why;
        var app = "wf-bad";
        if ((await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = App(app) }, IrisFixture.PatMetadata)).Status.Code != StatusCode.Success)
        {
            await iris.CreateAppAsync(app, "Empty");
        }

        var response = await PostAsync(app, Workflow("bad", nodes));
        Assert.Equal((code, details), (response.Status.Code, response.Status.Details));
        var list = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = App(app) }, IrisFixture.PatMetadata);
        Assert.DoesNotContain(list.Workflows, w => w.Id == "bad");
    }

    [Fact]
    public async Task Duplicate_and_invalid_workflow_ids_are_refused_and_nothing_is_written()
    {
        var app = await iris.CreateAppAsync("wf-ids", "Empty");
        Ok((await PostAsync(app, Workflow("taken", Node("n", "general-image-recognition")))).Status);
        var again = await PostAsync(app, Workflow("fresh", Node("n", "general-image-recognition")), Workflow("taken", Node("n", "general-image-recognition")));
        Assert.Equal((StatusCode.WorkflowDuplicate, "Workflow 'taken' already exists in app 'admin/wf-ids'."), (again.Status.Code, again.Status.Details));
        var twice = await PostAsync(app, Workflow("dup", Node("n", "general-image-recognition")), Workflow("dup", Node("n", "general-image-recognition")));
        Assert.Equal(StatusCode.WorkflowDuplicate, twice.Status.Code);
        var invalid = await PostAsync(app, Workflow("not valid!", Node("n", "general-image-recognition")));
        Assert.Equal((StatusCode.WorkflowInvalidArgument, "Workflow id 'not valid!' may contain only letters, digits, '_' and '-'."), (invalid.Status.Code, invalid.Status.Details));
        var list = await iris.Grpc.ListWorkflowsAsync(new ListWorkflowsRequest { UserAppId = App(app) }, IrisFixture.PatMetadata);
        Assert.Equal(["taken"], list.Workflows.Select(w => w.Id));
    }

    [Fact]
    public async Task Cross_app_nodes_need_read_access_and_API_keys_reach_only_their_own_app()
    {
        var owner = await iris.CreateAppAsync("wf-owner", "Empty");
        var user = await iris.CreateAppAsync("wf-user", "Empty");
        var cross = Node("remote", "general-image-recognition");
        cross.Model.UserId = "admin";
        cross.Model.AppId = owner;
        // A PAT that can read the other app may use its models.
        Ok((await PostAsync(user, Workflow("cross", cross))).Status);

        var hidden = Node("hidden", "general-image-recognition");
        hidden.Model.UserId = "someone-else";
        hidden.Model.AppId = "private-app";
        var denied = await PostAsync(user, Workflow("hidden", hidden));
        Assert.Equal(StatusCode.ModelPermissionDenied, denied.Status.Code);
        Assert.StartsWith("Node 'hidden' uses model 'general-image-recognition' of app 'someone-else/private-app', which you cannot read", denied.Status.Details, StringComparison.Ordinal);

        // An app-specific API key of wf-user: its own app's workflows, never a node of another app.
        var key = await iris.CreateKeyAsync(user);
        var keyMeta = new Metadata { { "authorization", "Key " + key } };
        var byKey = await iris.Grpc.PostWorkflowsAsync(new PostWorkflowsRequest { Workflows = { Workflow("by-key", cross.Clone()) } }, keyMeta);
        Assert.Equal(StatusCode.ModelPermissionDenied, byKey.Status.Code);
        Assert.Equal("Node 'remote' uses model 'general-image-recognition' of app 'admin/wf-owner': an app-specific API key reaches only models of its own app. Use a personal access token.",
            byKey.Status.Details);
        var run = await iris.Grpc.PostWorkflowResultsAsync(new PostWorkflowResultsRequest { WorkflowId = "cross", Inputs = { new Input { Data = new Data { Image = new Image { Url = iris.PhotoBase + "/metro-north.jpg" } } } } }, keyMeta);
        Assert.Equal(StatusCode.ModelPermissionDenied, run.Status.Code);
        var own = await iris.Grpc.PostWorkflowsAsync(new PostWorkflowsRequest { Workflows = { Workflow("own", Node("n", "general-image-recognition")) } }, keyMeta);
        Ok(own.Status);
        Assert.Equal(user, own.Workflows[0].AppId);
    }

    [Fact]
    public async Task REST_public_workflows_of_clarifai_main_are_listed_and_read_only()
    {
        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/clarifai/apps/main/workflows?per_page=100"));
        Assert.Equal(HttpStatusCode.OK, status);
        var ids = body.GetProperty("workflows").EnumerateArray().Select(w => w.GetProperty("id").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "General", "Demographics", "Face", "OCR", "Empty", "Universal" }, ids);
        var (_, general, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/clarifai/apps/main/workflows/General"));
        var workflow = general.GetProperty("workflow");
        Assert.Equal(("main", "clarifai", 50), (workflow.GetProperty("app_id").GetString(), workflow.GetProperty("user_id").GetString(), workflow.GetProperty("visibility").GetProperty("gettable").GetInt32()));
        Assert.Equal(["general-image-recognition", "general-image-embedding"], workflow.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("model").GetProperty("id").GetString()));

        var (deleteStatus, deleted, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Delete, "/v2/users/clarifai/apps/main/workflows/General"));
        Assert.NotEqual(HttpStatusCode.OK, deleteStatus);
        Assert.Equal(11101, deleted.Code());
    }
}

public sealed class WorkflowCrudTestsOnSqlite(WorkflowsFixture iris) : WorkflowCrudTests<WorkflowsFixture>(iris);

public sealed class WorkflowCrudTestsOnPostgres(PostgresWorkflowsFixture iris) : WorkflowCrudTests<PostgresWorkflowsFixture>(iris);
