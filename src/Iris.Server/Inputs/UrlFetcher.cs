using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Clarifai.Api.Status;
using Iris.Core.Errors;

namespace Iris.Server.Inputs;

/// <summary>Bytes downloaded from an input URL, with the content type the server claimed (never trusted for decoding).</summary>
internal sealed record FetchedContent(byte[] Bytes, string? ContentType);

/// <summary>
/// Downloads input URLs: connect and read timeouts, a size limit checked before and while reading, at most
/// <see cref="IngestionOptions.PerHostConcurrency"/> downloads per host, and an SSRF guard applied to every address
/// actually connected to (redirects included), so a public name resolving to a private address is refused too.
/// Failures throw <see cref="IrisException"/> with the input status the user sees.
/// </summary>
internal sealed class UrlFetcher : IDisposable
{
    private readonly IngestionOptions _options;
    private readonly HttpClient _client;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public UrlFetcher(IngestionOptions options)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 5,
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = ConnectAsync,
            UseProxy = false,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Iris", "1.0"));
    }

    /// <summary>Checks the shape of an input URL when it is added (the address is checked when connecting).</summary>
    public static Uri ParseUrl(string url)
    {
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(uri.Host))
        {
            throw new IrisException(StatusCode.InputInvalidUrl, $"'{Truncate(url)}' is not an http or https URL.");
        }

        return uri;
    }

    public async Task<FetchedContent> FetchAsync(Uri url, CancellationToken cancellationToken)
    {
        var gate = _hosts.GetOrAdd(url.Host, _ => new SemaphoreSlim(_options.PerHostConcurrency));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await DownloadAsync(url, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<FetchedContent> DownloadAsync(Uri url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds + _options.ReadTimeoutSeconds));
        try
        {
            using var response = await _client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new IrisException(StatusCode.InputFailed,
                    $"Download failed: {Truncate(url.ToString())} answered HTTP {(int)response.StatusCode} ({response.ReasonPhrase}).");
            }

            if (response.Content.Headers.ContentLength is { } length && length > _options.MaxImageBytes)
            {
                throw TooLarge(length);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            while (true)
            {
                var read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                buffer.Write(chunk, 0, read);
                if (buffer.Length > _options.MaxImageBytes)
                {
                    throw TooLarge(null);
                }
            }

            return new FetchedContent(buffer.ToArray(), response.Content.Headers.ContentType?.MediaType);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IrisException(StatusCode.InputConnectionFailed,
                $"{Truncate(url.ToString())} did not answer within {_options.ConnectTimeoutSeconds + _options.ReadTimeoutSeconds} s.");
        }
        catch (HttpRequestException e) when (FindRefusal(e) is { } refused)
        {
            throw new IrisException(StatusCode.InputInvalidUrl, refused.Message);
        }
        catch (HttpRequestException e)
        {
            throw new IrisException(StatusCode.InputConnectionFailed, $"Could not download {Truncate(url.ToString())}: {SafeReason(e)}.");
        }
    }

    private IrisException TooLarge(long? length) => new(StatusCode.InputOverLimit,
        length is { } n
            ? $"The image is {n.ToString(CultureInfo.InvariantCulture)} bytes; the limit is {_options.MaxImageBytes.ToString(CultureInfo.InvariantCulture)} bytes."
            : $"The image is larger than the limit of {_options.MaxImageBytes.ToString(CultureInfo.InvariantCulture)} bytes.");

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (!_options.AllowPrivateUrls && addresses.FirstOrDefault(IsInternal) is { } blocked)
        {
            throw new AddressRefusedException(
                $"The URL's host {host} resolves to {blocked}, a loopback, private, link-local or metadata address; Iris does not download from those unless the operator sets IRIS_INGEST_ALLOW_PRIVATE_URLS.");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Loopback, unspecified, RFC 1918, CGNAT, link-local (169.254/16 holds cloud metadata), unique-local and multicast.</summary>
    internal static bool IsInternal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.IPv6None))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] >= 224;
        }

        var v6 = address.GetAddressBytes();
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (v6[0] & 0xFE) == 0xFC
            || (v6[0] == 0xFD && v6[1] == 0x00 && v6[2] == 0x0E && v6[3] == 0xC2);
    }

    private static AddressRefusedException? FindRefusal(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is AddressRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }

    // Socket errors name the failure without leaking anything internal (connection refused, host not found, …).
    private static string SafeReason(HttpRequestException e) => e.InnerException is SocketException s
        ? s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData => "host not found",
            SocketError.TimedOut => "connection timed out",
            SocketError.NetworkUnreachable or SocketError.HostUnreachable => "host unreachable",
            _ => "connection failed (" + s.SocketErrorCode + ")",
        }
        : e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "host not found",
            HttpRequestError.ConnectionError => "connection failed",
            HttpRequestError.SecureConnectionError => "TLS handshake failed",
            HttpRequestError.ResponseEnded => "the server closed the connection early",
            _ => "the HTTP exchange failed",
        };

    internal static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

    public void Dispose()
    {
        _client.Dispose();
        foreach (var gate in _hosts.Values)
        {
            gate.Dispose();
        }
    }

    private sealed class AddressRefusedException(string message) : Exception(message);
}
