using System.Net;
using Iris.Server.Hosting;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Transport;

/// <summary>An Iris server that lets two origins call it from browsers (<see cref="IrisServerOptions.CorsOrigins"/>).</summary>
public sealed class CorsFixture : IrisFixture
{
    public const string Portal = "https://portal.example.com";
    public const string DevServer = "http://localhost:5173";

    protected override void ConfigureOptions(IrisServerOptions options) => options.CorsOrigins = $"{Portal}, {DevServer}";
}

/// <summary>An Iris server that lets any origin call it (<c>*</c>).</summary>
public sealed class AnyOriginFixture : IrisFixture
{
    protected override void ConfigureOptions(IrisServerOptions options) => options.CorsOrigins = "*";
}

/// <summary>An Iris server with the default settings: CORS off.</summary>
public sealed class NoCorsFixture : IrisFixture;

/// <summary>Preflights and CORS response headers on REST and gRPC-web, on both ports, with HttpClient.</summary>
public sealed class CorsTests(CorsFixture iris) : IClassFixture<CorsFixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    internal static HttpRequestMessage Preflight(string url, string origin, string method, string headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, url);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    internal static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
        : response.Content.Headers.TryGetValues(name, out var content) ? string.Join(",", content) : string.Empty;

    internal static string[] List(HttpResponseMessage response, string name) =>
        [.. Header(response, name).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => v.ToLowerInvariant()).Order()];

    /// <summary>What the official clients send: REST (authorization, JSON) and gRPC-web (x-grpc-web, x-user-agent, grpc-timeout).</summary>
    private static readonly string[] AllowedHeaders =
        ["accept", "authorization", "content-type", "grpc-timeout", "x-clarifai-request-id-prefix", "x-clarifai-session-token", "x-grpc-web", "x-user-agent"];

    [Fact]
    public async Task A_REST_preflight_from_an_allowed_origin_answers_204_with_the_allowed_method_and_headers()
    {
        using var response = await iris.Http.SendAsync(Preflight("/v2/users/me/apps/a/inputs", CorsFixture.Portal, "POST", "authorization,content-type"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(CorsFixture.Portal, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal(["delete", "get", "patch", "post", "put"], List(response, "Access-Control-Allow-Methods"));
        Assert.Equal(AllowedHeaders, List(response, "Access-Control-Allow-Headers"));
        Assert.Equal("3600", Header(response, "Access-Control-Max-Age"));
        Assert.Empty(Header(response, "Access-Control-Allow-Credentials"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_gRPC_web_preflight_is_answered_on_both_ports_with_the_gRPC_web_headers()
    {
        foreach (var port in new[] { iris.Server.GrpcPort, iris.Server.HttpPort })
        {
            using var http = new HttpClient();
            using var response = await http.SendAsync(Preflight($"http://127.0.0.1:{port}/clarifai.api.V2/PostModelOutputs", CorsFixture.DevServer, "POST",
                "authorization,content-type,x-grpc-web,x-user-agent,grpc-timeout"));

            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal(CorsFixture.DevServer, Header(response, "Access-Control-Allow-Origin"));
            Assert.Equal(AllowedHeaders, List(response, "Access-Control-Allow-Headers"));
        }
    }

    [Fact]
    public async Task A_preflight_asking_for_a_header_or_method_not_allowed_is_not_granted_it()
    {
        // The browser compares what it asked for with the Allow-* lists and refuses the call when one is missing.
        using var header = await iris.Http.SendAsync(Preflight("/v2/users/me/apps", CorsFixture.Portal, "POST", "authorization,x-secret-header"));
        Assert.Equal(HttpStatusCode.NoContent, header.StatusCode);
        Assert.DoesNotContain("x-secret-header", List(header, "Access-Control-Allow-Headers"));

        using var method = await iris.Http.SendAsync(Preflight("/v2/users/me/apps", CorsFixture.Portal, "TRACE", "authorization"));
        Assert.Equal(HttpStatusCode.NoContent, method.StatusCode);
        Assert.DoesNotContain("trace", List(method, "Access-Control-Allow-Methods"));
    }

    [Fact]
    public async Task A_preflight_from_an_origin_not_listed_gets_no_CORS_headers()
    {
        using var response = await iris.Http.SendAsync(Preflight("/v2/users/me/apps", "https://evil.example.net", "POST", "authorization"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(Header(response, "Access-Control-Allow-Origin"));
        Assert.Empty(Header(response, "Access-Control-Allow-Methods"));
        Assert.Empty(Header(response, "Access-Control-Allow-Headers"));
    }

    [Fact]
    public async Task REST_responses_to_an_allowed_origin_carry_the_origin_and_the_exposed_headers_errors_too()
    {
        var ok = IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps");
        ok.Headers.Add("Origin", CorsFixture.Portal);
        var (status, json, response) = await Json.SendAsync(iris.Http, ok);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        Assert.Equal(CorsFixture.Portal, Header(response, "Access-Control-Allow-Origin"));
        Assert.Contains("Origin", Header(response, "Vary"), StringComparison.Ordinal);
        Assert.Equal(["grpc-message", "grpc-status", "grpc-status-details-bin", "retry-after", "x-clarifai-request-id", "x-clarifai-status-bin", "x-clarifai-status-code"],
            List(response, "Access-Control-Expose-Headers"));

        var refused = new HttpRequestMessage(HttpMethod.Get, "/v2/users/me/apps");
        refused.Headers.Add("Origin", CorsFixture.Portal);
        var (refusedStatus, refusedJson, refusedResponse) = await Json.SendAsync(iris.Http, refused);
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);
        Assert.Equal(11102, refusedJson.Code());
        Assert.Equal(CorsFixture.Portal, Header(refusedResponse, "Access-Control-Allow-Origin"));

        var other = IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps");
        other.Headers.Add("Origin", "https://evil.example.net");
        var (otherStatus, _, otherResponse) = await Json.SendAsync(iris.Http, other);
        Assert.Equal(HttpStatusCode.OK, otherStatus);
        Assert.Empty(Header(otherResponse, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task A_gRPC_web_response_to_an_allowed_origin_carries_the_origin()
    {
        using var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{iris.Server.GrpcPort}/clarifai.api.V2/ListStatusCodes")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new("application/grpc-web+proto");
        request.Headers.Add("Origin", CorsFixture.Portal);
        request.Headers.Add("x-grpc-web", "1");
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc-web", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(CorsFixture.Portal, Header(response, "Access-Control-Allow-Origin"));
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(0, body[0]);

        // The trailers come last, in a frame flagged 0x80, as gRPC-web carries them.
        var text = System.Text.Encoding.ASCII.GetString(body);
        Assert.Contains("grpc-status:0", text.Replace(" ", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
    }
}

/// <summary><c>*</c> lets every origin in.</summary>
public sealed class AnyOriginCorsTests(AnyOriginFixture iris) : IClassFixture<AnyOriginFixture>
{
    [Fact]
    public async Task Any_origin_is_allowed_with_a_wildcard_and_no_credentials_flag()
    {
        using var preflight = await iris.Http.SendAsync(CorsTests.Preflight("/v2/users/me/apps", "https://anywhere.example.org", "GET", "authorization"));
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal("*", CorsTests.Header(preflight, "Access-Control-Allow-Origin"));
        Assert.Empty(CorsTests.Header(preflight, "Access-Control-Allow-Credentials"));

        var request = IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps");
        request.Headers.Add("Origin", "https://anywhere.example.org");
        var (status, _, response) = await Json.SendAsync(iris.Http, request);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("*", CorsTests.Header(response, "Access-Control-Allow-Origin"));
    }
}

/// <summary>CORS is off by default: no Access-Control headers anywhere, and a preflight is answered without them rather than refused as an API call.</summary>
public sealed class CorsOffTests(NoCorsFixture iris) : IClassFixture<NoCorsFixture>
{
    [Fact]
    public async Task A_preflight_answers_204_without_CORS_headers_on_both_ports()
    {
        foreach (var port in new[] { iris.Server.HttpPort, iris.Server.GrpcPort })
        {
            using var http = new HttpClient();
            using var response = await http.SendAsync(CorsTests.Preflight($"http://127.0.0.1:{port}/v2/users/me/apps", CorsFixture.Portal, "POST", "authorization,content-type"));

            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Responses_carry_no_CORS_headers_and_a_plain_OPTIONS_is_still_an_API_call()
    {
        var request = IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps");
        request.Headers.Add("Origin", CorsFixture.Portal);
        var (status, _, response) = await Json.SendAsync(iris.Http, request);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));

        // OPTIONS without the preflight headers is no browser's preflight: the API answers it as any unrouted method.
        var (optionsStatus, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Options, "/v2/users/me/apps"));
        Assert.Equal(HttpStatusCode.BadRequest, optionsStatus);
        Assert.Equal(11103, json.Code());
        Assert.Equal("OPTIONS is not allowed on /v2/users/me/apps.", json.Details());
    }
}

/// <summary>The CORS setting is checked at start-up.</summary>
public sealed class CorsOptionTests
{
    [Theory]
    [InlineData("portal.example.com")]
    [InlineData("https://portal.example.com/")]
    [InlineData("https://portal.example.com/app")]
    [InlineData("ftp://portal.example.com")]
    [InlineData("https://*.example.com")]
    public void An_origin_that_is_not_scheme_host_port_stops_start_up_naming_the_setting(string origin)
    {
        var options = new IrisServerOptions { DataDir = "/tmp/unused", CorsOrigins = "https://ok.example.com," + origin };
        var error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Equal($"--cors-origins / IRIS_CORS_ORIGINS: '{origin}' is not an origin; use scheme://host[:port] without a path (e.g. https://portal.example.com), or *.", error.Message);
    }

    [Fact]
    public void Origins_are_a_trimmed_comma_list()
    {
        var options = new IrisServerOptions { CorsOrigins = " https://a.example.com ,http://localhost:5173,, *" };
        options.Validate();
        Assert.Equal(["https://a.example.com", "http://localhost:5173", "*"], options.CorsOriginList);
        Assert.Empty(new IrisServerOptions().CorsOriginList);
    }
}
