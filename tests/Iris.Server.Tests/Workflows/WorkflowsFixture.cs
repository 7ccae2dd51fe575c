using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Server.Tests.Models;

namespace Iris.Server.Tests.Workflows;

/// <summary>
/// An Iris server with the built-in models (converted once into the shared models cache, <c>TestModels.Dir</c>) and the
/// photo server of <see cref="ModelsFixture"/>, for workflow CRUD, runs and base workflows.
/// </summary>
public class WorkflowsFixture : ModelsFixture
{
    public static UserAppIDSet App(string appId) => new() { UserId = "me", AppId = appId };

    public static readonly UserAppIDSet Main = new() { UserId = "clarifai", AppId = "main" };

    /// <summary>Creates an app with the given base workflow (null: none named, so the server's default).</summary>
    public async Task<string> CreateAppAsync(string appId, string? baseWorkflow)
    {
        var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        var app = new App { Id = appId };
        if (baseWorkflow is not null)
        {
            app.DefaultWorkflow = new Workflow { Id = baseWorkflow, AppId = "main", UserId = "clarifai" };
        }

        request.Apps.Add(app);
        var response = await Grpc.PostAppsAsync(request, PatMetadata);
        Ok(response.Status);
        return appId;
    }

    /// <summary>Polls GetInput until the input leaves 30001/30003 (bound: 60 s).</summary>
    public async Task<Input> WaitProcessedAsync(string appId, string inputId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await Grpc.GetInputAsync(new GetInputRequest { UserAppId = App(appId), InputId = inputId }, PatMetadata);
            Ok(response.Status);
            if (response.Input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress))
            {
                return response.Input;
            }

            Assert.True(DateTime.UtcNow < deadline, $"input {inputId} still {response.Input.Status.Code} after 60 s");
            await Task.Delay(50);
        }
    }

    public async Task<string> CreateKeyAsync(string appId)
    {
        var request = new PostKeysRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        request.Keys.Add(new Key { Description = "workflow tests", Scopes = { "All" }, Apps = { new App { Id = appId, UserId = "admin" } } });
        var response = await Grpc.PostKeysAsync(request, PatMetadata);
        Ok(response.Status);
        return response.Keys.Single().Id;
    }

    public static void Ok(Status status)
    {
        if (status.Code != StatusCode.Success)
        {
            throw new InvalidOperationException($"{status.Code} {status.Description}: {status.Details}");
        }
    }
}

/// <summary>The same server on PostgreSQL: the test classes that take this fixture run unchanged against it.</summary>
public sealed class PostgresWorkflowsFixture : WorkflowsFixture
{
    protected override bool OnPostgres => true;
}
