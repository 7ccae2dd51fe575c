using System.Diagnostics;
using System.Net;
using Clarifai.Api;
using Google.Protobuf;
using Iris.Core.Fetching;
using Iris.Server.Inputs;
using Iris.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SkiaSharp;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// One app's slow URLs cannot stall another app's ingestion: with four ingest slots, an app whose eight URLs trickle a
/// byte at a time holds at most three of them (the per-app limit), and a small image posted to a second app meanwhile is
/// processed within seconds — claims are fair between apps, and downloads wait outside the decoding pool.
/// </summary>
public abstract class IngestionFairnessTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : IngestionFairnessFixture
{
    private const int SlowUrls = 8;

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task A_second_apps_image_is_processed_within_seconds_while_the_first_apps_urls_trickle()
    {
        var slowApp = await iris.CreateAppAsync("slow" + Guid.NewGuid().ToString("N")[..6]);
        var fastApp = await iris.CreateAppAsync("fast" + Guid.NewGuid().ToString("N")[..6]);
        var slow = new PostInputsRequest { UserAppId = InputsFixture.App(slowApp) };
        slow.Inputs.Add(Enumerable.Range(0, SlowUrls).Select(i => new Input
        {
            Id = "slow" + i,
            Data = new Data { Image = new Image { Url = $"{iris.Trickle.BaseUrl}/{slowApp}/{i}.jpg" } },
        }));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(slow, IrisFixture.PatMetadata)).Status.Code);

        // The slow app takes every slot it may: three of the four, each stuck on a download that will not end in this test.
        await iris.Trickle.WaitForActiveAsync(slowApp, IngestionFairnessFixture.PerApp, TimeSpan.FromSeconds(30));

        var fast = new PostInputsRequest { UserAppId = InputsFixture.App(fastApp) };
        fast.Inputs.Add(new Input { Id = "small", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(SmallJpeg()) } } });
        var clock = Stopwatch.StartNew();
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(fast, IrisFixture.PatMetadata)).Status.Code);
        var done = await iris.WaitProcessedAsync(fastApp, "small");
        clock.Stop();

        Assert.Equal(StatusCode.InputSuccess, done.Status.Code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the second app's input took {clock.Elapsed.TotalSeconds:F1} s");
        // The slow app never held more than its share, and its downloads were still trickling when the small input was done.
        Assert.Equal(IngestionFairnessFixture.PerApp, iris.Trickle.MaxActive(slowApp));
        Assert.Equal(IngestionFairnessFixture.PerApp, iris.Trickle.Active(slowApp));
        var slowInputs = await Task.WhenAll(Enumerable.Range(0, SlowUrls).Select(i =>
            iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = InputsFixture.App(slowApp), InputId = "slow" + i }, IrisFixture.PatMetadata).ResponseAsync));
        Assert.All(slowInputs, r => Assert.Contains(r.Input.Status.Code, new[] { StatusCode.InputPending, StatusCode.InputInProgress }));
    }

    private static byte[] SmallJpeg()
    {
        using var bitmap = new SKBitmap(48, 32);
        bitmap.Erase(new SKColor(200, 40, 90));
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }
}

public sealed class IngestionFairnessTestsOnSqlite(IngestionFairnessFixture iris) : IngestionFairnessTests<IngestionFairnessFixture>(iris);

public sealed class IngestionFairnessTestsOnPostgres(PostgresIngestionFairnessFixture iris) : IngestionFairnessTests<PostgresIngestionFairnessFixture>(iris);

/// <summary>
/// A server with four ingest slots (three per app), one decoding worker and a read timeout longer than any test, that may
/// fetch from 127.0.0.1 only (the <see cref="TrickleServer"/>).
/// </summary>
public class IngestionFairnessFixture : InputsFixture, IAsyncLifetime
{
    public const int Downloads = 4;
    public const int PerApp = 3;

    public TrickleServer Trickle { get; private set; } = null!;

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddSingleton(new IngestionOptions { Workers = 1, Downloads = Downloads, DownloadsPerApp = PerApp, RetryBaseMs = 100 });
        services.AddSingleton(new UrlFetcherOptions
        {
            AllowedNetworks = [IPNetwork.Parse("127.0.0.1/32")],
            ConnectTimeoutSeconds = 2,
            ReadTimeoutSeconds = 600,
            PerHostConcurrency = 16,
        });
    }

    public new async Task InitializeAsync()
    {
        Trickle = await TrickleServer.StartAsync();
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Trickle.DisposeAsync();
    }
}

/// <summary>The same on PostgreSQL.</summary>
public sealed class PostgresIngestionFairnessFixture : IngestionFairnessFixture
{
    protected override bool OnPostgres => true;
}

/// <summary>
/// A loopback web server whose every answer is a JPEG of 1 MiB sent one byte every 200 ms (a download that takes
/// days), counting the requests in flight per first path segment.
/// </summary>
public sealed class TrickleServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, (int Active, int Max)> _counts = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private TrickleServer(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public int Active(string key)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key).Active;
        }
    }

    public int MaxActive(string key)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key).Max;
        }
    }

    /// <summary>Waits (polling every 20 ms, up to <paramref name="bound"/>) until <paramref name="count"/> requests of <paramref name="key"/> are in flight.</summary>
    public async Task WaitForActiveAsync(string key, int count, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (Active(key) < count)
        {
            Assert.True(clock.Elapsed < bound, $"{Active(key)} of {count} downloads of {key} in flight after {bound.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    public static async Task<TrickleServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MinResponseDataRate = null;
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new TrickleServer(app);
        app.Run(server.TrickleAsync);
        await app.StartAsync();
        server.BaseUrl = app.Urls.First().TrimEnd('/');
        return server;
    }

    private async Task TrickleAsync(HttpContext http)
    {
        var key = (http.Request.Path.Value ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        lock (_lock)
        {
            var (active, max) = _counts.GetValueOrDefault(key);
            _counts[key] = (active + 1, Math.Max(max, active + 1));
        }

        try
        {
            http.Response.ContentType = "image/jpeg";
            http.Response.ContentLength = 1024 * 1024;
            await http.Response.Body.WriteAsync(new byte[] { 0xFF, 0xD8 }, http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
            var one = new byte[1];
            for (var i = 2; i < 1024 * 1024; i++)
            {
                await Task.Delay(200, http.RequestAborted);
                await http.Response.Body.WriteAsync(one, http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_lock)
            {
                var (active, max) = _counts[key];
                _counts[key] = (active - 1, max);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
