using System.Buffers;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Iris.Server.Validation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using BaseResponse = Clarifai.Api.Status.BaseResponse;

namespace Iris.Server.Rest;

/// <summary>
/// REST transport: routes a request by the <c>google.api.http</c> bindings, builds the request message, runs the shared
/// invoker and writes the JSON response with the HTTP status mapped from the Clarifai code. Every response, error or
/// not, is a JSON body with <c>status</c> and carries the request id in <c>X-Clarifai-Request-ID</c>.
/// </summary>
internal sealed partial class RestGateway(ApiInvoker invoker, RouteTable routes, IrisReadiness readiness, ILogger<RestGateway> logger)
{
    public const string RequestIdHeader = "X-Clarifai-Request-ID";

    /// <summary>Bodies up to this size are read (bytes); matches the gRPC message limit.</summary>
    public long MaxBodyBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>
    /// Serves one request. The invoker maps every handler failure to a status; anything failing around it (reading,
    /// routing, writing) still answers the envelope with 98004 while the response has not started.
    /// </summary>
    public async Task HandleAsync(HttpContext http)
    {
        try
        {
            await HandleCoreAsync(http).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception unexpected) when (!http.Response.HasStarted)
        {
            var requestId = http.Response.Headers[RequestIdHeader].ToString() is { Length: > 0 } id ? id : RequestIds.New(null);
            LogUnexpected(logger, unexpected, http.Request.Path.Value ?? string.Empty, requestId);
            var error = new IrisException(StatusCode.InternalServerIssue, $"An internal error occurred. Quote request id {requestId} when reporting it.");
            var response = new BaseResponse { Status = StatusWriter.From(error) };
            response.Status.ReqId = requestId;
            http.Response.Clear();
            http.Response.Headers[RequestIdHeader] = requestId;
            await WriteAsync(http, response, error.Code).ConfigureAwait(false);
        }
    }

    private async Task HandleCoreAsync(HttpContext http)
    {
        var request = http.Request;
        if (string.Equals(request.Path.Value, "/healthz", StringComparison.Ordinal))
        {
            http.Response.StatusCode = readiness.IsReady ? 200 : 503;
            http.Response.ContentType = "text/plain";
            await http.Response.WriteAsync(readiness.IsReady ? "ok\n" : "starting\n", http.RequestAborted).ConfigureAwait(false);
            return;
        }

        foreach (var raw in http.RequestServices.GetServices<IRawRestHandler>())
        {
            if (request.Path.StartsWithSegments(raw.PathPrefix, StringComparison.Ordinal))
            {
                await raw.HandleAsync(http).ConfigureAwait(false);
                return;
            }
        }

        var meta = new RequestMeta(request.Headers.Authorization, request.Headers["X-Clarifai-Request-ID-Prefix"], Transport.Rest);
        var requestId = RequestIds.New(meta.RequestIdPrefix);
        http.Response.Headers[RequestIdHeader] = requestId;

        if (CheckTransportLimits(http) is { } refusal)
        {
            var response = new BaseResponse { Status = StatusWriter.From(refusal.Error) };
            response.Status.ReqId = requestId;
            await WriteAsync(http, response, refusal.Error.Code, refusal.HttpStatus).ConfigureAwait(false);
            return;
        }

        var match = routes.Match(request.Method, request.Path.Value ?? "/");
        if (match.Kind != RouteMatchKind.Found)
        {
            var error = match.Kind == RouteMatchKind.WrongMethod
                ? new IrisException(StatusCode.ConnMethodNotAllowed, $"{request.Method} is not allowed on {request.Path}.")
                : new IrisException(StatusCode.ConnDoesNotExist, $"No API route matches {request.Method} {request.Path}. Check the url of your request.");
            var response = new BaseResponse { Status = StatusWriter.From(error) };
            response.Status.ReqId = requestId;
            await WriteAsync(http, response, error.Code).ConfigureAwait(false);
            return;
        }

        var rpc = match.Rpc!;

        // Credentials first, from the headers: a caller that cannot be admitted is answered before a byte of its body
        // is read, so an unauthenticated 120 MB upload costs nothing but the connection.
        var admission = await invoker.AdmitAsync(rpc, meta, requestId, http.RequestAborted).ConfigureAwait(false);
        InvokeResult result;
        if (!admission.Admitted)
        {
            result = new InvokeResult(admission.Refusal!, true, admission.RetryAfter);
        }
        else
        {
            IMessage message;
            try
            {
                // NoAuth RPCs (status codes, licences) take tiny requests; anyone may call them, so their bodies stay small.
                var limit = admission.Principal is null ? Math.Min(RequestLimits.MaxUnauthenticatedBodyBytes, MaxBodyBytes) : MaxBodyBytes;
                message = await ReadRequestAsync(http, rpc, match, limit).ConfigureAwait(false);
            }
            catch (IrisException error)
            {
                await WriteAsync(http, ApiInvoker.Refusal(rpc, error, requestId), error.Code).ConfigureAwait(false);
                return;
            }

            result = await invoker.InvokeAsync(rpc, message, admission, Transport.Rest, requestId, http.RequestAborted).ConfigureAwait(false);
        }

        var code = !result.Failed && invoker.Registry.StatusIsPayload(rpc.Name) ? StatusCode.Success : StatusWriter.Get(result.Response)!.Code;
        if (result.RetryAfter is { } retryAfter)
        {
            // Whole seconds, rounded up (RFC 9110 delay-seconds).
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        await WriteAsync(http, result.Response, code).ConfigureAwait(false);
    }

    private static async Task<IMessage> ReadRequestAsync(HttpContext http, RpcInfo rpc, RouteMatch match, long limit)
    {
        var request = http.Request;
        IMessage message;
        if (HttpMethods.IsGet(request.Method))
        {
            message = rpc.NewRequest();
            foreach (var (key, values) in request.Query)
            {
                ProtoRequestReader.SetField(message, key, values, ignoreUnknown: true);
            }
        }
        else
        {
            var body = await ReadBodyAsync(http, limit).ConfigureAwait(false);
            message = ProtoRequestReader.Instance.ParseBody(rpc.RequestType, body.Span);
        }

        foreach (var (field, value) in match.PathVariables)
        {
            ProtoRequestReader.SetField(message, field, [value], ignoreUnknown: false);
        }

        return message;
    }

    /// <summary>
    /// Reads the whole body, refusing one over <paramref name="limit"/> bytes with 40033 whether its size is announced
    /// (Content-Length, refused before reading) or not (chunked, refused when the limit is crossed).
    /// </summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext http, long limit)
    {
        var request = http.Request;
        if (request.ContentLength is > 0 and var length && length > limit)
        {
            throw TooLarge($"The request body of {length} bytes is over the limit of {limit} bytes.");
        }

        // Kestrel enforces the same limit on the connection, so a chunked body is cut off at the limit too.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and < int.MaxValue ? (int)request.ContentLength.Value : 4096);
        try
        {
            while (true)
            {
                var span = buffer.GetMemory(16 * 1024);
                var read = await request.Body.ReadAsync(span, http.RequestAborted).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    throw TooLarge($"The request body is over the limit of {limit} bytes.");
                }
            }
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge($"The request body is over the limit of {limit} bytes.");
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            throw new IrisException(StatusCode.RpcRequestTimeout, "The request body arrived too slowly.");
        }
        catch (BadHttpRequestException)
        {
            throw IrisException.BadFormat("The request body could not be read: its framing is invalid or it ended early.");
        }

        return buffer.WrittenMemory;
    }

