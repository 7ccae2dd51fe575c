using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Net.Client;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// Durability of ingestion: 500 inputs are accepted by an <c>iris serve</c> process, which is killed with SIGKILL while
/// it processes them; after a restart on the same data directory every accepted input ends at 30000 or a failure
/// status, none is lost or duplicated, and the blob store holds exactly the blobs the inputs reference, each intact.
/// </summary>
public sealed partial class NothingLostTests : IAsyncLifetime
{
    private const string Pat = "killtest0pat00000000000000000001";
    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("iris-kill-");
    private FixtureWebServer _web = null!;

    public async Task InitializeAsync() => _web = await FixtureWebServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _web.DisposeAsync();
        _dataDir.Delete(recursive: true);
    }

    [GeneratedRegex(@"REST on http://([^:]+):(\d+) and gRPC on [^:]+:(\d+)")]
    private static partial Regex ServingLine();

    private sealed record ServerProcess(Process Process, V2.V2Client Grpc, GrpcChannel Channel);

    private async Task<ServerProcess> StartAsync()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0/
        var dll = Path.Combine(RepoRoot.Path, "src/Iris.Cli/bin", configuration, "net10.0/iris.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build src/Iris.Cli first.");
        var start = new ProcessStartInfo("dotnet", ["exec", dll, "serve", "--data-dir", _dataDir.FullName, "--http-port", "0", "--grpc-port", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["IRIS_BOOTSTRAP_PAT"] = Pat;
        start.Environment["IRIS_INGEST_ALLOW_PRIVATE_URLS"] = "1";
        start.Environment["IRIS_INGEST_LEASE_SECONDS"] = "3";
        start.Environment["IRIS_INGEST_RETRY_MS"] = "100";
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("iris serve exited before serving");
            var match = ServingLine().Match(line);
            if (match.Success)
            {
                // Keep draining stdout so the child never blocks on a full pipe.
                _ = Task.Run(async () =>
                {
                    while (await process.StandardOutput.ReadLineAsync() is not null)
                    {
                    }
                });
                var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{match.Groups[3].Value}", new GrpcChannelOptions { MaxSendMessageSize = 256 << 20, MaxReceiveMessageSize = 256 << 20 });
                return new ServerProcess(process, new V2.V2Client(channel), channel);
            }
        }
    }

    private static global::Grpc.Core.Metadata Auth => new() { { "authorization", "Key " + Pat } };

    private static UserAppIDSet App => new() { UserId = "me", AppId = "durable" };

    private static async Task<InputCount> CountsAsync(V2.V2Client grpc) =>
        (await grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = App }, Auth)).Counts;

    [Fact]
    public async Task Killing_the_server_mid_ingestion_loses_and_duplicates_nothing()
    {
        // 400 uploads (every 10th a truncated JPEG) and 100 slow URL downloads, in batches of 100.
        var expected = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
        var first = await StartAsync();
        try
        {
            var app = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
            app.Apps.Add(new App { Id = App.AppId });
            Assert.Equal(StatusCode.Success, (await first.Grpc.PostAppsAsync(app, Auth)).Status.Code);
            for (var batch = 0; batch < 5; batch++)
            {
                var request = new PostInputsRequest { UserAppId = App };
                for (var k = 0; k < 100; k++)
                {
                    var n = (batch * 100) + k;
                    var id = "n" + n.ToString("000", System.Globalization.CultureInfo.InvariantCulture);
                    var photo = FixtureImages.Photos[n % FixtureImages.Photos.Count];
                    if (batch == 2)
                    {
                        request.Inputs.Add(new Input { Id = id, Data = new Data { Image = new Image { Url = $"{_web.BaseUrl}/photo/{n}.jpg?slow=1", AllowDuplicateUrl = true } } });
                        expected[id] = photo;
                    }
                    else
                    {
                        var bytes = n % 10 == 0 ? FixtureImages.Truncated : photo;
                        request.Inputs.Add(new Input { Id = id, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(bytes) } } });
                        expected[id] = n % 10 == 0 ? null : photo;
                    }
                }

                var response = await first.Grpc.PostInputsAsync(request, Auth);
                Assert.Equal(StatusCode.Success, response.Status.Code);
                Assert.All(response.Inputs, i => Assert.Equal(StatusCode.InputPending, i.Status.Code));
            }

            // Kill once processing is under way but not finished.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            InputCount counts;
            while ((counts = await CountsAsync(first.Grpc)).Processed + counts.Errors < 60)
            {
                Assert.True(DateTime.UtcNow < deadline, "ingestion did not start");
                await Task.Delay(20);
            }

            first.Process.Kill(entireProcessTree: true); // SIGKILL
            await first.Process.WaitForExitAsync();
            Assert.True(counts.ToProcess + counts.Processing > 0, "everything was processed before the kill; the test proves nothing");
        }
        finally
        {
            first.Channel.Dispose();
            if (!first.Process.HasExited)
            {
                first.Process.Kill(entireProcessTree: true);
            }
        }

        var second = await StartAsync();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(240);
            InputCount counts;
            while ((counts = await CountsAsync(second.Grpc)).ToProcess + counts.Processing > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"still {counts.ToProcess} pending and {counts.Processing} in progress after restart");
                await Task.Delay(100);
            }

            var listed = await second.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = App, PerPage = 1000 }, Auth);
            Assert.Equal(500, listed.Inputs.Count);
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), listed.Inputs.Select(i => i.Id).Order(StringComparer.Ordinal));
            foreach (var input in listed.Inputs)
            {
                if (expected[input.Id] is { } bytes)
                {
                    Assert.True(input.Status.Code == StatusCode.InputSuccess, $"{input.Id}: {input.Status.Code} {input.Status.Details}");
                    Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), input.Data.Image.Hosted.Suffix);
                }
                else
                {
                    Assert.Equal(StatusCode.InputFailed, input.Status.Code);
                    Assert.Contains("corrupt or truncated", input.Status.Details, StringComparison.Ordinal);
                }
            }
        }
        finally
        {
            second.Process.Kill(entireProcessTree: true);
            await second.Process.WaitForExitAsync();
            second.Channel.Dispose();
        }

        // Blobs: exactly the referenced ones (partial writes of the killed process aside), each intact.
        var files = Directory.EnumerateFiles(Path.Combine(_dataDir.FullName, "blobs"), "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).ToList();
        foreach (var file in files)
        {
            Assert.Equal(Path.GetFileName(file), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))));
        }

        var referenced = new HashSet<string>(StringComparer.Ordinal);
        using (var db = new SqliteConnection($"Data Source={Path.Combine(_dataDir.FullName, "iris.db")};Mode=ReadOnly;Pooling=False"))
        {
            db.Open();
            using var command = db.CreateCommand();
            command.CommandText = "SELECT source_blob, blob_key, thumb_key FROM inputs; ";
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    for (var c = 0; c < 3; c++)
                    {
                        if (!reader.IsDBNull(c))
                        {
                            referenced.Add(reader.GetString(c));
                        }
                    }
                }
            }

            using var queue = db.CreateCommand();
            // App jobs only: the periodic cluster jobs (user_id '', e.g. change-log pruning) stay queued by design.
            queue.CommandText = "SELECT COUNT(*) FROM work_queue WHERE user_id <> '';";
            Assert.Equal(0L, (long)queue.ExecuteScalar()!);
        }

        Assert.Equal(referenced.Order(StringComparer.Ordinal), files.Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
