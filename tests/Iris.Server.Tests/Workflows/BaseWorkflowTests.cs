using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Models;
using Iris.Storage.Vectors;
using Microsoft.Extensions.DependencyInjection;
using static Iris.Server.Tests.Workflows.WorkflowsFixture;

namespace Iris.Server.Tests.Workflows;

/// <summary>
/// The app's base workflow: PostApps' <c>default_workflow</c> (Universal when none is named), what ingestion stores
/// under Empty and General, and PatchApps changing it with <c>reindex</c> (jobs with the 30500-range states).
/// </summary>
public abstract class BaseWorkflowTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : WorkflowsFixture
{
    private static readonly ByteString Metro = ByteString.CopyFrom(File.ReadAllBytes(ModelsFixture.MetroNorth));

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private IInputIndexStore Index => iris.Server.Services.GetRequiredService<IInputIndexStore>();

    private async Task AddAsync(string app, string inputId)
    {
        var post = new PostInputsRequest { UserAppId = App(app), Inputs = { new Input { Id = inputId, Data = new Data { Image = new Image { Base64 = Metro } } } } };
        Ok((await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status);
        Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(app, inputId)).Status.Code);
    }

    [Fact]
    public async Task PostApps_records_the_named_base_workflow_and_Universal_by_default()
    {
        await iris.CreateAppAsync("bw-default", null);
        await iris.CreateAppAsync("bw-empty", "Empty");
        var byDefault = await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = App("bw-default") }, IrisFixture.PatMetadata);
        Assert.Equal(("Universal", "main", "clarifai"), (byDefault.App.DefaultWorkflow.Id, byDefault.App.DefaultWorkflow.AppId, byDefault.App.DefaultWorkflow.UserId));
        var empty = await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = App("bw-empty") }, IrisFixture.PatMetadata);
        Assert.Equal("Empty", empty.App.DefaultWorkflow.Id);

        async Task<Clarifai.Api.Status.Status> Create(string id, Workflow workflow)
        {
            var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" }, Apps = { new App { Id = id, DefaultWorkflow = workflow } } };
            return (await iris.Grpc.PostAppsAsync(request, IrisFixture.PatMetadata)).Status;
        }

        var notBase = await Create("bw-demo", new Workflow { Id = "Demographics", AppId = "main", UserId = "clarifai" });
        Assert.Equal((StatusCode.WorkflowInvalidArgument, "Workflow 'Demographics' of clarifai/main cannot be a base workflow in Iris; base workflows are Empty, General, Universal."),
            (notBase.Code, notBase.Details));
        var unknown = await Create("bw-nope", new Workflow { Id = "Nope", AppId = "main", UserId = "clarifai" });
        Assert.Equal(StatusCode.WorkflowDoesNotExist, unknown.Code);
        var elsewhere = await Create("bw-else", new Workflow { Id = "General", AppId = "bw-empty", UserId = "admin" });
        Assert.Equal(StatusCode.WorkflowInvalidArgument, elsewhere.Code);
        // A refused app is not created.
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetAppAsync(new GetAppRequest { UserAppId = App("bw-demo") }, IrisFixture.PatMetadata)).Status.Code);
    }

    [Fact]
    public async Task Empty_stores_no_embedding_and_General_stores_the_general_embedding_and_concepts()
    {
        await iris.CreateAppAsync("bw-ing-empty", "Empty");
        await iris.CreateAppAsync("bw-ing-general", "General");
        await AddAsync("bw-ing-empty", "metro");
        await AddAsync("bw-ing-general", "metro");

        Assert.Null(await Index.FindEmbeddingAsync(new("admin", "bw-ing-empty"), "metro", default));
        Assert.Empty(await Index.FindConceptsAsync(new("admin", "bw-ing-empty"), "metro", default));
        var embedding = await Index.FindEmbeddingAsync(new("admin", "bw-ing-general"), "metro", default);
        Assert.NotNull(embedding);
        Assert.Equal(1280, embedding.Vector.Length);
        Assert.Contains(await Index.FindConceptsAsync(new("admin", "bw-ing-general"), "metro", default), c => c.ConceptId == "ai_HLmqFqBf" && c.Value >= 0.2f);
    }

    [Fact]
    public async Task PatchApps_with_reindex_runs_the_new_base_workflow_over_existing_inputs()
    {
        const string app = "bw-reindex";
        await iris.CreateAppAsync(app, "Empty");
        await AddAsync(app, "a");
        await AddAsync(app, "b");
        Assert.Null(await Index.FindEmbeddingAsync(new("admin", app), "a", default));

        var patch = new PatchAppsRequest
        {
            UserAppId = new UserAppIDSet { UserId = "me" },
            Action = "overwrite",
            Reindex = true,
            Apps = { new App { Id = app, DefaultWorkflow = new Workflow { Id = "General", AppId = "main", UserId = "clarifai" } } },
        };
        var patched = await iris.Grpc.PatchAppsAsync(patch, IrisFixture.PatMetadata);
        Ok(patched.Status);
        Assert.Equal("General", patched.Apps[0].DefaultWorkflow.Id);

        var counts = await WaitReindexedAsync(app, 2);
        Assert.Equal((2u, 0u, 0u, 0u, 2u), (counts.Reindexed, counts.ToReindex, counts.Reindexing, counts.ReindexErrors, counts.Processed));
        foreach (var id in new[] { "a", "b" })
        {
            Assert.Equal(1280, (await Index.FindEmbeddingAsync(new("admin", app), id, default))!.Vector.Length);
        }

        // Back to Empty with reindex: the embeddings go.
        patch.Apps[0].DefaultWorkflow.Id = "Empty";
        Ok((await iris.Grpc.PatchAppsAsync(patch, IrisFixture.PatMetadata)).Status);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await Index.FindEmbeddingAsync(new("admin", app), "b", default) is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the embeddings of the Empty app were not removed in 60 s");
            await Task.Delay(100);
        }

        Assert.Equal(2u, (await WaitReindexedAsync(app, 2)).Reindexed);

        // A deleted input leaves the reindex counts.
        Ok((await iris.Grpc.DeleteInputAsync(new DeleteInputRequest { UserAppId = App(app), InputId = "a" }, IrisFixture.PatMetadata)).Status);
        Assert.Equal(1u, (await WaitReindexedAsync(app, 1)).Reindexed);
    }

    private async Task<InputCount> WaitReindexedAsync(string app, uint count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await iris.Grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = App(app) }, IrisFixture.PatMetadata);
            Ok(response.Status);
            var c = response.Counts;
            if (c.Reindexed + c.ReindexErrors == count && c.ToReindex == 0 && c.Reindexing == 0)
            {
                return c;
            }

            Assert.True(DateTime.UtcNow < deadline, $"reindex not done in 60 s: {c}");
            await Task.Delay(100);
        }
    }
}

public sealed class BaseWorkflowTestsOnSqlite(WorkflowsFixture iris) : BaseWorkflowTests<WorkflowsFixture>(iris);

public sealed class BaseWorkflowTestsOnPostgres(PostgresWorkflowsFixture iris) : BaseWorkflowTests<PostgresWorkflowsFixture>(iris);
