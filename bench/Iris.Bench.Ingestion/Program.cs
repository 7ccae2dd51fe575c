using Iris.Bench;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Iris.Core.Fetching;
using Iris.Imaging;
using Iris.Server.Hosting;
using Iris.Server.Inputs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SkiaSharp;
using StatusCode = Clarifai.Api.Status.StatusCode;

// Usage: dotnet run -c Release --project bench/Iris.Bench.Ingestion [-- <output.md> [images] [listInputs]]
//    or: dotnet run -c Release --project bench/Iris.Bench.Ingestion -- fairness [<output.md> [images] [slow URLs] [probes]]
//        (issue 16: ingestion with the base workflow beside the models' batched rate; a small input's latency under mixed load)
// One run, one machine: an in-process Iris server (real SQLite, real gRPC) ingests the same photograph by base64 and by
// URL from a local Kestrel, beside the raw rate of the work underneath (decode + thumbnail on as many threads as Iris has
// workers); then ListInputs and StreamInputs latency with 100,000 inputs in one app.
var root = FindRoot();
if (args is ["fairness", ..])
{
    int Arg(int i, int fallback) => args.Length > i ? int.Parse(args[i], CultureInfo.InvariantCulture) : fallback;
    await FairnessBench.RunAsync(root, args.Length > 1 ? Path.GetFullPath(args[1]) : Path.Combine(root, "docs", "benchmarks.md"), Arg(2, 256), Arg(3, 1000), Arg(4, 100));
    return;
}

var outPath = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(root, "docs", "benchmarks.md");
var images = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024;
var listSize = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100_000;
var photo = File.ReadAllBytes(Path.Combine(root, "node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg"));
const string Pat = "bench0pat0000000000000000000000001";
var ingestion = new IngestionOptions();

// Raw: decode + 320-px thumbnail, one loop per worker; measured after a warm-up and again after the Iris runs, best kept.
double RawRate(int count)
{
    var watch = Stopwatch.StartNew();
    var perThread = count / ingestion.Workers;
    Parallel.For(0, ingestion.Workers, worker =>
    {
        for (var i = 0; i < perThread; i++)
        {
            using var image = ImageDecoder.TryDecode(photo, out ImageError _)!;
            using var small = image.Bitmap.Resize(new SKImageInfo(320, 240, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKCubicResampler.Mitchell));
            using var jpeg = small.Encode(SKEncodedImageFormat.Jpeg, 85);
        }
    });
    return perThread * ingestion.Workers / watch.Elapsed.TotalSeconds;
}

RawRate(64);
var rawRate = RawRate(images);

var web = WebApplication.CreateSlimBuilder();
web.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
web.Logging.ClearProviders();
var webApp = web.Build();
webApp.Run(async http =>
{
    http.Response.ContentType = "image/jpeg";
    await http.Response.Body.WriteAsync(photo, http.RequestAborted);
});
await webApp.StartAsync();
var webBase = webApp.Urls.First().TrimEnd('/');

var dataDir = Directory.CreateTempSubdirectory("iris-ingest-bench-");
var server = IrisServer.Create(new IrisServerOptions { DataDir = dataDir.FullName, HttpPort = 0, GrpcPort = 0, BootstrapPat = Pat },
    logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole(), services => services.AddSingleton(ingestion).AddSingleton(new UrlFetcherOptions { AllowPrivateUrls = true }));
await server.StartAsync();
using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}", new GrpcChannelOptions { MaxSendMessageSize = 256 << 20, MaxReceiveMessageSize = 256 << 20 });
var grpc = new V2.V2Client(channel);
var auth = new Metadata { { "authorization", "Key " + Pat } };
var rows = new List<string>();
try
{
    // Distinct bytes per input (one trailing byte after the JPEG end marker) so content addressing does not dedupe.
    var base64Rate = await IngestAsync("bytes", n => new Input { Id = "b" + n, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom([.. photo, (byte)n, (byte)(n >> 8)]) } } });
    var urlRate = await IngestAsync("urls", n => new Input { Id = "u" + n, Data = new Data { Image = new Image { Url = $"{webBase}/p{n}.jpg", AllowDuplicateUrl = true } } });
    rawRate = Math.Max(rawRate, RawRate(images));
    rows.Add($"| base64 upload (metro-north.jpg, 512×384, 71 KB) | {images} | {base64Rate:F1} | {rawRate:F1} | {base64Rate / rawRate:P0} |");
    rows.Add($"| URL from a local HTTP server | {images} | {urlRate:F1} | {rawRate:F1} | {urlRate / rawRate:P0} |");

    // 100,000 inputs in one app, written straight into the store's tables (one transaction) as processed text inputs
    // with an input-level annotation each, then read through the API.
    var app = new UserAppIDSet { UserId = "me", AppId = "list" };
    Seed(Path.Combine(dataDir.FullName, "iris.db"), "admin", "list", listSize);
    var listRows = new List<string>
    {
        await TimeAsync("ListInputs page 1, per_page 128", () => grpc.ListInputsAsync(new ListInputsRequest { UserAppId = app, Page = 1, PerPage = 128 }, auth).ResponseAsync),
        await TimeAsync("ListInputs page 1, per_page 1000", () => grpc.ListInputsAsync(new ListInputsRequest { UserAppId = app, Page = 1, PerPage = 1000 }, auth).ResponseAsync),
        await TimeAsync($"ListInputs page {listSize / 128 / 2}, per_page 128 (middle)", () => grpc.ListInputsAsync(new ListInputsRequest { UserAppId = app, Page = (uint)(listSize / 128 / 2), PerPage = 128 }, auth).ResponseAsync),
        await TimeAsync("ListInputs status 30000, per_page 128", () => grpc.ListInputsAsync(new ListInputsRequest { UserAppId = app, PerPage = 128, Status = new Clarifai.Api.Status.Status { Code = StatusCode.InputSuccess } }, auth).ResponseAsync),
        await TimeAsync("StreamInputs from the middle, per_page 128", () => grpc.StreamInputsAsync(new StreamInputsRequest { UserAppId = app, PerPage = 128, LastId = "s" + (listSize / 2) }, auth).ResponseAsync),
        await TimeAsync("GetInputCount", () => grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = app }, auth).ResponseAsync),
    };

    var report = new StringBuilder();
    report.AppendLine("## Inputs (issue 4)");
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}. One run; Iris in-process over real gRPC and SQLite (WAL), {ingestion.Workers} ingestion workers.");
    report.AppendLine();
    report.AppendLine("Produced by `dotnet run -c Release --project bench/Iris.Bench.Ingestion`.");
    report.AppendLine();
    report.AppendLine("### Ingestion");
    report.AppendLine();
    report.AppendLine("Time from the first PostInputs (batches of 128) until GetInputCount shows every input processed. \"Raw\" is the work underneath, decode + 320-px thumbnail of the same photograph on the same number of threads, without queue, database, blobs or network; the ratio is Iris' share of it.");
    report.AppendLine();
    report.AppendLine("| inputs | n | Iris inputs/s | raw decode+thumbnail images/s | Iris / raw |");
    report.AppendLine("|---|---:|---:|---:|---:|");
    rows.ForEach(r => report.AppendLine(r));
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"### Reading at {listSize:N0} inputs");
    report.AppendLine();
    report.AppendLine("Median and 95th percentile of 30 calls after 3 warm-up calls, over gRPC, each input with an input-level annotation.");
    report.AppendLine();
    report.AppendLine("| call | median ms | p95 ms |");
    report.AppendLine("|---|---:|---:|");
    listRows.ForEach(r => report.AppendLine(r));
    BenchmarkDoc.WriteSection(outPath, "## Inputs (issue 4)", report.ToString());
    Console.WriteLine(report);
}
finally
{
    await server.StopAsync();
    await server.DisposeAsync();
    await webApp.StopAsync();
    dataDir.Delete(recursive: true);
}

