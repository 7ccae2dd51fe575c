using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Iris.Core.Fetching;
using Iris.Imaging;
using Iris.Inference;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;
using Iris.Server.Hosting;
using Iris.Server.Inputs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SkiaSharp;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Task = System.Threading.Tasks.Task;

namespace Iris.Bench;

/// <summary>
/// Issue 16's ingestion benchmark, in one run of one in-process server (real gRPC, SQLite, the base workflow on the
/// built-in models): (1) ingestion inputs/s by base64 beside the same two models' batched throughput on the same decoded
/// photos, called straight on the engine by as many concurrent callers as Iris has download slots; (2) time-to-processed
/// of a small input in one app, one probe after another, while another app ingests many URLs that a loopback server
/// trickles out.
/// </summary>
internal static class FairnessBench
{
    private const string Pat = "bench0pat0000000000000000000000001";
    private const string Heading = "## Ingestion under mixed load (issue 16)";

    public static async Task RunAsync(string root, string outPath, int images, int slowUrls, int probes)
    {
        var nodeModules = Path.Combine(root, "node_modules");
        byte[][] photos =
        [
            File.ReadAllBytes(Path.Combine(nodeModules, "clarifai-nodejs-grpc/tests/assets/metro-north.jpg")),
            .. new[] { "samples.jpg", "screenshot-facedetect.jpg", "screenshot-faceid.jpg", "screenshot-vrm.jpg" }
                .Select(n => File.ReadAllBytes(Path.Combine(nodeModules, "@vladmandic/human/assets", n))),
        ];
        var ingestion = new IngestionOptions();
        var inference = new InferenceOptions
        {
            PackagesDir = nodeModules,
            ModelsDir = Environment.GetEnvironmentVariable("IRIS_MODELS_DIR") ?? Path.Combine(Path.GetTempPath(), "iris-test-models"),
        };

        // Each slow URL sends the photo in 20 pieces 250 ms apart: 5 s per download, all of them from one host.
        await using var trickle = await StartTrickleAsync(photos[0], pieces: 20, TimeSpan.FromMilliseconds(250));

        var dataDir = Directory.CreateTempSubdirectory("iris-fair-bench-");
        var server = IrisServer.Create(
            new IrisServerOptions { DataDir = dataDir.FullName, HttpPort = 0, GrpcPort = 0, BootstrapPat = Pat },
            logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole(),
            services => services.AddSingleton(ingestion).AddSingleton(inference)
                .AddSingleton(new UrlFetcherOptions { AllowedNetworks = [IPNetwork.Parse("127.0.0.1/32")] }));
        await server.StartAsync();
        try
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}", new GrpcChannelOptions { MaxSendMessageSize = 256 << 20 });
            var grpc = new V2.V2Client(channel);
            var auth = new Metadata { { "authorization", "Key " + Pat } };
            foreach (var app in new[] { "warm", "throughput", "slow", "fast" })
            {
                var create = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
                create.Apps.Add(new App { Id = app });
                await grpc.PostAppsAsync(create, auth);
            }

