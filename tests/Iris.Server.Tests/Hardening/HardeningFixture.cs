using System.Net;
using System.Text;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Core;
using Iris.Server.Hosting;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Hardening;

/// <summary>A server with the smallest message limit (4 MiB), so size refusals need only small bodies, and one app.</summary>
public sealed class HardeningFixture : IrisFixture, IAsyncLifetime
{
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    public const string AppId = "hardening";

    protected override void ConfigureOptions(IrisServerOptions options) => options.MaxMessageBytes = MaxMessageBytes;

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await CreateAppAsync(AppId);
    }

    public static UserAppIDSet App => new() { UserId = "me", AppId = AppId };

    public static string Path(string rest) => $"/v2/users/me/apps/{AppId}/{rest}";

    /// <summary>Sends raw JSON bytes (which may be invalid UTF-8) with the bootstrap PAT.</summary>
    public async Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> SendRawAsync(HttpMethod method, string path, byte[] body)
    {
        var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Key", Pat);
        var (status, json, _) = await Json.SendAsync(Http, request);
        return (status, json);
    }

    public Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> SendJsonAsync(HttpMethod method, string path, string json) =>
        SendRawAsync(method, path, Encoding.UTF8.GetBytes(json));

    /// <summary>Inputs stored in the app (any status), read over gRPC.</summary>
    public async Task<int> StoredInputsAsync()
    {
        var response = await Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = App, PerPage = 1000 }, PatMetadata);
        Assert.Equal(Clarifai.Api.Status.StatusCode.Success, response.Status.Code);
        return response.Inputs.Count;
    }

    public async Task<int> StoredConceptsAsync()
    {
        var response = await Grpc.ListConceptsAsync(new ListConceptsRequest { UserAppId = App, PerPage = 1000 }, PatMetadata);
        Assert.Equal(Clarifai.Api.Status.StatusCode.Success, response.Status.Code);
        return response.Concepts.Count;
    }

    /// <summary>A unary call of <paramref name="rpc"/> with a hand-made request body, answering the raw response bytes.</summary>
    public async Task<(byte[]? Response, RpcException? Error)> CallRawAsync(string rpc, byte[] request, Metadata? headers = null)
    {
        var method = new Method<byte[], byte[]>(MethodType.Unary, "clarifai.api.V2", rpc,
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        try
        {
            var response = await Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(headers ?? PatMetadata), request);
            return (response, null);
        }
        catch (RpcException e)
        {
            return (null, e);
        }
    }

    /// <summary>The PostInputs request used by most cases: one URL input (refused by the SSRF guard if it were fetched) with a concept.</summary>
    public static PostInputsRequest OneInput(Action<Input>? change = null)
    {
        var input = new Input
        {
            Id = "in1",
            Data = new Data
            {
                Image = new Image { Url = "http://127.0.0.1:9/photo.jpg" },
                Concepts = { new Concept { Id = "dog", Value = 1 } },
            },
        };
        change?.Invoke(input);
        return new PostInputsRequest { UserAppId = App, Inputs = { input } };
    }

    public static byte[] Bytes(IMessage message) => message.ToByteArray();
}