async Task<double> IngestAsync(string app, Func<int, Input> make)
{
    var ids = new UserAppIDSet { UserId = "me", AppId = app };
    var watch = Stopwatch.StartNew();
    for (var start = 0; start < images; start += 128)
    {
        var request = new PostInputsRequest { UserAppId = ids };
        request.Inputs.Add(Enumerable.Range(start, Math.Min(128, images - start)).Select(make));
        var response = await grpc.PostInputsAsync(request, auth);
        if (response.Status.Code != StatusCode.Success)
        {
            throw new InvalidOperationException($"PostInputs: {response.Status.Code} {response.Status.Details}");
        }
    }

    while (true)
    {
        var counts = (await grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = ids }, auth)).Counts;
        if (counts.Errors > 0)
        {
            throw new InvalidOperationException($"{counts.Errors} inputs failed");
        }

        if (counts.Processed == images)
        {
            return images / watch.Elapsed.TotalSeconds;
        }

        await Task.Delay(20);
    }
}

async Task<string> TimeAsync<T>(string name, Func<Task<T>> call)
{
    for (var i = 0; i < 3; i++)
    {
        await call();
    }

    var times = new List<double>();
    for (var i = 0; i < 30; i++)
    {
        var watch = Stopwatch.StartNew();
        await call();
        times.Add(watch.Elapsed.TotalMilliseconds);
    }

    times.Sort();
    return string.Create(CultureInfo.InvariantCulture, $"| {name} | {times[times.Count / 2]:F1} | {times[(int)(times.Count * 0.95)]:F1} |");
}

static void Seed(string dbPath, string user, string app, int count)
{
    using var db = new SqliteConnection($"Data Source={dbPath}");
    db.Open();
    using var tx = db.BeginTransaction();
    var media = new Data { Text = new Text { Raw = "seeded text input" } }.ToByteArray();
    var annotation = new Data { Concepts = { new Concept { Id = "seed", Name = "seed", Value = 1, AppId = app } } }.ToByteArray();
    var now = (DateTimeOffset.UtcNow.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    using var input = db.CreateCommand();
    input.Transaction = tx;
    input.CommandText = "INSERT INTO inputs (user_id, app_id, id, kind, media, status_code, created_at, modified_at) VALUES ($u, $a, $id, 'text', $m, 30000, $t, $t);";
    using var level = db.CreateCommand();
    level.Transaction = tx;
    level.CommandText = "INSERT INTO annotations (user_id, app_id, id, input_id, data, input_level, author, status_code, created_at, modified_at) VALUES ($u, $a, $aid, $id, $d, 1, $u, 24150, $t, $t);";
    foreach (var c in new[] { input, level })
    {
        c.Parameters.AddWithValue("$u", user);
        c.Parameters.AddWithValue("$a", app);
        c.Parameters.AddWithValue("$id", string.Empty);
        c.Parameters.AddWithValue("$t", 0L);
    }

    input.Parameters.AddWithValue("$m", media);
    level.Parameters.AddWithValue("$aid", string.Empty);
    level.Parameters.AddWithValue("$d", annotation);
    for (var i = 0; i < count; i++)
    {
        var id = "s" + i.ToString(CultureInfo.InvariantCulture);
        input.Parameters["$id"].Value = id;
        input.Parameters["$t"].Value = now + i;
        input.ExecuteNonQuery();
        level.Parameters["$id"].Value = id;
        level.Parameters["$aid"].Value = "a" + id;
        level.Parameters["$t"].Value = now + i;
        level.ExecuteNonQuery();
    }

    tx.Commit();
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Iris.slnx")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Iris.slnx not found");
}
