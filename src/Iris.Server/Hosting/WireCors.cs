using Iris.Server.Grpc;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Iris.Server.Hosting;

/// <summary>
/// Cross-origin access for browsers calling REST or gRPC-web (<see cref="IrisServerOptions.CorsOrigins"/>), on both
/// ports, through ASP.NET Core's CORS middleware. Off by default: no response carries <c>Access-Control-*</c> headers,
/// so browsers refuse cross-origin reads as they would from any server that does not opt in.
/// </summary>
internal static class WireCors
{
    /// <summary>Request headers the official clients send: REST (authorization, JSON), gRPC-web (x-grpc-web, x-user-agent, grpc-timeout).</summary>
    internal static readonly string[] AllowedHeaders =
    [
        "authorization", "content-type", "accept", "x-grpc-web", "x-user-agent", "grpc-timeout",
        "x-clarifai-request-id-prefix", "x-clarifai-session-token",
    ];

    /// <summary>Response headers a browser script may read: the gRPC status (gRPC-web puts trailers in the body, but errors
    /// before the first message come as headers), Clarifai's status trailers and the request id.</summary>
    internal static readonly string[] ExposedHeaders =
    [
        "grpc-status", "grpc-message", "grpc-status-details-bin", MalformedMessages.StatusCodeTrailer, MalformedMessages.StatusTrailer,
        V2MethodProvider.RequestIdHeader, "retry-after",
    ];

    internal static readonly string[] AllowedMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>How long a browser may cache a preflight answer.</summary>
    internal static readonly TimeSpan PreflightMaxAge = TimeSpan.FromHours(1);

    /// <summary>The policy for the configured origins (<c>*</c> allows any origin), or null when CORS is off.</summary>
    public static CorsPolicy? Policy(IReadOnlyList<string> origins)
    {
        if (origins.Count == 0)
        {
            return null;
        }

        var builder = new CorsPolicyBuilder()
            .WithHeaders(AllowedHeaders)
            .WithExposedHeaders(ExposedHeaders)
            .WithMethods(AllowedMethods)
            .SetPreflightMaxAge(PreflightMaxAge);

        // Credentials travel in the authorization header, never in cookies: no Allow-Credentials, so "*" is allowed.
        builder = origins.Contains("*") ? builder.AllowAnyOrigin() : builder.WithOrigins([.. origins]);
        return builder.Build();
    }

    /// <summary>
    /// A preflight (<c>OPTIONS</c> with <c>Origin</c> and <c>Access-Control-Request-Method</c>) that the CORS middleware
    /// did not answer, because CORS is off: 204 without <c>Access-Control-*</c> headers, which browsers report as a CORS
    /// refusal, rather than an API status for a method no route has.
    /// </summary>
    public static Task AnswerUnallowedPreflightAsync(HttpContext http, RequestDelegate next)
    {
        if (IsPreflight(http.Request))
        {
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            http.Response.Headers.Vary = "Origin";
            return Task.CompletedTask;
        }

        return next(http);
    }

    internal static bool IsPreflight(HttpRequest request) =>
        HttpMethods.IsOptions(request.Method) && request.Headers.Origin.Count > 0 && request.Headers.AccessControlRequestMethod.Count > 0;
}
