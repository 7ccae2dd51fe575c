using Clarifai.Api;
using Iris.Core.Fetching;
using Iris.Server.Inputs;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// An Iris server whose ingestion may fetch from loopback (the fixture web server), with short timeouts. Re-implements
/// <see cref="IAsyncLifetime"/> so xunit starts the web server too.
/// </summary>
public class InputsFixture : IrisFixture, IAsyncLifetime
{
    public FixtureWebServer Web { get; private set; } = null!;

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddSingleton(new IngestionOptions { RetryBaseMs = 100 });
        services.AddSingleton(new UrlFetcherOptions { AllowPrivateUrls = true, ConnectTimeoutSeconds = 2, ReadTimeoutSeconds = 2 });
    }

    public new async Task InitializeAsync()
    {
        Web = await FixtureWebServer.StartAsync();
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Web.DisposeAsync();
    }

    public static UserAppIDSet App(string appId) => new() { UserId = "me", AppId = appId };

    /// <summary>Polls GetInput until the input leaves 30001/30003 (bound: 30 s).</summary>
    public async Task<Input> WaitProcessedAsync(string appId, string inputId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var response = await Grpc.GetInputAsync(new GetInputRequest { UserAppId = App(appId), InputId = inputId }, PatMetadata);
            Assert.Equal(StatusCode.Success, response.Status.Code);
            if (response.Input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress))
            {
                return response.Input;
            }

            Assert.True(DateTime.UtcNow < deadline, $"input {inputId} still {response.Input.Status.Code} after 30 s");
            await Task.Delay(50);
        }
    }
}

/// <summary>The same server on PostgreSQL: the test classes that take this fixture run unchanged against it.</summary>
public sealed class PostgresInputsFixture : InputsFixture
{
    protected override bool OnPostgres => true;
}
