using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Iris.Server.Auth;
using Iris.Server.Validation;
using Microsoft.Extensions.Logging;

namespace Iris.Server.Api;

/// <summary>
/// The request path shared by both transports: authenticate and authorize from the headers (<see cref="AdmitAsync"/>,
/// before the transport reads the body) → normalise (<c>me</c>) → validate → handler, and the one place where an <see cref="IrisException"/> (or anything unexpected) becomes the response <c>status</c>.
/// Never throws except for the caller's own cancellation.
/// </summary>
public sealed partial class ApiInvoker(HandlerRegistry registry, Authenticator authenticator, RequestBudget budget, ILogger<ApiInvoker> logger)
{
    public HandlerRegistry Registry => registry;

    /// <summary>
    /// Authentication and authorization from the headers alone: transports call this before they read the body, so a
    /// caller without valid credentials never makes Iris buffer or parse a message. A refusal carries its response.
    /// </summary>
    public async ValueTask<Admission> AdmitAsync(RpcInfo rpc, RequestMeta meta, string requestId, CancellationToken cancellationToken)
    {
        TimeSpan? retryAfter = null;
        try
        {
            var principal = await authenticator.AuthenticateAsync(rpc, meta.Authorization, cancellationToken).ConfigureAwait(false);
            if (principal is not null)
            {
                // Authorization: the per-key request budget, then the token kind and scopes the RPC's descriptor asks for.
                retryAfter = budget.TrySpend(principal.KeyId ?? principal.UserId);
                if (retryAfter is { } wait)
                {
                    throw new IrisException(StatusCode.ConnThrottled,
                        $"This key is over its request budget; retry in {Math.Ceiling(wait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)} s.");
                }

                Authorizer.Authorize(rpc, principal);
            }

            return new Admission(principal, null, null);
        }
        catch (IrisException error)
        {
            LogDenied(logger, rpc.Name, (int)error.Code, requestId);
            return new Admission(null, Refusal(rpc, error, requestId), retryAfter);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception unexpected)
        {
            LogUnexpected(logger, unexpected, rpc.Name, requestId);
            return new Admission(null, Refusal(rpc, Internal(requestId), requestId), null);
        }
    }

    /// <summary>Admits the caller, then runs the call (for callers that already hold the message).</summary>
    public async ValueTask<InvokeResult> InvokeAsync(RpcInfo rpc, IMessage request, RequestMeta meta, string requestId, CancellationToken cancellationToken)
    {
        var admission = await AdmitAsync(rpc, meta, requestId, cancellationToken).ConfigureAwait(false);
        return await InvokeAsync(rpc, request, admission, meta.Transport, requestId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs an admitted call: normalise (<c>me</c>) → validate the fields (<see cref="RequestValidator"/>) → handler.
    /// A refused admission answers its refusal.
    /// </summary>
    public async ValueTask<InvokeResult> InvokeAsync(RpcInfo rpc, IMessage request, Admission admission, Transport transport, string requestId, CancellationToken cancellationToken)
    {
        if (admission.Refusal is { } refusal)
        {
            return new InvokeResult(refusal, true, admission.RetryAfter);
        }

        IMessage response;
        var failed = false;
        try
        {
            if (admission.Principal is { } principal)
            {
                ResolveMe(rpc, request, principal);
            }

            RequestValidator.Validate(rpc, request);
            var handler = registry.Find(rpc.Name) ?? throw IrisException.NotImplemented(rpc.Name);
            var context = new CallContext(rpc, requestId, transport, admission.Principal, cancellationToken);
            response = await handler(request, context).ConfigureAwait(false);
            if (StatusWriter.Get(response) is null)
            {
                StatusWriter.Set(response, StatusWriter.Ok());
            }
        }
        catch (IrisException error)
        {
            response = ErrorResponse(rpc, error);
            failed = true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception unexpected)
        {
            LogUnexpected(logger, unexpected, rpc.Name, requestId);
            response = ErrorResponse(rpc, Internal(requestId));
            failed = true;
        }

        StatusWriter.Get(response)!.ReqId = requestId;
        return new InvokeResult(response, failed, null);
    }

    /// <summary>An error response of the RPC's type with the request id set.</summary>
    public static IMessage Refusal(RpcInfo rpc, IrisException error, string requestId)
    {
        var response = ErrorResponse(rpc, error);
        StatusWriter.Get(response)!.ReqId = requestId;
        return response;
    }

    private static IrisException Internal(string requestId) =>
        new(StatusCode.InternalServerIssue, $"An internal error occurred. Quote request id {requestId} when reporting it.");

    /// <summary>A fresh response of the RPC's type carrying only the error status.</summary>
    public static IMessage ErrorResponse(RpcInfo rpc, IrisException error)
    {
        var response = rpc.NewResponse();
        StatusWriter.Set(response, StatusWriter.From(error));
        return response;
    }

    /// <summary><c>user_id</c> <c>me</c> means the authenticated user (UserAppIDSet comment in resources.proto).</summary>
    private static void ResolveMe(RpcInfo rpc, IMessage request, Principal principal)
    {
        if (rpc.UserAppIdField?.Accessor.GetValue(request) is UserAppIDSet ids && string.Equals(ids.UserId, "me", StringComparison.Ordinal))
        {
            ids.UserId = principal.UserId;
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Denied {Rpc}: status {Code} (req_id {RequestId})")]
    private static partial void LogDenied(ILogger logger, string rpc, int code, string requestId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Unexpected failure in {Rpc} (req_id {RequestId})")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string rpc, string requestId);
}

/// <summary>The outcome of authentication and authorization: the caller (null for NoAuth RPCs), or the refusal to answer.</summary>
/// <param name="Principal">The authenticated caller; null for NoAuth RPCs and refusals.</param>
/// <param name="Refusal">The response to send instead of running the call, its status set.</param>
/// <param name="RetryAfter">Set when the call was throttled.</param>
public readonly record struct Admission(Principal? Principal, IMessage? Refusal, TimeSpan? RetryAfter)
{
    public bool Admitted => Refusal is null;
}

/// <summary>The response of one call, and whether its status came from a failure rather than from the handler.</summary>
/// <param name="Response">The response message, its status set.</param>
/// <param name="Failed">True when the status came from a failure rather than from the handler.</param>
/// <param name="RetryAfter">Set when the call was throttled: how long until the key's budget allows another request (REST <c>Retry-After</c>).</param>
public readonly record struct InvokeResult(IMessage Response, bool Failed, TimeSpan? RetryAfter = null);