            // Distinct bytes per input (two bytes after the JPEG end marker) so content addressing does not dedupe.
            Input Photo(string prefix, int n) =>
                new() { Id = prefix + n, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom([.. photos[n % photos.Length], (byte)n, (byte)(n >> 8)]) } } };

            // Warm-up: loads both networks.
            await IngestAsync(grpc, auth, "warm", 8, n => Photo("w", n));

            var engine = server.Services.GetRequiredService<InferenceEngine>();
            var zoo = server.Services.GetRequiredService<ModelZoo>();
            var decoded = photos.Select(p => ImageDecoder.TryDecode(p, out ImageError _)!).ToArray();
            var modelRate = await ModelsRateAsync(engine, zoo, decoded, images, ingestion.Downloads);
            var ingestRate = images / await IngestAsync(grpc, auth, "throughput", images, n => Photo("t", n));
            modelRate = Math.Max(modelRate, await ModelsRateAsync(engine, zoo, decoded, images, ingestion.Downloads));

            // Mixed load: the slow app's URLs first, then one small input at a time in the fast app.
            var slowApp = new UserAppIDSet { UserId = "me", AppId = "slow" };
            for (var start = 0; start < slowUrls; start += 128)
            {
                var request = new PostInputsRequest { UserAppId = slowApp };
                request.Inputs.Add(Enumerable.Range(start, Math.Min(128, slowUrls - start)).Select(n =>
                    new Input { Id = "s" + n, Data = new Data { Image = new Image { Url = $"{trickle.BaseUrl}/s{n}.jpg" } } }));
                await grpc.PostInputsAsync(request, auth);
            }

            var fastApp = new UserAppIDSet { UserId = "me", AppId = "fast" };
            var latencies = new List<double>();
            var window = Stopwatch.StartNew();
            for (var i = 0; i < probes; i++)
            {
                var request = new PostInputsRequest { UserAppId = fastApp };
                request.Inputs.Add(new Input { Id = "f" + i, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(SmallJpeg(i)) } } });
                var clock = Stopwatch.StartNew();
                await grpc.PostInputsAsync(request, auth);
                while (true)
                {
                    var input = (await grpc.GetInputAsync(new GetInputRequest { UserAppId = fastApp, InputId = "f" + i }, auth)).Input;
                    if (input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress))
                    {
                        if (input.Status.Code != StatusCode.InputSuccess)
                        {
                            throw new InvalidOperationException($"probe f{i}: {input.Status.Code} {input.Status.Details}");
                        }

                        break;
                    }

                    await Task.Delay(10);
                }

                latencies.Add(clock.Elapsed.TotalMilliseconds);
                await Task.Delay(100);
            }

            window.Stop();
            var slowCounts = (await grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = slowApp }, auth)).Counts;
            latencies.Sort();
            double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];

            var report = new StringBuilder();
            report.AppendLine(Heading);
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}. One run; Iris in-process over real gRPC and SQLite (WAL), defaults: {ingestion.Downloads} ingest slots (`IRIS_INGEST_DOWNLOADS`), {ingestion.EffectiveDownloadsPerApp} per app, {ingestion.Workers} decoding workers (`IRIS_INGEST_WORKERS`), the base workflow (general embedding + general concepts) on every image.");
            report.AppendLine();
            report.AppendLine("Produced by `dotnet run -c Release --project bench/Iris.Bench.Ingestion -- fairness`.");
            report.AppendLine();
            report.AppendLine("### Throughput with the base workflow");
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"Iris: time from the first PostInputs (base64, batches of 128, the five fixture photos cycled) until GetInputCount shows all {images} processed. Models: the same two models' `PredictAsync` on the same photos, decoded once beforehand, from {ingestion.Downloads} concurrent callers so the engine batches them; best of a run before and after Iris'. Goal ≥ 0.8.");
            report.AppendLine();
            report.AppendLine("| n | Iris inputs/s | models images/s | Iris / models |");
            report.AppendLine("|---:|---:|---:|---:|");
            report.AppendLine(CultureInfo.InvariantCulture, $"| {images} | {ingestRate:F1} | {modelRate:F1} | {ingestRate / modelRate:F2} |");
            report.AppendLine();
            report.AppendLine("### A small input while another app ingests slow URLs");
            report.AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"App `slow` posts {slowUrls:N0} URLs served by a loopback server that sends each photo in 20 pieces 250 ms apart (5 s per download; at most `IRIS_INGEST_PER_HOST` = 4 at once from that host, the other jobs of the app waiting for the host). Meanwhile app `fast` posts a 48×32 JPEG by base64, waits until GetInput shows 30000 (polling every 10 ms), pauses 100 ms, and repeats, {probes} times. Goal: p99 ≤ 5 s.");
            report.AppendLine();
            report.AppendLine("| probes | p50 ms | p99 ms | max ms | slow app processed during the probes |");
            report.AppendLine("|---:|---:|---:|---:|---:|");
            report.AppendLine(CultureInfo.InvariantCulture, $"| {probes} | {Percentile(0.5):F0} | {Percentile(0.99):F0} | {latencies[^1]:F0} | {slowCounts.Processed} of {slowUrls:N0} in {window.Elapsed.TotalSeconds:F0} s |");
            BenchmarkDoc.WriteSection(outPath, Heading, report.ToString());
            Console.WriteLine(report);
        }
        finally
        {
            await server.StopAsync();
            await server.DisposeAsync();
            dataDir.Delete(recursive: true);
        }
    }

    /// <summary>Seconds from the first PostInputs until every input of the app is processed.</summary>
    private static async Task<double> IngestAsync(V2.V2Client grpc, Metadata auth, string appId, int count, Func<int, Input> make)
    {
        var app = new UserAppIDSet { UserId = "me", AppId = appId };
        var watch = Stopwatch.StartNew();
        for (var start = 0; start < count; start += 128)
        {
            var request = new PostInputsRequest { UserAppId = app };
            request.Inputs.Add(Enumerable.Range(start, Math.Min(128, count - start)).Select(make));
            var response = await grpc.PostInputsAsync(request, auth);
            if (response.Status.Code != StatusCode.Success)
            {
                throw new InvalidOperationException($"PostInputs: {response.Status.Code} {response.Status.Details}");
            }
        }

        while (true)
        {
            var counts = (await grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = app }, auth)).Counts;
            if (counts.Errors > 0)
            {
                throw new InvalidOperationException($"{counts.Errors} inputs failed");
            }

            if (counts.Processed == (uint)count)
            {
                return watch.Elapsed.TotalSeconds;
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Images/s of the base workflow's two models on decoded photos, <paramref name="callers"/> at once.</summary>
    private static async Task<double> ModelsRateAsync(InferenceEngine engine, ModelZoo zoo, DecodedImage[] decoded, int count, int callers)
    {
        var embedder = zoo.Find(GeneralEmbeddingModel.Id)!;
        var recognizer = zoo.Find(GeneralRecognitionModel.Id)!;
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = callers }, async (n, ct) =>
        {
            var image = decoded[n % decoded.Length];
            var embedding = embedder.PredictAsync(image, engine, ct);
            var concepts = recognizer.PredictAsync(image, engine, ct);
            await embedding;
            await concepts;
        });
        return count / watch.Elapsed.TotalSeconds;
    }

    private static byte[] SmallJpeg(int n)
    {
        using var bitmap = new SKBitmap(48, 32);
        bitmap.Erase(new SKColor((byte)n, (byte)(n >> 8), 90));
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    private sealed class Trickle(WebApplication app, string baseUrl) : IAsyncDisposable
    {
        public string BaseUrl => baseUrl;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task<Trickle> StartTrickleAsync(byte[] photo, int pieces, TimeSpan gap)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MinResponseDataRate = null;
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(async http =>
        {
            http.Response.ContentType = "image/jpeg";
            http.Response.ContentLength = photo.Length;
            var piece = (photo.Length + pieces - 1) / pieces;
            for (var offset = 0; offset < photo.Length; offset += piece)
            {
                await http.Response.Body.WriteAsync(photo.AsMemory(offset, Math.Min(piece, photo.Length - offset)), http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
                if (offset + piece < photo.Length)
                {
                    await Task.Delay(gap, http.RequestAborted);
                }
            }
        });
        await app.StartAsync();
        return new Trickle(app, app.Urls.First().TrimEnd('/'));
    }
}
