using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Iris.Server.Hosting;

/// <summary>
/// Lets the plaintext gRPC port serve HTTP/2 with prior knowledge (gRPC clients) and HTTP/1.1 (gRPC-web from browsers
/// and XHR) on one port. Kestrel picks HTTP/1.1 for every cleartext connection of an <c>Http1AndHttp2</c> endpoint, as
/// it has no ALPN to go by; this connection middleware reads the first bytes and, when they are the HTTP/2 connection
/// preface (RFC 9113 §3.4), tells Kestrel "h2" through the same features ALPN would set. Nothing is consumed: the
/// protocol handler reads the same bytes. The connection stays plaintext, and requests keep the <c>http</c> scheme their
/// <c>:scheme</c> names (<c>AllowAlternateSchemes</c>).
/// </summary>
internal static class CleartextHttp2Detection
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    /// <summary>How long a new connection may take to send its first bytes (Kestrel's default request-headers timeout).</summary>
    internal static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(30);

    public static ConnectionDelegate Use(ConnectionDelegate next) => async connection =>
    {
        var input = connection.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(FirstBytesTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Silent too long, or gone: nothing to answer in either protocol.
                connection.Abort();
                return;
            }

            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, Preface.Length);
            var start = new byte[length];
            buffer.Slice(0, length).CopyTo(start);
            var matches = start.AsSpan().SequenceEqual(Preface.AsSpan(0, length));
            var decided = !matches || length == Preface.Length || result.IsCompleted || result.IsCanceled;

            // Examined what was read, consumed nothing: the next read waits for more bytes, or starts from the first.
            input.AdvanceTo(buffer.Start, decided ? buffer.Start : buffer.End);
            if (decided)
            {
                if (matches && length == Preface.Length)
                {
                    var negotiated = new PriorKnowledgeHttp2();
                    connection.Features.Set<ITlsConnectionFeature>(negotiated);
                    connection.Features.Set<ITlsApplicationProtocolFeature>(negotiated);
                }

                break;
            }
        }

        await next(connection).ConfigureAwait(false);
    };

    /// <summary>What Kestrel reads to choose HTTP/2: an application protocol of "h2". There is no certificate.</summary>
    private sealed class PriorKnowledgeHttp2 : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        public ReadOnlyMemory<byte> ApplicationProtocol { get; } = "h2"u8.ToArray();

        public X509Certificate2? ClientCertificate { get; set; }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
