using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Fetching;

/// <summary>
/// On a default server, predict by URL and ingestion refuse loopback, private and link-local targets — in every IPv6
/// spelling — with 30106 before connecting: a listener on the targeted loopback port never sees a connection. Only
/// 127.0.0.1 is ever listened on; the other addresses are refused before any packet could leave.
/// </summary>
public sealed class DefaultServerRefusalTests(DefaultServerFixture iris) : IClassFixture<DefaultServerFixture>, IDisposable
{
    private const string PredictPath = "/v2/users/clarifai/apps/main/models/general-image-recognition/outputs";

    // {port}: a loopback port with a listener that is never accepted from, so any connection that got through stays pending.
    private static readonly string[] Internal =
    [
        "http://127.0.0.1:{port}/photo.jpg",
        "http://localhost:{port}/photo.jpg",
        "http://[::1]:{port}/photo.jpg",
        "http://[::ffff:127.0.0.1]:{port}/photo.jpg",
        "http://[::7f00:1]:{port}/photo.jpg",
        "http://10.1.2.3/photo.jpg",
        "http://169.254.169.254/latest/meta-data/",
    ];

    public static TheoryData<string> InternalUrls => new(Internal);

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    [Theory]
    [MemberData(nameof(InternalUrls))]
    public async Task Predict_by_URL_to_an_internal_address_answers_30106_over_gRPC_and_REST_without_connecting(string template)
    {
        Assert.Null(Environment.GetEnvironmentVariable("IRIS_INGEST_ALLOW_PRIVATE_URLS"));
        using var trap = new TcpListener(IPAddress.Loopback, 0);
        trap.Start();
        var url = template.Replace("{port}", ((IPEndPoint)trap.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var request = new PostModelOutputsRequest { UserAppId = new UserAppIDSet { UserId = "clarifai", AppId = "main" }, ModelId = "general-image-recognition" };
        request.Inputs.Add(new Input { Id = "ssrf", Data = new Data { Image = new Image { Url = url } } });
        var grpc = await iris.Grpc.PostModelOutputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.InputInvalidUrl, grpc.Status.Code);
        Assert.Equal(StatusCode.InputInvalidUrl, grpc.Outputs[0].Status.Code);
        Assert.Contains("internal address", grpc.Outputs[0].Status.Details, StringComparison.Ordinal);
        Assert.Equal(url, grpc.Outputs[0].Input.Data.Image.Url);
        Assert.Empty(grpc.Outputs[0].Data?.Concepts ?? []);

        var body = JsonSerializer.Serialize(new { inputs = new[] { new { data = new { image = new { url } } } } });
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, PredictPath, body));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(30106, json.Code());
        var output = json.GetProperty("outputs")[0].GetProperty("status");
        Assert.Equal(30106, output.GetProperty("code").GetInt32());
        Assert.Contains("internal address", output.GetProperty("details").GetString(), StringComparison.Ordinal);

        Assert.False(trap.Pending(), $"Iris connected to the loopback listener for {url}");
    }

    [Fact]
    public async Task Ingestion_of_internal_URLs_fails_each_input_with_30106_without_connecting()
    {
        using var trap = new TcpListener(IPAddress.Loopback, 0);
        trap.Start();
        var port = ((IPEndPoint)trap.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var app = await iris.CreateAppAsync("ssrf");
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        var urls = Internal.Select(u => u.Replace("{port}", port, StringComparison.Ordinal)).ToArray();
        for (var i = 0; i < urls.Length; i++)
        {
            request.Inputs.Add(new Input { Id = "u" + i, Data = new Data { Image = new Image { Url = urls[i], AllowDuplicateUrl = true } } });
        }

        var posted = await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        for (var i = 0; i < urls.Length; i++)
        {
            var input = await WaitProcessedAsync(app, "u" + i);
            Assert.True(input.Status.Code == StatusCode.InputInvalidUrl, $"{urls[i]}: {input.Status.Code} {input.Status.Details}");
            Assert.Contains("internal address", input.Status.Details, StringComparison.Ordinal);
        }

        Assert.False(trap.Pending(), "Iris connected to the loopback listener");
    }

    private async Task<Input> WaitProcessedAsync(string appId, string inputId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var response = await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = InputsFixture.App(appId), InputId = inputId }, IrisFixture.PatMetadata);
            Assert.Equal(StatusCode.Success, response.Status.Code);
            if (response.Input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress))
            {
                return response.Input;
            }

            Assert.True(DateTime.UtcNow < deadline, $"input {inputId} still {response.Input.Status.Code} after 30 s");
            await Task.Delay(50);
        }
    }
}
