using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Clarifai.Api.Status;
using Iris.Core.Errors;

namespace Iris.Core.Fetching;

/// <summary>Bytes downloaded from a URL, with the content type the server claimed (never trusted for decoding).</summary>
public sealed record FetchedContent(byte[] Bytes, string? ContentType);

/// <summary>
/// The one downloader of every URL Iris fetches (ingestion, predict, search, workflows), with one policy:
/// <list type="bullet">
/// <item>only http and https, checked on the URL and on every redirect hop (redirects are followed here, one hop at a
/// time, at most <see cref="UrlFetcherOptions.MaxRedirects"/>);</item>
/// <item>the <see cref="AddressGuard"/> applied to every address actually connected to, inside the connect callback,
/// after name resolution and before the socket connects: a public name resolving (or re-resolving) to a private address
/// is refused too, and nothing is sent to a refused address;</item>
/// <item>connect and read timeouts, a size limit checked before and while reading, a body shorter than its
/// Content-Length refused, at most <see cref="UrlFetcherOptions.PerHostConcurrency"/> downloads per host.</item>
/// </list>
/// Every failure throws <see cref="IrisException"/> with the status the user sees; none of them is worth retrying (the
/// same URL gives the same answer), so callers fail the input at once.
/// </summary>
public sealed class UrlFetcher : IDisposable
{
    private readonly UrlFetcherOptions _options;
    private readonly HttpClient _client;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public UrlFetcher(UrlFetcherOptions options)
    {
        options.Validate();
        _options = options;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
            // The handler would follow a redirect to ws:// as http and give up on others with an exception; FetchAsync
            // follows them itself so that each hop's scheme is checked and refusals get a precise status.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectCallback = ConnectAsync,
            UseProxy = false,
            UseCookies = false,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Iris", "1.0"));
    }

    /// <summary>Checks the shape of a URL when it is received (30106 unless absolute http or https); the address is checked when connecting.</summary>
    public static Uri ParseUrl(string url)
    {
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || !IsHttp(uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new IrisException(StatusCode.InputInvalidUrl, $"'{Truncate(url)}' is not an http or https URL.");
        }

        return uri;
    }

