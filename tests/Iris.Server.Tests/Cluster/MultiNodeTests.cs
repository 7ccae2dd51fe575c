using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Core;
using Iris.Server.Tests.Infrastructure;
using Iris.Testing;
using Npgsql;
using SkiaSharp;
using Xunit.Abstractions;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Cluster;

/// <summary>Two <c>iris serve</c> processes on one PostgreSQL database and one blob directory: started together (they migrate once), with the same bootstrap PAT and a 5 s lease.</summary>
public sealed class TwoNodes : IAsyncLifetime
{
    public const string Pat = "cluster0pat00000000000000000000001";
    public const string User = "admin";

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("iris-cluster-");

    public string ConnectionString { get; private set; } = null!;

    public string BlobDir => Path.Combine(_root.FullName, "blobs");

    public ServeProcess A { get; private set; } = null!;

    public ServeProcess B { get; private set; } = null!;

    public static Metadata Auth(string key) => new() { { "authorization", "Key " + key } };

    public async Task InitializeAsync()
    {
        var cluster = await PostgresCluster.SharedAsync();
        ConnectionString = await cluster.CreateDatabaseAsync("multinode");
        Directory.CreateDirectory(BlobDir);
        var started = await Task.WhenAll(StartNodeAsync("a"), StartNodeAsync("b"));
        (A, B) = (started[0], started[1]);
    }

    /// <summary>Replaces node A (after a test killed it) with a fresh process on its data directory.</summary>
    public async Task RestartAAsync()
    {
        await A.DisposeAsync();
        A = await StartNodeAsync("a");
    }

    private Task<ServeProcess> StartNodeAsync(string name)
    {
        var dataDir = Path.Combine(_root.FullName, name);
        Directory.CreateDirectory(dataDir);
        return ServeProcess.StartAsync(dataDir, ["--database", ConnectionString, "--blob-dir", BlobDir], new Dictionary<string, string>
        {
            ["IRIS_BOOTSTRAP_PAT"] = Pat,
            ["IRIS_BOOTSTRAP_USER"] = User,
            ["IRIS_INGEST_LEASE_SECONDS"] = "5",
            ["IRIS_INGEST_RETRY_MS"] = "100",
        });
    }

    public async Task DisposeAsync()
    {
        if (A is not null)
        {
            await A.DisposeAsync();
        }

        if (B is not null)
        {
            await B.DisposeAsync();
        }

        _root.Delete(recursive: true);
    }
}

/// <summary>
/// Several nodes on one PostgreSQL behave as one server: apps, keys and inputs written through node A are usable through
/// node B; a node SIGKILLed mid-ingestion loses and duplicates nothing because the other node finishes its jobs when their
/// leases expire, and the shared blob directory holds exactly the blobs the inputs reference; a key deleted on one node is
/// refused on the other within the change-poll interval (well under a second).
/// </summary>
public sealed class MultiNodeTests(TwoNodes nodes, ITestOutputHelper output) : IClassFixture<TwoNodes>
{
    private static Metadata Pat => TwoNodes.Auth(TwoNodes.Pat);

    private static UserAppIDSet App(string appId) => new() { UserId = TwoNodes.User, AppId = appId };

