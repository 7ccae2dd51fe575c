using System.Net;
using Iris.Core.Configuration;
using Iris.Server.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Iris.Server.Hosting;

/// <summary>
/// The web portal (portal/, built into portal/dist) on the REST port. <c>GET /</c> answers the portal's page when the
/// request's Accept header prefers <c>text/html</c> (a browser); every other request to <c>/</c> keeps the API's answer.
/// The page's assets live under <c>/portal/</c>, which no <c>/v2</c> route can reach. The directory is
/// <c>IRIS_PORTAL_DIR</c> (the <c>iris</c> script passes the repository's <c>portal/dist</c>); without a built portal
/// the page says how to build it. The portal itself is a client of the public REST API like any other.
/// </summary>
public static partial class PortalEndpoints
{
    public const string AssetPrefix = "/portal";

    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    /// <summary>Adds the portal in front of the REST gateway and logs the address to open once the server listens.</summary>
    public static void UseIrisPortal(this WebApplication app)
    {
        var directory = EnvSettings.String("IRIS_PORTAL_DIR");
        var root = directory is not null && File.Exists(Path.Combine(directory, "index.html")) ? Path.GetFullPath(directory) : null;
        var files = root is null ? null : new PhysicalFileProvider(root);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(PortalEndpoints).FullName!);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
            if (addresses.Length > 1)
            {
                // Kestrel lists the gRPC endpoint first and the REST endpoint second (IrisServer adds them in that order).
                var rest = new Uri(addresses[1]);
                var host = rest.Host is "0.0.0.0" or "[::]" ? "127.0.0.1" : rest.Host;
                LogPortal(logger, $"{rest.Scheme}://{host}:{rest.Port}/", root ?? "(not built: set IRIS_PORTAL_DIR to a built portal/dist)");
            }
        });
        app.UseWhen(http => RestGateway.IsRestConnection(http) && IsPortalRequest(http.Request), portal => portal.Run(http => ServeAsync(http, files, directory)));
    }

    /// <summary>GET or HEAD of <c>/</c> from a browser, or of anything under <see cref="AssetPrefix"/>.</summary>
    internal static bool IsPortalRequest(HttpRequest request)
    {
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            return false;
        }

        var path = request.Path.Value ?? "/";
        return path.Length == 0 || path == "/" ? PrefersHtml(request.Headers.Accept) : request.Path.StartsWithSegments(AssetPrefix, StringComparison.Ordinal);
    }

    /// <summary>
    /// True when the Accept header names <c>text/html</c> (or <c>application/xhtml+xml</c>) with a quality at least that
    /// of <c>application/json</c>. A bare <c>*/*</c> (curl, SDKs) or no header keeps the API's JSON answer.
    /// </summary>
    internal static bool PrefersHtml(Microsoft.Extensions.Primitives.StringValues accept)
    {
        if (!MediaTypeHeaderValue.TryParseList(accept, out var types))
        {
            return false;
        }

        double html = 0, json = 0;
        foreach (var type in types)
        {
            var quality = type.Quality ?? 1.0;
            if (type.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase) || type.MediaType.Equals("application/xhtml+xml", StringComparison.OrdinalIgnoreCase))
            {
                html = Math.Max(html, quality);
            }
            else if (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        return html > 0 && html >= json;
    }

    private static async Task ServeAsync(HttpContext http, PhysicalFileProvider? files, string? configured)
    {
        var response = http.Response;
        response.Headers.XContentTypeOptions = "nosniff";
        if (files is null)
        {
            await WriteNotBuiltAsync(http, configured).ConfigureAwait(false);
            return;
        }

        var rest = http.Request.Path.StartsWithSegments(AssetPrefix, StringComparison.Ordinal, out var remaining) ? remaining.Value ?? string.Empty : string.Empty;
        var isPage = rest.Length == 0 || rest == "/";
        var file = files.GetFileInfo(isPage ? "index.html" : rest.TrimStart('/'));
        if (!file.Exists || file.IsDirectory || file.PhysicalPath is null)
        {
            response.StatusCode = (int)HttpStatusCode.NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync($"Not found: {http.Request.Path}\n", http.RequestAborted).ConfigureAwait(false);
            return;
        }

        response.StatusCode = (int)HttpStatusCode.OK;
        response.ContentType = ContentTypes.TryGetContentType(file.Name, out var type) ? type : "application/octet-stream";
        // Vite names built assets by content hash; the page itself must be revalidated so a rebuild shows at once.
        response.Headers.CacheControl = isPage || !rest.StartsWith("/assets/", StringComparison.Ordinal) ? "no-cache" : "public, max-age=31536000, immutable";
        if (isPage)
        {
            // The portal runs only its own bundled code and talks only to this origin. Images are blob: URLs it makes from
            // the API's hosted bytes, masks as data: URLs, and the preview of an image URL the user typed to predict on.
            response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data: http: https:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";
        }

        response.ContentLength = file.Length;
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return;
        }

        await response.SendFileAsync(file, http.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteNotBuiltAsync(HttpContext http, string? configured)
    {
        var reason = configured is null
            ? "IRIS_PORTAL_DIR is not set. The <code>./iris</code> script sets it to the repository's <code>portal/dist</code> and builds the portal when its sources change."
            : $"IRIS_PORTAL_DIR is <code>{WebUtility.HtmlEncode(configured)}</code>, which has no <code>index.html</code>.";
        var page = $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Iris portal not built</title></head>
            <body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
            <h1>The Iris portal has not been built</h1>
            <p>{reason}</p>
            <p>Build it with <code>cd portal &amp;&amp; npm ci &amp;&amp; npm run build</code> (or start Iris with <code>./iris serve</code>), then reload this page.</p>
            <p>The API itself is running: REST under <code>/v2/</code> on this port.</p>
            </body></html>
            """;
        http.Response.StatusCode = (int)HttpStatusCode.ServiceUnavailable;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-cache";
        await http.Response.WriteAsync(page, http.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Portal: open {Url} in a browser (files: {Directory})")]
    private static partial void LogPortal(ILogger logger, string url, string directory);
}
