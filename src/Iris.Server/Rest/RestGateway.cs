using System.Buffers;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.DependencyInjection;
using BaseResponse = Clarifai.Api.Status.BaseResponse;

namespace Iris.Server.Rest;

/// <summary>
/// REST transport: routes a request by the <c>google.api.http</c> bindings, builds the request message, runs the shared
/// invoker and writes the JSON response with the HTTP status mapped from the Clarifai code. Every response, error or
/// not, is a JSON body with <c>status</c> and carries the request id in <c>X-Clarifai-Request-ID</c>.
/// </summary>
internal sealed class RestGateway(ApiInvoker invoker, RouteTable routes, IrisReadiness readiness)
{
    public const string RequestIdHeader = "X-Clarifai-Request-ID";

    /// <summary>Bodies up to this size are read (bytes); matches the gRPC message limit.</summary>
    public long MaxBodyBytes { get; init; } = 128L * 1024 * 1024;

    public async Task HandleAsync(HttpContext http)
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
        IMessage message;
        try
        {
            message = await ReadRequestAsync(http, rpc, match).ConfigureAwait(false);
        }
        catch (IrisException error)
        {
            var response = ApiInvoker.ErrorResponse(rpc, error);
            StatusWriter.Get(response)!.ReqId = requestId;
            await WriteAsync(http, response, error.Code).ConfigureAwait(false);
            return;
        }

        var result = await invoker.InvokeAsync(rpc, message, meta, requestId, http.RequestAborted).ConfigureAwait(false);
        var code = !result.Failed && invoker.Registry.StatusIsPayload(rpc.Name) ? StatusCode.Success : StatusWriter.Get(result.Response)!.Code;
        if (result.RetryAfter is { } retryAfter)
        {
            // Whole seconds, rounded up (RFC 9110 delay-seconds).
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        await WriteAsync(http, result.Response, code).ConfigureAwait(false);
    }

    private async Task<IMessage> ReadRequestAsync(HttpContext http, RpcInfo rpc, RouteMatch match)
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
            var body = await ReadBodyAsync(request, http.RequestAborted).ConfigureAwait(false);
            message = ProtoRequestReader.Instance.ParseBody(rpc.RequestType, body.Span);
        }

        foreach (var (field, value) in match.PathVariables)
        {
            ProtoRequestReader.SetField(message, field, [value], ignoreUnknown: false);
        }

        return message;
    }

    private async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is > 0 and var length && length > MaxBodyBytes)
        {
            throw new IrisException(StatusCode.RpcMaxMessageSizeExceeded, $"The request body of {length} bytes is over the limit of {MaxBodyBytes} bytes.");
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and < int.MaxValue ? (int)request.ContentLength.Value : 4096);
        while (true)
        {
            var span = buffer.GetMemory(16 * 1024);
            var read = await request.Body.ReadAsync(span, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > MaxBodyBytes)
            {
                throw new IrisException(StatusCode.RpcMaxMessageSizeExceeded, $"The request body is over the limit of {MaxBodyBytes} bytes.");
            }
        }

        return buffer.WrittenMemory;
    }

    private static async Task WriteAsync(HttpContext http, IMessage response, StatusCode code)
    {
        var bytes = ProtoJsonWriter.Instance.ToUtf8(response);
        http.Response.StatusCode = StatusCatalog.HttpStatus(code);
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = bytes.Length;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Marks connections accepted on the REST endpoint, so one Kestrel serves both ports without confusion.</summary>
    internal const string ConnectionMarker = "iris.rest";

    internal static bool IsRestConnection(HttpContext http) =>
        http.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionMarker) == true;
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
