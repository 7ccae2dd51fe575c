using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Iris.Server.Hosting;
using Iris.Server.Inputs;
using Iris.Server.Tests.Infrastructure;
using Iris.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SkiaSharp;
using Xunit.Abstractions;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Cluster;

/// <summary>
/// PostgreSQL stopped for 10 s under load and started again (seed 2019-09-11, "Scheduled Database Downtime"): no request
/// hangs, every error is the retryable 10030 TRY_AGAIN (HTTP 503 with the status envelope over REST, the status body over
/// gRPC), nothing acknowledged is lost, and every input posted before or after the outage is processed once it is over.
/// </summary>
public sealed class DatabaseDowntimeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Pat = "downtime0pat000000000000000000001";
    private const string User = "admin";
    private const string AppId = "downtime";

    // Each call's client deadline: far above a healthy call, far below a hang (Npgsql's connect timeout is 5 s).
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("iris-downtime-");
    private readonly CapturedLogs _logs = new();
    private PostgresCluster _cluster = null!;
    private IrisServer _server = null!;
    private GrpcChannel _channel = null!;
    private V2.V2Client _grpc = null!;
    private HttpClient _http = null!;

    private static Metadata Auth => new() { { "authorization", "Key " + Pat } };

    private static UserAppIDSet App => new() { UserId = User, AppId = AppId };

    /// <summary>One call's outcome: which client, when it ended (relative to the scenario start), its status, and whether it failed at the transport.</summary>
    private sealed record Call(string Client, TimeSpan EndedAt, TimeSpan Took, StatusCode Code, string? Failure);

    public async Task InitializeAsync()
    {
        _cluster = await PostgresCluster.StartNewAsync();
        var database = await _cluster.CreateDatabaseAsync("downtime");
        _server = IrisServer.Create(
            new IrisServerOptions { DataDir = _dataDir.FullName, DatabaseUrl = database, HttpPort = 0, GrpcPort = 0, BootstrapPat = Pat, BootstrapUser = User },
            logging => logging.AddProvider(_logs),
            services => services.AddSingleton(new IngestionOptions { LeaseSeconds = 3, RetryBaseMs = 100 }));
        await _server.StartAsync();
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_server.GrpcPort}", new GrpcChannelOptions { MaxSendMessageSize = 64 << 20, MaxReceiveMessageSize = 64 << 20 });
        _grpc = new V2.V2Client(_channel);
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.HttpPort}"), Timeout = Deadline };
        _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Key", Pat);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        _channel.Dispose();
        await _server.StopAsync();
        await _server.DisposeAsync();
        _cluster.Stop();
        _dataDir.Delete(recursive: true);
    }

    /// <summary>A 32×32 PNG whose colour encodes <paramref name="n"/>, so every posted image is distinct.</summary>
    private static byte[] Image(int n)
    {
        using var bitmap = new SKBitmap(32, 32);
        bitmap.Erase(new SKColor((byte)n, (byte)(n >> 8), (byte)(n >> 16)));
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    [Fact]
    public async Task Stopping_PostgreSQL_under_load_answers_try_again_at_once_and_loses_nothing()
    {
        var app = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        app.Apps.Add(new App { Id = AppId });
        Assert.Equal(StatusCode.Success, (await _grpc.PostAppsAsync(app, Auth)).Status.Code);

        var clock = Stopwatch.StartNew();
        var calls = new ConcurrentQueue<Call>();
        var acknowledged = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var attempted = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var next = 0;
        using var stop = new CancellationTokenSource();

        async Task<Call> GrpcCallAsync<T>(string client, Func<CallOptions, AsyncUnaryCall<T>> call, Func<T, Clarifai.Api.Status.Status> status)
        {
            var started = clock.Elapsed;
            try
            {
                var response = await call(new CallOptions(Auth, DateTime.UtcNow + Deadline));
                return new Call(client, clock.Elapsed, clock.Elapsed - started, status(response).Code, null);
            }
            catch (RpcException e)
            {
                return new Call(client, clock.Elapsed, clock.Elapsed - started, 0, $"gRPC {e.StatusCode}: {e.Status.Detail}");
            }
        }

        async Task<Call> RestCallAsync(string client, HttpMethod method, string path, string? json)
        {
            var started = clock.Elapsed;
            try
            {
                using var request = new HttpRequestMessage(method, path);
                if (json is not null)
                {
                    request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
                }

                using var response = await _http.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                using var envelope = JsonDocument.Parse(body);
                var code = (StatusCode)envelope.RootElement.GetProperty("status").GetProperty("code").GetInt32();
                var expectedHttp = code == StatusCode.Success ? HttpStatusCode.OK : code == StatusCode.TryAgain ? HttpStatusCode.ServiceUnavailable : (HttpStatusCode)0;
                var failure = response.StatusCode == expectedHttp ? null : $"REST HTTP {(int)response.StatusCode} with status {code}: {body}";
                return new Call(client, clock.Elapsed, clock.Elapsed - started, code, failure);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
            {
                return new Call(client, clock.Elapsed, clock.Elapsed - started, 0, $"REST {e.GetType().Name}: {e.Message}");
            }
        }

        // One processed image before the load starts: the GetInput clients always have an id to read, and its hosted
        // bytes are fetched throughout (they need the database too: the key and the row naming the blob).
        var seed = new PostInputsRequest { UserAppId = App, Inputs = { new Input { Id = "seed", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(Image(0xFFFFFF)) } } } } };
        Assert.Equal(StatusCode.Success, (await _grpc.PostInputsAsync(seed, Auth)).Status.Code);
        (attempted["seed"], acknowledged["seed"]) = (true, true);
        Input seeded;
        await WaitAsync(() => (seeded = _grpc.GetInput(new GetInputRequest { UserAppId = App, InputId = "seed" }, Auth).Input).Status.Code == StatusCode.InputSuccess,
            TimeSpan.FromSeconds(60), "the seed image was not processed");
        seeded = (await _grpc.GetInputAsync(new GetInputRequest { UserAppId = App, InputId = "seed" }, Auth)).Input;
        var hostedPath = $"{new Uri(seeded.Data.Image.Hosted.Prefix).AbsolutePath}/orig/{seeded.Data.Image.Hosted.Suffix}";

        // A hosted image answers its bytes, or an error envelope like every REST call.
        async Task<Call> HostedAsync(string path)
        {
            var started = clock.Elapsed;
            try
            {
                using var response = await _http.GetAsync(path);
                var body = await response.Content.ReadAsByteArrayAsync();
                if (response.StatusCode == HttpStatusCode.OK && response.Content.Headers.ContentType?.MediaType == "image/png")
                {
                    return new Call("rest hosted image", clock.Elapsed, clock.Elapsed - started, StatusCode.Success, null);
                }

                using var envelope = JsonDocument.Parse(body);
                var code = (StatusCode)envelope.RootElement.GetProperty("status").GetProperty("code").GetInt32();
                var failure = code == StatusCode.TryAgain && response.StatusCode == HttpStatusCode.ServiceUnavailable ? null : $"HTTP {(int)response.StatusCode} with status {code}";
                return new Call("rest hosted image", clock.Elapsed, clock.Elapsed - started, code, failure);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
            {
                return new Call("rest hosted image", clock.Elapsed, clock.Elapsed - started, 0, $"REST {e.GetType().Name}: {e.Message}");
            }
        }

        string RandomAcknowledged(Random random)
        {
            var ids = acknowledged.Keys.ToArray();
            return ids[random.Next(ids.Length)];
        }

        async Task LoopAsync(Func<Random, Task<Call>> one, int seed)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                calls.Enqueue(await one(random));
                await Task.Delay(20, CancellationToken.None);
            }
        }

        var clients = new[]
        {
            LoopAsync(async _ =>
            {
                var ids = Enumerable.Range(0, 2).Select(_ => Interlocked.Increment(ref next)).ToList();
                var request = new PostInputsRequest { UserAppId = App };
                foreach (var n in ids)
                {
                    attempted["g" + n.ToString(CultureInfo.InvariantCulture)] = true;
                    request.Inputs.Add(new Input { Id = "g" + n.ToString(CultureInfo.InvariantCulture), Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(Image(n)) } } });
                }

                var call = await GrpcCallAsync("grpc PostInputs", o => _grpc.PostInputsAsync(request, o), r => r.Status);
                if (call.Code == StatusCode.Success)
                {
                    request.Inputs.ToList().ForEach(i => acknowledged[i.Id] = true);
                }

                return call;
            }, 1),
            LoopAsync(_ => GrpcCallAsync("grpc ListInputs", o => _grpc.ListInputsAsync(new ListInputsRequest { UserAppId = App, PerPage = 50 }, o), r => r.Status), 2),
            LoopAsync(async random =>
            {
                var id = RandomAcknowledged(random);
                return await GrpcCallAsync("grpc GetInput", o => _grpc.GetInputAsync(new GetInputRequest { UserAppId = App, InputId = id }, o), r => r.Status);
            }, 3),
            LoopAsync(async random =>
            {
                var n = Interlocked.Increment(ref next);
                var id = "r" + n.ToString(CultureInfo.InvariantCulture);
                attempted[id] = true;
                var post = await RestCallAsync("rest PostInputs", HttpMethod.Post, $"/v2/users/{User}/apps/{AppId}/inputs",
                    "{\"inputs\":[{\"id\":\"" + id + "\",\"data\":{\"text\":{\"raw\":\"posted during the downtime test\"}}}]}");
                if (post.Code == StatusCode.Success)
                {
                    acknowledged[id] = true;
                }

                calls.Enqueue(post);
                calls.Enqueue(await RestCallAsync("rest ListInputs", HttpMethod.Get, $"/v2/users/{User}/apps/{AppId}/inputs?per_page=50", null));
                var existing = RandomAcknowledged(random);
                calls.Enqueue(await RestCallAsync("rest GetInput", HttpMethod.Get, $"/v2/users/{User}/apps/{AppId}/inputs/{existing}", null));
                return await HostedAsync(hostedPath);
            }, 4),
        };

        try
        {
            // Load before the outage: some inputs acknowledged (and being processed) when the database goes away.
            await WaitAsync(() => acknowledged.Count >= 20, TimeSpan.FromSeconds(30), "no inputs acknowledged before the outage");
            var before = (await _grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = App }, Auth)).Counts;
            Assert.True(before.ToProcess + before.Processing > 0, "ingestion had caught up before the outage; the test would prove less");
            var down = clock.Elapsed;
            await Task.Run(_cluster.StopServer);
            var downFor = Stopwatch.StartNew();
            await Task.Delay(Outage); // the outage itself, not an assertion: load continues throughout
            await Task.Run(_cluster.StartServer);
            var up = clock.Elapsed;
            output.WriteLine($"PostgreSQL stopped at {down.TotalSeconds:F1} s for {downFor.Elapsed.TotalSeconds:F1} s; up again at {up.TotalSeconds:F1} s");

            // Service resumes by itself: every client succeeds again after the restart.
            var clientNames = new[] { "grpc PostInputs", "grpc ListInputs", "grpc GetInput", "rest PostInputs", "rest ListInputs", "rest GetInput", "rest hosted image" };
            await WaitAsync(() => clientNames.All(c => calls.Any(x => x.Client == c && x.EndedAt > up && x.Code == StatusCode.Success && x.Failure is null)),
                TimeSpan.FromSeconds(30), "not every client succeeded again after PostgreSQL came back");
            output.WriteLine($"every client succeeded again by {(clock.Elapsed - up).TotalSeconds:F1} s after the restart");
            var acknowledgedAtRestart = acknowledged.Count;
            await WaitAsync(() => acknowledged.Count >= acknowledgedAtRestart + 20, TimeSpan.FromSeconds(30), "inputs were not acknowledged after the restart");

            await stop.CancelAsync();
            await Task.WhenAll(clients);

            var all = calls.ToArray();
            foreach (var group in all.GroupBy(c => c.Client))
            {
                output.WriteLine($"{group.Key}: {group.Count()} calls, {group.Count(c => c.Code == StatusCode.TryAgain)} answered 10030, slowest {group.Max(c => c.Took.TotalMilliseconds):F0} ms");
            }

            // No call hung or failed at the transport; every error is 10030; each client saw the outage.
            Assert.Empty(all.Where(c => c.Failure is not null).Select(c => $"{c.Client} at {c.EndedAt.TotalSeconds:F1} s: {c.Failure}"));
            Assert.Empty(all.Where(c => c.Code is not (StatusCode.Success or StatusCode.TryAgain)).Select(c => $"{c.Client} at {c.EndedAt.TotalSeconds:F1} s: {c.Code}"));
            Assert.All(clientNames, c => Assert.Contains(all, x => x.Client == c && x.Code == StatusCode.TryAgain && x.EndedAt > down && x.EndedAt < up + TimeSpan.FromSeconds(1)));
            Assert.True(all.Max(c => c.Took) < Deadline, "a call took as long as its deadline");
            Assert.Contains(all, c => c.Client == "grpc PostInputs" && c.Code == StatusCode.Success && c.EndedAt < down);
            Assert.Contains(all, c => c.Client == "grpc PostInputs" && c.Code == StatusCode.Success && c.EndedAt > up);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(clients);
        }

        // Nothing acknowledged is lost, nothing refused was half-stored, and every input is processed (images by the base workflow).
        var deadline = Stopwatch.StartNew();
        InputCount counts;
        while ((counts = (await _grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = App }, Auth)).Counts).ToProcess + counts.Processing > 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"still {counts.ToProcess} to process and {counts.Processing} processing 60 s after the outage");
            await Task.Delay(100);
        }

        var stored = new List<Input>();
        for (uint page = 1; ; page++)
        {
            var listed = await _grpc.ListInputsAsync(new ListInputsRequest { UserAppId = App, Page = page, PerPage = 1000 }, Auth);
            Assert.Equal(StatusCode.Success, listed.Status.Code);
            stored.AddRange(listed.Inputs);
            if (listed.Inputs.Count < 1000)
            {
                break;
            }
        }

        var storedIds = stored.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var lost = acknowledged.Keys.Where(id => !storedIds.Contains(id)).ToList();
        Assert.True(lost.Count == 0, "acknowledged but lost: " + string.Join(", ", lost));
        var unknown = storedIds.Where(id => !attempted.ContainsKey(id)).ToList();
        Assert.True(unknown.Count == 0, "stored but never posted: " + string.Join(", ", unknown));
        Assert.All(stored, i => Assert.True(i.Status.Code == StatusCode.InputSuccess, $"{i.Id}: {i.Status.Code} {i.Status.Details}"));
        output.WriteLine($"{acknowledged.Count} inputs acknowledged, {stored.Count} stored, all 30000");
        Assert.Empty(_logs.Errors);
    }

    private static async Task WaitAsync(Func<bool> condition, TimeSpan bound, string message)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < bound, message);
            await Task.Delay(50);
        }
    }
}
