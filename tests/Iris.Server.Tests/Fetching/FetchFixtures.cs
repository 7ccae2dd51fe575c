using System.Collections.Concurrent;
using System.Net;
using Iris.Core.Fetching;
using Iris.Inference;
using Iris.Server.Inputs;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Iris.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Tests.Fetching;

/// <summary>An Iris server on its defaults (no download setting touched): private addresses are refused.</summary>
public sealed class DefaultServerFixture : IrisFixture
{
    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddSingleton(new IngestionOptions { RetryBaseMs = 100 });
}

/// <summary>
/// An Iris server that may download from exactly one internal address, 127.0.0.1 (where <see cref="WebBase"/> listens), and
/// no other private address; beside it a loopback web server that redirects, serves a photo, cuts a body short, and
/// counts the requests it gets.
/// </summary>
public sealed class RedirectingServerFixture : IrisFixture, IAsyncLifetime
{
    public const int MaxRedirects = 3;

    private WebApplication? _web;

    /// <summary>Requests received per path and query, e.g. <c>/to?target=…</c>.</summary>
    public ConcurrentDictionary<string, int> Hits { get; } = new(StringComparer.Ordinal);

    public string WebBase { get; private set; } = string.Empty;

    public int WebPort { get; private set; }

    /// <summary>A URL of the web server answering 302 with <c>Location: <paramref name="target"/></c>.</summary>
    public string RedirectTo(string target) => WebBase + "/to?target=" + Uri.EscapeDataString(target);

    public int HitsOf(string url) => Hits.GetValueOrDefault(new Uri(url).PathAndQuery);

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddSingleton(new InferenceOptions { ModelsDir = TestModels.Dir });
        services.AddSingleton(new IngestionOptions { RetryBaseMs = 100 });
        services.AddSingleton(new UrlFetcherOptions
        {
            AllowPrivateUrls = false,
            AllowedNetworks = [IPNetwork.Parse("127.0.0.1/32")],
            ConnectTimeoutSeconds = 2,
            ReadTimeoutSeconds = 2,
            MaxRedirects = MaxRedirects,
        });
    }

    public new async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        _web = builder.Build();
        _web.Run(ServeAsync);
        await _web.StartAsync();
        WebBase = _web.Urls.First().TrimEnd('/');
        WebPort = new Uri(WebBase).Port;
        await base.InitializeAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_web is not null)
        {
            await _web.StopAsync();
            await _web.DisposeAsync();
        }
    }

    private async Task ServeAsync(HttpContext http)
    {
        var key = http.Request.Path.Value + http.Request.QueryString.Value;
        Hits.AddOrUpdate(key, 1, (_, n) => n + 1);
        switch (http.Request.Path.Value)
        {
            case "/to":
                http.Response.StatusCode = StatusCodes.Status302Found;
                http.Response.Headers.Location = http.Request.Query["target"].ToString();
                break;
            case "/loop":
                http.Response.StatusCode = StatusCodes.Status301MovedPermanently;
                http.Response.Headers.Location = "/loop";
                break;
            case "/photo.jpg":
                http.Response.ContentType = "image/jpeg";
                await http.Response.Body.WriteAsync(FixtureImages.Metro, http.RequestAborted);
                break;
            case "/short.jpg":
                // Announces the whole photo, sends its first 1000 bytes, then drops the connection.
                http.Response.ContentType = "image/jpeg";
                http.Response.ContentLength = FixtureImages.Metro.Length;
                await http.Response.Body.WriteAsync(FixtureImages.Metro.AsMemory(0, 1000), http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
                await Task.Delay(200, http.RequestAborted);
                http.Abort();
                break;
            default:
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                break;
        }
    }
}