    /// <summary>A 48×48 PNG of one colour per <paramref name="n"/> (n &lt; 256), so every image has its own content hash.</summary>
    private static byte[] SmallImage(int n)
    {
        using var bitmap = new SKBitmap(48, 48);
        bitmap.Erase(new SKColor((byte)n, (byte)(255 - n), (byte)(n * 7 % 256)));
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static async Task CreateAppAsync(ServeProcess node, string appId)
    {
        var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        request.Apps.Add(new App { Id = appId });
        var response = await node.Grpc.PostAppsAsync(request, Pat);
        Assert.Equal(StatusCode.Success, response.Status.Code);
    }

    private static async Task<string> CreateKeyAsync(ServeProcess node, string appId)
    {
        var request = new PostKeysRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        request.Keys.Add(new Key { Description = "cluster test", Scopes = { "All" }, Apps = { new App { Id = appId, UserId = TwoNodes.User } } });
        var response = await node.Grpc.PostKeysAsync(request, Pat);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return response.Keys.Single().Id;
    }

    private static async Task<InputCount> CountsAsync(ServeProcess node, string appId) =>
        (await node.Grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = App(appId) }, Pat)).Counts;

    private static async Task WaitProcessedAsync(ServeProcess node, string appId, int expected, TimeSpan bound)
    {
        var deadline = Stopwatch.StartNew();
        InputCount counts;
        while ((counts = await CountsAsync(node, appId)).Processed + counts.Errors < expected || counts.ToProcess + counts.Processing > 0)
        {
            Assert.True(deadline.Elapsed < bound, $"after {bound}: {counts}");
            await Task.Delay(50);
        }

        Assert.Equal((uint)expected, counts.Processed);
        Assert.Equal(0u, counts.Errors);
    }

    [Fact]
    public async Task An_app_and_a_key_created_on_one_node_work_on_the_other()
    {
        await CreateAppAsync(nodes.A, "made-on-a");
        var key = await CreateKeyAsync(nodes.A, "made-on-a");

        // The key names its app: GetApp without ids answers that app, on the node that did not create it.
        var app = await nodes.B.Grpc.GetAppAsync(new GetAppRequest(), TwoNodes.Auth(key));
        Assert.Equal(StatusCode.Success, app.Status.Code);
        Assert.Equal("made-on-a", app.App.Id);

        var listed = await nodes.B.Grpc.ListAppsAsync(new ListAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } }, Pat);
        Assert.Contains(listed.Apps, a => a.Id == "made-on-a");

        var post = new PostInputsRequest { Inputs = { new Input { Id = "via-key", Data = new Data { Text = new Text { Raw = "written on B with a key made on A" } } } } };
        var posted = await nodes.B.Grpc.PostInputsAsync(post, TwoNodes.Auth(key));
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        var read = await nodes.A.Grpc.GetInputAsync(new GetInputRequest { InputId = "via-key" }, TwoNodes.Auth(key));
        Assert.Equal(StatusCode.Success, read.Status.Code);
        Assert.Equal("via-key", read.Input.Id);
    }

    [Fact]
    public async Task Inputs_posted_on_one_node_are_read_with_their_hosted_bytes_on_the_other()
    {
        await CreateAppAsync(nodes.A, "shared-inputs");
        var images = Enumerable.Range(200, 3).ToDictionary(n => "img" + n.ToString(CultureInfo.InvariantCulture), SmallImage);
        var post = new PostInputsRequest { UserAppId = App("shared-inputs") };
        post.Inputs.Add(images.Select(p => new Input { Id = p.Key, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(p.Value) } } }));
        Assert.Equal(StatusCode.Success, (await nodes.A.Grpc.PostInputsAsync(post, Pat)).Status.Code);
        await WaitProcessedAsync(nodes.B, "shared-inputs", images.Count, TimeSpan.FromSeconds(60));

        foreach (var (id, bytes) in images)
        {
            var got = await nodes.B.Grpc.GetInputAsync(new GetInputRequest { UserAppId = App("shared-inputs"), InputId = id }, Pat);
            Assert.Equal(StatusCode.Success, got.Status.Code);
            Assert.Equal(StatusCode.InputSuccess, got.Input.Status.Code);
            var hosted = got.Input.Data.Image.Hosted;
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), hosted.Suffix);

            // The hosted URL names the node that answered; the same path on the other node serves the same bytes.
            var path = new Uri(hosted.Prefix).AbsolutePath;
            foreach (var node in new[] { nodes.A, nodes.B })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"{path}/orig/{hosted.Suffix}");
                request.Headers.Authorization = new AuthenticationHeaderValue("Key", TwoNodes.Pat);
                using var response = await node.Http.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());

                using var thumb = new HttpRequestMessage(HttpMethod.Get, $"{path}/small/{hosted.Suffix}");
                thumb.Headers.Authorization = new AuthenticationHeaderValue("Key", TwoNodes.Pat);
                using var small = await node.Http.SendAsync(thumb);
                Assert.Equal(HttpStatusCode.OK, small.StatusCode);
                Assert.Equal("image/jpeg", small.Content.Headers.ContentType?.MediaType);
            }
        }
    }

    [Fact]
    public async Task A_key_deleted_on_one_node_is_refused_on_the_other_within_a_second()
    {
        await CreateAppAsync(nodes.B, "key-deletion");
        var key = await CreateKeyAsync(nodes.B, "key-deletion");

        // Used on A first, so A has it in its read cache.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(StatusCode.Success, (await nodes.A.Grpc.GetAppAsync(new GetAppRequest(), TwoNodes.Auth(key))).Status.Code);
        }

        var deleted = await nodes.B.Grpc.DeleteKeyAsync(new DeleteKeyRequest { UserAppId = new UserAppIDSet { UserId = "me" }, KeyId = key }, Pat);
        Assert.Equal(StatusCode.Success, deleted.Status.Code);
        var since = Stopwatch.StartNew();
        StatusCode code;
        while ((code = (await nodes.A.Grpc.GetAppAsync(new GetAppRequest(), TwoNodes.Auth(key))).Status.Code) == StatusCode.Success)
        {
            Assert.True(since.Elapsed < TimeSpan.FromSeconds(3), "node A still accepts the key deleted on node B after 3 s");
            await Task.Delay(10);
        }

        var refusedAfter = since.Elapsed;
        Assert.Equal(StatusCode.ConnKeyNotFound, code);
        output.WriteLine($"refused on A {refusedAfter.TotalMilliseconds:F0} ms after DeleteKey returned on B");
        Assert.True(refusedAfter < TimeSpan.FromSeconds(1.5), $"node A refused the deleted key only after {refusedAfter.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Killing_a_node_mid_ingestion_loses_and_duplicates_nothing()
    {
        const string AppId = "kill-a";
        await CreateAppAsync(nodes.A, AppId);
        var images = Enumerable.Range(0, 100).ToDictionary(n => "k" + n.ToString("000", CultureInfo.InvariantCulture), SmallImage);
        var post = new PostInputsRequest { UserAppId = App(AppId) };
        post.Inputs.Add(images.Select(p => new Input { Id = p.Key, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(p.Value) } } }));
        var posted = await nodes.A.Grpc.PostInputsAsync(post, Pat);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        Assert.All(posted.Inputs, i => Assert.Equal(StatusCode.InputPending, i.Status.Code));

        // Kill A once it has finished some inputs and holds leases on others.
        await using var db = NpgsqlDataSource.Create(nodes.ConnectionString);
        var ownerPattern = $"%:{nodes.A.Process.Id.ToString(CultureInfo.InvariantCulture)}:%";
        var deadline = Stopwatch.StartNew();
        long heldByA;
        while (true)
        {
            heldByA = await ScalarAsync(db, "SELECT COUNT(*) FROM work_queue WHERE kind = 'ingest' AND lease_owner LIKE @owner AND lease_until > @now;",
                ("owner", ownerPattern), ("now", (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks / 10));
            var counts = await CountsAsync(nodes.B, AppId);
            if (heldByA > 0 && counts.Processed >= 5)
            {
                break;
            }

            Assert.True(counts.Processed < 100, "everything was processed before node A held a lease; the test proves nothing");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "node A never started ingesting");
            await Task.Delay(10);
        }

        await nodes.A.KillAsync();
        try
        {
            var left = await CountsAsync(nodes.B, AppId);
            Assert.True(left.ToProcess + left.Processing > 0, "everything was processed before the kill; the test proves nothing");
            output.WriteLine($"killed A holding {heldByA} leases; {left.Processed} processed, {left.ToProcess + left.Processing} left at the kill");

            // B takes A's jobs when their 5 s leases expire.
            await WaitProcessedAsync(nodes.B, AppId, 100, TimeSpan.FromSeconds(90));
            var listed = await nodes.B.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = App(AppId), PerPage = 1000 }, Pat);
            Assert.Equal(StatusCode.Success, listed.Status.Code);
            Assert.Equal(images.Keys.Order(StringComparer.Ordinal), listed.Inputs.Select(i => i.Id).Order(StringComparer.Ordinal));
            foreach (var input in listed.Inputs)
            {
                Assert.True(input.Status.Code == StatusCode.InputSuccess, $"{input.Id}: {input.Status.Code} {input.Status.Details}");
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(images[input.Id])), input.Data.Image.Hosted.Suffix);
            }

            Assert.Equal(100L, await ScalarAsync(db, "SELECT COUNT(*) FROM inputs WHERE user_id = @u AND app_id = @a;", ("u", TwoNodes.User), ("a", AppId)));
            Assert.Equal(100L, await ScalarAsync(db, "SELECT COUNT(*) FROM inference_input_embeddings WHERE user_id = @u AND app_id = @a;", ("u", TwoNodes.User), ("a", AppId)));

            // Deleting inputs through B removes their blob files (purge jobs, any node).
            var doomed = images.Keys.Take(10).ToList();
            var delete = new DeleteInputsRequest { UserAppId = App(AppId) };
            delete.Ids.Add(doomed);
            Assert.Equal(StatusCode.Success, (await nodes.B.Grpc.DeleteInputsAsync(delete, Pat)).Status.Code);
            deadline.Restart();
            // App jobs only: the periodic cluster jobs (user_id '', e.g. change-log pruning) stay queued by design.
            while (await ScalarAsync(db, "SELECT COUNT(*) FROM work_queue WHERE user_id <> '';") > 0)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "purge jobs did not finish");
                await Task.Delay(50);
            }

            Assert.Equal(90L, await ScalarAsync(db, "SELECT COUNT(*) FROM inputs WHERE user_id = @u AND app_id = @a;", ("u", TwoNodes.User), ("a", AppId)));

            // The shared directory holds exactly the blobs rows reference (a killed writer's .tmp files aside), each intact.
            var referenced = new HashSet<string>(StringComparer.Ordinal);
            await using (var command = db.CreateCommand("SELECT source_blob, blob_key, thumb_key FROM inputs;"))
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
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

            var files = Directory.EnumerateFiles(nodes.BlobDir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).ToList();
            foreach (var file in files)
            {
                Assert.Equal(Path.GetFileName(file), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file))));
            }

            Assert.Equal(referenced.Order(StringComparer.Ordinal), files.Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (var id in doomed)
            {
                Assert.DoesNotContain(Convert.ToHexStringLower(SHA256.HashData(images[id])), files.Select(Path.GetFileName));
            }
        }
        finally
        {
            await nodes.RestartAAsync();
        }
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = db.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
