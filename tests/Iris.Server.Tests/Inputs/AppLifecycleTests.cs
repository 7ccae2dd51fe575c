using System.Security.Cryptography;
using Clarifai.Api;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>DeleteApp takes an app's inputs, annotations and blobs with it; PatchAppsIds moves them to the new id.</summary>
public abstract class AppLifecycleTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : InputsFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task Deleting_an_app_purges_its_inputs_and_blobs()
    {
        await iris.CreateAppAsync("purged");
        var bytes = FixtureImages.UniquePng(9101);
        var blob = Path.Combine(iris.DataDir, "blobs", Sha(bytes)[..2], Sha(bytes)[2..4], Sha(bytes));
        await PostAsync("purged", "p1", bytes);
        Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync("purged", "p1")).Status.Code);
        Assert.True(File.Exists(blob));

        var deleted = await iris.Grpc.DeleteAppAsync(new DeleteAppRequest { UserAppId = InputsFixture.App("purged") }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, deleted.Status.Code);

        // The id becomes free once the background purge has run; then nothing of the old app is left.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
            request.Apps.Add(new App { Id = "purged" });
            var again = await iris.Grpc.PostAppsAsync(request, IrisFixture.PatMetadata);
            if (again.Status.Code == StatusCode.Success)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"app not purged after 30 s: {again.Status.Code} {again.Status.Details}");
            await Task.Delay(100);
        }

        var listed = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = InputsFixture.App("purged") }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, listed.Status.Code);
        Assert.Empty(listed.Inputs);
        Assert.False(File.Exists(blob));
    }

    [Fact]
    public async Task Renaming_an_app_keeps_its_inputs()
    {
        await iris.CreateAppAsync("before-rename");
        await PostAsync("before-rename", "r1", FixtureImages.UniquePng(9102));
        Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync("before-rename", "r1")).Status.Code);

        var rename = new PatchAppsIdsRequest { UserAppId = new UserAppIDSet { UserId = "me" }, Action = "overwrite" };
        rename.Ids.Add(new IdUpdateSource { Id = "before-rename", NewId = "after-rename" });
        var renamed = await iris.Grpc.PatchAppsIdsAsync(rename, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, renamed.Status.Code);

        var moved = await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = InputsFixture.App("after-rename"), InputId = "r1" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, moved.Status.Code);
        Assert.Equal(StatusCode.InputSuccess, moved.Input.Status.Code);
    }

    private async Task PostAsync(string appId, string inputId, byte[] bytes)
    {
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        request.Inputs.Add(new Input { Id = inputId, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(bytes) } } });
        var response = await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

public sealed class AppLifecycleTestsOnSqlite(InputsFixture iris) : AppLifecycleTests<InputsFixture>(iris);

public sealed class AppLifecycleTestsOnPostgres(PostgresInputsFixture iris) : AppLifecycleTests<PostgresInputsFixture>(iris);
