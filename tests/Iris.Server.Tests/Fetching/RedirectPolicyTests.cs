using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Fetching;

/// <summary>
/// The one URL policy on every redirect hop, for predict and ingestion alike: only http and https are followed, an
/// internal address reached by a redirect is refused unless allowed, redirects are bounded, a body shorter than its
/// Content-Length fails — each at once with its precise status, the URL fetched exactly once (never retried).
/// </summary>
public sealed class RedirectPolicyTests(RedirectingServerFixture iris) : IClassFixture<RedirectingServerFixture>, IDisposable
{
    private const string PredictPath = "/v2/users/clarifai/apps/main/models/general-image-recognition/outputs";
    private static readonly UserAppIDSet Main = new() { UserId = "clarifai", AppId = "main" };

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Fact]
    public async Task Redirects_to_other_schemes_answer_30106_at_once_over_gRPC_and_REST()
    {
        var targets = new[]
        {
            "file:///etc/passwd",
            $"gopher://127.0.0.1:{iris.WebPort}/1photo",
            $"ftp://127.0.0.1:{iris.WebPort}/photo.jpg",
            $"ws://127.0.0.1:{iris.WebPort}/photo.jpg",
        };
        var urls = targets.Select(iris.RedirectTo).ToArray();
        var response = await PredictAsync(urls);
        Assert.Equal(StatusCode.InputInvalidUrl, response.Status.Code);
        for (var i = 0; i < urls.Length; i++)
        {
            var status = response.Outputs[i].Status;
            Assert.True(status.Code == StatusCode.InputInvalidUrl, $"{targets[i]}: {status.Code} {status.Details}");
            Assert.Contains("Iris follows only http and https URLs", status.Details, StringComparison.Ordinal);
            Assert.Equal(1, iris.HitsOf(urls[i]));
        }

        var viaRest = iris.RedirectTo("file:///etc/hosts");
        var (http, json) = await PredictRestAsync(viaRest);
        Assert.Equal(HttpStatusCode.BadRequest, http);
        Assert.Equal(30106, json.Code());
        Assert.Contains("redirects to 'file:///etc/hosts'", json.GetProperty("outputs")[0].GetProperty("status").GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, iris.HitsOf(viaRest));
    }

    [Fact]
    public async Task Redirects_to_internal_addresses_answer_30106_before_connecting()
    {
        var targets = new[]
        {
            "http://10.1.2.3/photo.jpg",
            "http://169.254.169.254/latest/meta-data/",
            $"http://[::1]:{iris.WebPort}/photo.jpg?via=v6-loopback",
            $"http://[::7f00:1]:{iris.WebPort}/photo.jpg?via=v4-compatible",
            $"http://127.0.0.2:{iris.WebPort}/photo.jpg?via=127.0.0.2",
        };
        var urls = targets.Select(iris.RedirectTo).ToArray();
        var response = await PredictAsync(urls);
        Assert.Equal(StatusCode.InputInvalidUrl, response.Status.Code);
        for (var i = 0; i < urls.Length; i++)
        {
            var status = response.Outputs[i].Status;
            Assert.True(status.Code == StatusCode.InputInvalidUrl, $"{targets[i]}: {status.Code} {status.Details}");
            Assert.Contains("internal address", status.Details, StringComparison.Ordinal);
            Assert.Equal(1, iris.HitsOf(urls[i]));
        }

        Assert.DoesNotContain(iris.Hits.Keys, key => key.Contains("?via=", StringComparison.Ordinal));
        var (http, json) = await PredictRestAsync(iris.RedirectTo("http://192.168.0.1/"));
        Assert.Equal(HttpStatusCode.BadRequest, http);
        Assert.Equal(30106, json.Code());
    }

    [Fact]
    public async Task Redirect_loops_stop_after_the_limit_and_short_bodies_fail_with_30002()
    {
        var before = iris.Hits.GetValueOrDefault("/loop");
        var response = await PredictAsync([iris.WebBase + "/loop", iris.WebBase + "/short.jpg"]);
        Assert.Equal(StatusCode.InputFailed, response.Status.Code);
        Assert.Equal(StatusCode.InputFailed, response.Outputs[0].Status.Code);
        Assert.Contains($"redirected more than {RedirectingServerFixture.MaxRedirects} times", response.Outputs[0].Status.Details, StringComparison.Ordinal);
        Assert.Equal(RedirectingServerFixture.MaxRedirects + 1, iris.Hits.GetValueOrDefault("/loop") - before);
        Assert.Equal(StatusCode.InputFailed, response.Outputs[1].Status.Code);
        Assert.Contains($"of the {FixtureImages.Metro.Length} bytes it announced, then closed the connection", response.Outputs[1].Status.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirects_within_the_policy_are_followed()
    {
        var relative = iris.RedirectTo("/photo.jpg");
        var absolute = iris.RedirectTo(iris.WebBase + "/photo.jpg");
        var response = await PredictAsync([relative, absolute]);
        Assert.True(response.Status.Code == StatusCode.Success, $"{response.Status.Code} {response.Status.Details} / {response.Outputs[0].Status.Details}");
        // The letterboxed recognizer ranks the commuter train fourth on metro-north (person, clock, bench, train), as elsewhere.
        Assert.All(response.Outputs, o => Assert.Contains("train", o.Data.Concepts.Take(4).Select(c => c.Name)));
        Assert.Equal(relative, response.Outputs[0].Input.Data.Image.Url);
    }

    [Fact]
    public async Task Ingestion_fails_each_refused_URL_at_once_with_its_status_and_never_retries_it()
    {
        var app = await iris.CreateAppAsync("redirects");
        var cases = new (string Id, string Url, StatusCode Expected, string Details)[]
        {
            ("file", iris.RedirectTo("file:///etc/passwd?ingest"), StatusCode.InputInvalidUrl, "Iris follows only http and https URLs"),
            ("gopher", iris.RedirectTo($"gopher://127.0.0.1:{iris.WebPort}/ingest"), StatusCode.InputInvalidUrl, "Iris follows only http and https URLs"),
            ("private", iris.RedirectTo("http://10.1.2.3/ingest.jpg"), StatusCode.InputInvalidUrl, "internal address"),
            ("metadata", iris.RedirectTo("http://169.254.169.254/ingest"), StatusCode.InputInvalidUrl, "internal address"),
            ("short", iris.WebBase + "/short.jpg?ingest", StatusCode.InputFailed, "bytes it announced"),
            ("good", iris.RedirectTo("/photo.jpg?ingest"), StatusCode.InputSuccess, string.Empty),
        };
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        foreach (var c in cases)
        {
            request.Inputs.Add(new Input { Id = c.Id, Data = new Data { Image = new Image { Url = c.Url, AllowDuplicateUrl = true } } });
        }

        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata)).Status.Code);
        foreach (var c in cases)
        {
            var input = await WaitProcessedAsync(app, c.Id);
            Assert.True(input.Status.Code == c.Expected, $"{c.Id}: {input.Status.Code} {input.Status.Details}");
            Assert.Contains(c.Details, input.Status.Details, StringComparison.Ordinal);
            Assert.Equal(1, iris.HitsOf(c.Url));
        }
    }

    private async Task<MultiOutputResponse> PredictAsync(IEnumerable<string> urls)
    {
        var request = new PostModelOutputsRequest { UserAppId = Main, ModelId = "general-image-recognition" };
        request.Inputs.AddRange(urls.Select(u => new Input { Data = new Data { Image = new Image { Url = u } } }));
        return await iris.Grpc.PostModelOutputsAsync(request, IrisFixture.PatMetadata);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PredictRestAsync(string url)
    {
        var body = JsonSerializer.Serialize(new { inputs = new[] { new { data = new { image = new { url } } } } });
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, PredictPath, body));
        return (status, json);
    }

    private async Task<Input> WaitProcessedAsync(string appId, string inputId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = InputsFixture.App(appId), InputId = inputId }, IrisFixture.PatMetadata);
            Assert.Equal(StatusCode.Success, response.Status.Code);
            if (response.Input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress))
            {
                return response.Input;
            }

            Assert.True(DateTime.UtcNow < deadline, $"input {inputId} still {response.Input.Status.Code} after 60 s");
            await Task.Delay(50);
        }
    }
}