    /// <summary>Downloads <paramref name="url"/> under the policy above.</summary>
    public async Task<FetchedContent> FetchAsync(Uri url, CancellationToken cancellationToken)
    {
        if (!IsHttp(url))
        {
            throw new IrisException(StatusCode.InputInvalidUrl, $"'{Truncate(url.ToString())}' is not an http or https URL.");
        }

        var budget = TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds + _options.ReadTimeoutSeconds);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var current = url;
        try
        {
            for (var hop = 0; ; hop++)
            {
                // Waiting for a host's turn is not the host's slowness: the clock starts once the first request may go.
                var gate = _hosts.GetOrAdd(current.IdnHost, _ => new SemaphoreSlim(_options.PerHostConcurrency));
                await gate.WaitAsync(hop == 0 ? cancellationToken : timeout.Token).ConfigureAwait(false);
                try
                {
                    if (hop == 0)
                    {
                        timeout.CancelAfter(budget);
                    }

                    using var request = new HttpRequestMessage(HttpMethod.Get, current);
                    using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                    if (IsRedirect(response.StatusCode))
                    {
                        current = NextHop(url, current, response, hop);
                        continue;
                    }

                    if (!response.IsSuccessStatusCode)
                    {
                        throw new IrisException(StatusCode.InputFailed,
                            $"Download failed: {Truncate(current.ToString())} answered HTTP {(int)response.StatusCode} ({response.ReasonPhrase}).");
                    }

                    return await ReadBodyAsync(current, response, timeout.Token).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IrisException(StatusCode.InputConnectionFailed,
                $"{Truncate(current.ToString())} did not answer within {budget.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
        }
        catch (HttpRequestException e) when (FindRefusal(e) is { } refused)
        {
            throw new IrisException(StatusCode.InputInvalidUrl, refused.Message);
        }
        catch (HttpRequestException e)
        {
            throw new IrisException(StatusCode.InputConnectionFailed, $"Could not download {Truncate(current.ToString())}: {SafeReason(e)}.");
        }
    }

    private Uri NextHop(Uri original, Uri current, HttpResponseMessage response, int hop)
    {
        var location = response.Headers.Location;
        if (location is null)
        {
            throw new IrisException(StatusCode.InputFailed,
                $"Download failed: {Truncate(current.ToString())} answered HTTP {(int)response.StatusCode} without a usable Location.");
        }

        var next = location.IsAbsoluteUri ? location : new Uri(current, location);
        if (!IsHttp(next))
        {
            throw new IrisException(StatusCode.InputInvalidUrl,
                $"{Truncate(original.ToString())} redirects to '{Truncate(next.GetLeftPart(UriPartial.Path))}'; Iris follows only http and https URLs.");
        }

        if (hop >= _options.MaxRedirects)
        {
            throw new IrisException(StatusCode.InputFailed,
                $"Download failed: {Truncate(original.ToString())} redirected more than {_options.MaxRedirects.ToString(CultureInfo.InvariantCulture)} times.");
        }

        return next;
    }

    private async Task<FetchedContent> ReadBodyAsync(Uri url, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Decompressed content has no Content-Length (the handler drops it); otherwise it is what the body must hold.
        var declared = response.Content.Headers.ContentLength;
        if (declared > _options.MaxBytes)
        {
            throw TooLarge(declared);
        }

        // The declared length sizes the buffer only up to 1 MiB: a server announcing 20 MB and sending little costs little.
        var buffer = new MemoryStream(declared is { } n ? (int)Math.Min(n, 1 << 20) : 0);
        await using (buffer.ConfigureAwait(false))
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var chunk = new byte[81920];
                while (true)
                {
                    int read;
                    try
                    {
                        read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // The connection ended mid-body (HttpIOException ResponseEnded for a short Content-Length body).
                        throw Truncated(url, buffer.Length, declared);
                    }
                    catch (IOException)
                    {
                        throw new OperationCanceledException(cancellationToken);
                    }

                    if (read == 0)
                    {
                        break;
                    }

                    buffer.Write(chunk, 0, read);
                    if (buffer.Length > _options.MaxBytes)
                    {
                        throw TooLarge(null);
                    }
                }
            }

            if (declared is { } expected && buffer.Length != expected)
            {
                throw Truncated(url, buffer.Length, declared);
            }

            return new FetchedContent(buffer.ToArray(), response.Content.Headers.ContentType?.MediaType);
        }
    }

    private static IrisException Truncated(Uri url, long received, long? declared) => new(StatusCode.InputFailed,
        declared is { } expected
            ? $"Download failed: {Truncate(url.ToString())} sent {received.ToString(CultureInfo.InvariantCulture)} of the {expected.ToString(CultureInfo.InvariantCulture)} bytes it announced, then closed the connection."
            : $"Download failed: the connection to {Truncate(url.ToString())} broke after {received.ToString(CultureInfo.InvariantCulture)} bytes.");

    private IrisException TooLarge(long? length) => new(StatusCode.InputOverLimit,
        length is { } n
            ? $"The image is {n.ToString(CultureInfo.InvariantCulture)} bytes; the limit is {_options.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes."
            : $"The image is larger than the limit of {_options.MaxBytes.ToString(CultureInfo.InvariantCulture)} bytes.");

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        // Every resolved address is judged, not only the first: the socket may try any of them.
        foreach (var address in addresses)
        {
            if (!AddressGuard.IsAllowed(address, _options))
            {
                throw new AddressRefusedException(
                    $"The URL's host {host} resolves to {address}, a loopback, private, link-local or other internal address; Iris does not download from those unless the operator sets IRIS_INGEST_ALLOW_PRIVATE_URLS.");
            }
        }

        // Connect to exactly the addresses judged above (no second lookup a rebinding DNS server could answer differently).
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

    private static bool IsHttp(Uri uri) => uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static bool IsRedirect(HttpStatusCode status) => status is HttpStatusCode.MultipleChoices or HttpStatusCode.MovedPermanently
        or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

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

    public static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

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
