using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Hardening;

/// <summary>
/// Large bodies from callers without credentials cost the server no memory: it answers from the headers and never
/// buffers the body (issue 16: a 120 MB unauthenticated request used to cost ~0.9 GB of resident memory). The server
/// runs in this process, so the bodies are generated on the fly and the process' resident memory is the measure — which
/// is why this class runs alone (<see cref="AloneCollection"/>): other classes' servers growing at the same time (loading
/// models, say) would be counted as this server's.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class UnauthenticatedMemoryTests(IrisFixture iris) : IClassFixture<IrisFixture>
{
    private const long BodyBytes = 100L * 1024 * 1024;
    private const int Concurrent = 4;

    /// <summary>Growth allowed over the run: buffering the bodies would need at least 4 × 100 MB.</summary>
    private const long MaxGrowthBytes = 150L * 1024 * 1024;

    [Fact]
    public async Task Unauthenticated_large_bodies_leave_resident_memory_bounded()
    {
        using var process = Process.GetCurrentProcess();
        var grpcMessage = new byte[4 * 1024 * 1024];
        GC.Collect();
        GC.WaitForPendingFinalizers();
        process.Refresh();
        var before = process.WorkingSet64;
        long peak = before;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                process.Refresh();
                peak = Math.Max(peak, process.WorkingSet64);
                await Task.Delay(20, CancellationToken.None);
            }
        });

        var rest = Enumerable.Range(0, Concurrent).Select(async _ =>
        {
            using var http = new HttpClient { BaseAddress = iris.Http.BaseAddress };
            var request = new HttpRequestMessage(HttpMethod.Post, "/v2/users/me/apps/main/inputs") { Content = new StreamContent(new GeneratedStream(BodyBytes)) };
            request.Content.Headers.ContentLength = BodyBytes;
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("Authorization", "Key 0123456789abcdef0123456789abcdef");
            try
            {
                var (status, body, _) = await Json.SendAsync(http, request);
                Assert.Equal(HttpStatusCode.Unauthorized, status);
                Assert.Equal(11009, body.Code());
            }
            catch (HttpRequestException)
            {
                // The server may close the connection after answering rather than drain 100 MB; either way it did not buffer it.
            }
        });

        // gRPC: the same, one 4 MiB message at a time on many calls (a gRPC message is bounded by the message limit).
        var grpc = Enumerable.Range(0, Concurrent).Select(async _ =>
        {
            var method = new Method<byte[], byte[]>(MethodType.Unary, "clarifai.api.V2", "PostInputs", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
            for (var i = 0; i < 10; i++)
            {
                var response = await iris.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(new Metadata()), grpcMessage);
                Assert.Equal(Clarifai.Api.Status.StatusCode.ConnInvalidRequest, Clarifai.Api.MultiInputResponse.Parser.ParseFrom(response).Status.Code);
            }
        });

        await Task.WhenAll(rest.Concat(grpc));
        await sampling.CancelAsync();
        await sampler;

        Assert.True(peak - before < MaxGrowthBytes,
            $"Resident memory grew by {(peak - before) / (1024 * 1024)} MB while refusing unauthenticated bodies (limit {MaxGrowthBytes / (1024 * 1024)} MB).");
        Assert.Empty(iris.Logs.Errors);
    }

    /// <summary>A read-only stream of <paramref name="length"/> bytes of JSON-looking filler, made as it is read.</summary>
    private sealed class GeneratedStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            buffer[..n].Fill((byte)' ');
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Test classes that measure the whole process and so must not run beside any other class.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "Runs alone";
}
