using System.Net;
using System.Text.Json;

namespace Iris.Server.Tests.Infrastructure;

/// <summary>Reads REST responses as raw JSON, so tests see the exact wire shape.</summary>
public static class Json
{
    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(text);
        return (response.StatusCode, doc.RootElement.Clone(), response);
    }

    public static Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> GetAsync(HttpClient http, string path) =>
        SendAsync(http, new HttpRequestMessage(HttpMethod.Get, path));

    public static int Code(this JsonElement body) => body.GetProperty("status").GetProperty("code").GetInt32();

    public static string Description(this JsonElement body) => body.GetProperty("status").GetProperty("description").GetString()!;

    public static string Details(this JsonElement body) => body.GetProperty("status").GetProperty("details").GetString()!;
}
