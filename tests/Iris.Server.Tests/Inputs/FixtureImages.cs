using Iris.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SkiaSharp;

namespace Iris.Server.Tests.Inputs;

/// <summary>Real photographs from the pinned npm packages, and bad images made from them.</summary>
public static class FixtureImages
{
    public static byte[] Metro { get; } = File.ReadAllBytes(System.IO.Path.Combine(RepoRoot.Path, "node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg"));

    public static IReadOnlyList<byte[]> Photos { get; } =
    [
        Metro,
        .. new[] { "samples.jpg", "screenshot-facedetect.jpg", "screenshot-faceid.jpg", "screenshot-vrm.jpg" }
            .Select(n => File.ReadAllBytes(System.IO.Path.Combine(RepoRoot.Path, "node_modules/@vladmandic/human/assets", n))),
    ];

    /// <summary>The first 40% of a real JPEG: a valid header, pixels cut off.</summary>
    public static byte[] Truncated { get; } = Metro[..(Metro.Length * 4 / 10)];

    /// <summary>A real PNG whose compressed pixel data was overwritten in the middle.</summary>
    public static byte[] CorruptPng { get; } = MakeCorruptPng();

    /// <summary>A PNG header claiming 10000 × 10000 pixels (100 MP, over the 85 MP limit).</summary>
    public static byte[] HugePng { get; } = MakeHugePngHeader();

    private static byte[] MakeCorruptPng()
    {
        using var bitmap = SKBitmap.Decode(Metro);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var bytes = data.ToArray();
        var idat = bytes.AsSpan().IndexOf("IDAT"u8);
        for (var i = idat + 200; i < idat + 2200 && i < bytes.Length - 20; i++)
        {
            bytes[i] = (byte)(bytes[i] ^ 0x5A);
        }

        return bytes;
    }

    private static byte[] MakeHugePngHeader()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(8, 8, SKColorType.Rgba8888));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var bytes = data.ToArray();
        // IHDR data starts at byte 16 (width, height, big-endian) and its CRC32 (over type and data) at byte 29. The limit
        // check happens on the header, before any pixel is decoded.
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), 10_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), 10_000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc32(bytes.AsSpan(12, 17)));
        return bytes;
    }

    /// <summary>A small PNG of one solid colour, different for each <paramref name="seed"/> (content-addressed blobs stay unshared).</summary>
    public static byte[] UniquePng(int seed)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(new SKColor((byte)seed, (byte)(seed >> 8), 77));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}

/// <summary>
/// A local HTTP server (Kestrel on 127.0.0.1, free port) serving fixture content for URL inputs: photos, an HTML page,
/// 404, a body over the size limit, a URL that never answers, and slow photos.
/// </summary>
public sealed class FixtureWebServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FixtureWebServer(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public static async Task<FixtureWebServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(async http =>
        {
            var path = http.Request.Path.Value ?? "/";
            if (path.StartsWith("/photo/", StringComparison.Ordinal) && int.TryParse(path.AsSpan(7).ToString().Split('.')[0], out var n))
            {
                if (http.Request.Query.ContainsKey("slow"))
                {
                    await Task.Delay(40, http.RequestAborted);
                }

                http.Response.ContentType = "image/jpeg";
                await http.Response.Body.WriteAsync(FixtureImages.Photos[n % FixtureImages.Photos.Count], http.RequestAborted);
            }
            else if (path == "/page.html")
            {
                http.Response.ContentType = "text/html";
                await http.Response.WriteAsync("<!doctype html><html><body>not an image</body></html>", http.RequestAborted);
            }
            else if (path == "/big.jpg")
            {
                http.Response.ContentType = "image/jpeg";
                http.Response.ContentLength = 21 * 1024 * 1024;
                var chunk = new byte[1024 * 1024];
                for (var i = 0; i < 21; i++)
                {
                    await http.Response.Body.WriteAsync(chunk, http.RequestAborted);
                }
            }
            else if (path == "/hang.jpg")
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            }
            else
            {
                http.Response.StatusCode = 404;
            }
        });
        await app.StartAsync();
        var address = app.Urls.First();
        return new FixtureWebServer(app, address.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