    private static IrisException TooLarge(string details) => new(StatusCode.RpcMaxMessageSizeExceeded, details);

    /// <summary>
    /// Refusals of the request line and headers that Kestrel would otherwise make without a body (its own limits are
    /// set above these, see <see cref="TransportLimits"/>): a long target (414), large headers (431), and control
    /// characters such as NUL in the decoded path (400).
    /// </summary>
    private static (IrisException Error, int HttpStatus)? CheckTransportLimits(HttpContext http)
    {
        var request = http.Request;
        var path = request.Path.Value ?? string.Empty;
        var target = path.Length + request.QueryString.Value?.Length ?? 0;
        if (target > TransportLimits.MaxTargetBytes)
        {
            return (IrisException.InvalidRequest($"The request path and query are {target} bytes; the limit is {TransportLimits.MaxTargetBytes} bytes."),
                StatusCodes.Status414UriTooLong);
        }

        var headers = TransportLimits.HeaderBytes(request.Headers);
        if (headers > TransportLimits.MaxHeaderBytes)
        {
            return (IrisException.InvalidRequest($"The request headers are {headers} bytes; the limit is {TransportLimits.MaxHeaderBytes} bytes."),
                StatusCodes.Status431RequestHeaderFieldsTooLarge);
        }

        foreach (var c in path)
        {
            if (char.IsControl(c))
            {
                return (IrisException.InvalidRequest("The request path contains a control character (such as NUL)."), StatusCodes.Status400BadRequest);
            }
        }

        return null;
    }

    private static async Task WriteAsync(HttpContext http, IMessage response, StatusCode code, int? httpStatus = null)
    {
        var bytes = ProtoJsonWriter.Instance.ToUtf8(response);
        http.Response.StatusCode = httpStatus ?? StatusCatalog.HttpStatus(code);
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = bytes.Length;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error, Message = "Unexpected failure serving {Path} (req_id {RequestId})")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string path, string requestId);

    /// <summary>Marks connections accepted on the REST endpoint, so one Kestrel serves both ports without confusion.</summary>
    internal const string ConnectionMarker = "iris.rest";

    internal static bool IsRestConnection(HttpContext http) =>
        http.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionMarker) == true;

    /// <summary>
    /// True for a gRPC-web request (<c>application/grpc-web</c>, <c>application/grpc-web-text</c>, with or without
    /// <c>+proto</c>): the REST port hands it to the gRPC pipeline instead of this gateway.
    /// </summary>
    internal static bool IsGrpcWeb(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase);

    /// <summary>A request for this gateway: on the REST port and not gRPC-web.</summary>
    internal static bool IsRestRequest(HttpContext http) => IsRestConnection(http) && !IsGrpcWeb(http.Request);
}

/// <summary>
/// Serves a path outside the API (<c>/hosted/...</c> for stored input bytes) on the REST port, before API routing.
/// The prefix must not collide with any <c>/v2</c> route.
/// </summary>
internal interface IRawRestHandler
{
    string PathPrefix { get; }

    Task HandleAsync(HttpContext http);
}
