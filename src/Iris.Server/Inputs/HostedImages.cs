using Iris.Storage.Blobs;
using System.Text.RegularExpressions;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Clarifai.Api.Status;
using Iris.Contracts.Descriptors;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Auth;
using Iris.Server.Rest;
using Iris.Server.Seams;
using Iris.Storage.Inputs;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using BaseResponse = Clarifai.Api.Status.BaseResponse;

namespace Iris.Server.Inputs;

/// <summary>
/// URLs of stored input images: <c>{base}/hosted/users/{user}/apps/{app}/inputs/image/{size}/{blob}</c>, i.e.
/// <c>prefix/size/suffix</c> as <c>HostedURL</c> describes. <c>orig</c> is the uploaded file, <c>small</c> a JPEG
/// thumbnail.
/// </summary>
internal sealed class HostedUrls(IngestionOptions options, IServer server, Hosting.IrisServerOptions serverOptions)
{
    public const string PathPrefix = "/hosted";
    public static readonly string[] Sizes = ["orig", "small"];

    private string? _base;

    public HostedURL For(AppRef app, string blobKey)
    {
        var url = new HostedURL
        {
            Prefix = $"{Base()}{PathPrefix}/users/{Uri.EscapeDataString(app.UserId)}/apps/{Uri.EscapeDataString(app.AppId)}/inputs/image",
            Suffix = blobKey,
            // The bytes need the caller's credentials (Authorization header), as Clarifai's secure data hosting does.
            Crossorigin = "use-credentials",
        };
        url.Sizes.Add(Sizes);
        return url;
    }

    private string Base()
    {
        if (_base is not null)
        {
            return _base;
        }

        if (options.PublicUrl is { } configured)
        {
            return _base = configured;
        }

        // Kestrel lists the gRPC endpoint first and the REST endpoint second (IrisServer adds them in that order).
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        var rest = addresses.Length > 1 ? new Uri(addresses[1]) : null;
        var host = serverOptions.Host is "0.0.0.0" or "::" ? "localhost" : serverOptions.Host;
        var scheme = serverOptions.TlsEnabled ? "https" : "http";
        return _base = rest is null ? $"{scheme}://{host}:{serverOptions.HttpPort}" : $"{scheme}://{host}:{rest.Port}";
    }
}

/// <summary>
/// Serves hosted input bytes on the REST port to callers who may read the app (same <c>Authorization: Key</c> header as
/// the API). Unknown apps, inputs and sizes, and missing or insufficient credentials, answer 404 with a Clarifai status body.
/// </summary>
internal sealed partial class HostedImageHandler(Authenticator authenticator, IAppAccess access, IInputStore store, IBlobStore blobs) : IRawRestHandler
{
    [GeneratedRegex("^/hosted/users/([^/]+)/apps/([^/]+)/inputs/image/([a-z]+)/([0-9a-f]{64})$", RegexOptions.CultureInvariant)]
    private static partial Regex HostedPath();

    public string PathPrefix => HostedUrls.PathPrefix;

    public async Task HandleAsync(HttpContext http)
    {
        var requestId = RequestIds.New(null);
        http.Response.Headers[RestGateway.RequestIdHeader] = requestId;
        try
        {
            if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method))
            {
                throw new IrisException(StatusCode.ConnMethodNotAllowed, $"{http.Request.Method} is not allowed on hosted images.");
            }

            var match = HostedPath().Match(http.Request.Path.Value ?? string.Empty);
            if (!match.Success || !HostedUrls.Sizes.Contains(match.Groups[3].Value, StringComparer.Ordinal))
            {
                throw new IrisException(StatusCode.ConnDoesNotExist, "No hosted image at this address.");
            }

            var rpc = ApiCatalog.Instance.Find(nameof(V2.V2Base.GetInput))!;
            var ids = new UserAppIDSet { UserId = Uri.UnescapeDataString(match.Groups[1].Value), AppId = Uri.UnescapeDataString(match.Groups[2].Value) };
            AppRef app;
            try
            {
                var principal = await authenticator.AuthenticateAsync(rpc, http.Request.Headers.Authorization, http.RequestAborted).ConfigureAwait(false);
                var context = new CallContext(rpc, requestId, Transport.Rest, principal, http.RequestAborted);
                app = await access.ResolveAsync(context, ids, AppAccessKind.Read, http.RequestAborted).ConfigureAwait(false);
            }
            catch (IrisException error) when (error.Code != StatusCode.TryAgain)
            {
                // Like Clarifai's secure data hosting, a missing or wrong key answers 404: the address reveals nothing.
                // The database being unreachable is not the caller's fault: that stays 10030 (HTTP 503), to be retried.
                throw new IrisException(StatusCode.ConnDoesNotExist, "No hosted image at this address.");
            }

            var key = match.Groups[4].Value;
            var row = await store.FindByBlobAsync(app, key, http.RequestAborted).ConfigureAwait(false);
            if (row is null || row.BlobKey != key)
            {
                throw new IrisException(StatusCode.ConnDoesNotExist, "No hosted image at this address.");
            }

            var small = match.Groups[3].Value == "small";
            var bytes = await blobs.GetAsync(small ? row.ThumbKey! : row.BlobKey, http.RequestAborted).ConfigureAwait(false)
                ?? throw new IrisException(StatusCode.ConnDoesNotExist, "No hosted image at this address.");
            http.Response.StatusCode = 200;
            http.Response.ContentType = small ? "image/jpeg" : ContentType(row.Format);
            http.Response.ContentLength = bytes.Length;
            http.Response.Headers.CacheControl = "private, max-age=31536000, immutable";
            if (HttpMethods.IsGet(http.Request.Method))
            {
                await http.Response.Body.WriteAsync(bytes, http.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (IrisException error)
        {
            var response = new BaseResponse { Status = StatusWriter.From(error) };
            response.Status.ReqId = requestId;
            var body = ProtoJsonWriter.Instance.ToUtf8(response);
            http.Response.StatusCode = StatusCatalog.HttpStatus(error.Code);
            http.Response.ContentType = "application/json";
            http.Response.ContentLength = body.Length;
            await http.Response.Body.WriteAsync(body, http.RequestAborted).ConfigureAwait(false);
        }
    }

    private static string ContentType(string? format) => format switch
    {
        "JPEG" => "image/jpeg",
        "PNG" => "image/png",
        "WEBP" => "image/webp",
        "GIF" => "image/gif",
        "BMP" => "image/bmp",
        "ICO" => "image/x-icon",
        _ => "application/octet-stream",
    };
}
