using Iris.Bench;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Clarifai.Api;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Task = System.Threading.Tasks.Task;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Iris.Imaging;
using Iris.Inference;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;
using Iris.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;

// Usage: dotnet run -c Release --project bench/Iris.Bench.Inference [-- <output.md> [seconds per cell]]
// Starts an Iris server in-process, then for every built-in model measures, in one run: end-to-end PostModelOutputs
// over gRPC (base64 photo) at concurrency 1, 4 and 16; raw ONNX Runtime on the same networks, same thread settings and
// the batch size the batcher can form; decode + preprocess cost per image.
var root = FindRoot();
var loadAtStart = File.ReadAllText("/proc/loadavg").Split(' ')[0];
var outPath = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(root, "docs", "benchmarks.md");
var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var nodeModules = Path.Combine(root, "node_modules");
var modelsDir = Environment.GetEnvironmentVariable("IRIS_MODELS_DIR") is { Length: > 0 } modelsEnv ? modelsEnv : Path.Combine(Path.GetTempPath(), "iris-test-models");
var metro = Path.Combine(nodeModules, "clarifai-nodejs-grpc/tests/assets/metro-north.jpg");
var faces = Path.Combine(nodeModules, "@vladmandic/human/assets/screenshot-facedetect.jpg");
var vrm = Path.Combine(nodeModules, "@vladmandic/human/assets/screenshot-vrm.jpg");
var inference = new InferenceOptions { PackagesDir = nodeModules, ModelsDir = modelsDir };

const string Pat = "bench0pat0000000000000000000000001";

var dataDir = Directory.CreateTempSubdirectory("iris-bench-");
var server = IrisServer.Create(
    new IrisServerOptions { DataDir = dataDir.FullName, HttpPort = 0, GrpcPort = 0, BootstrapPat = Pat },
    logging => { },
    services => services.AddSingleton(inference));
await server.StartAsync();
using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}", new GrpcChannelOptions { MaxReceiveMessageSize = 256 << 20 });
var client = new V2.V2Client(channel);
var auth = new Metadata { { "authorization", "Key " + Pat } };
var sources = new ModelSources(inference, dataDir.FullName);

// Per model: photo, and the network calls one predict makes (network, pixel format, calls per image).
var zoo = new ModelZoo();
var plans = new (string Model, string Photo, (NetworkSpec Net, PixelFormat Format, int Calls)[] Runs)[]
{
    (GeneralRecognitionModel.Id, metro, [(Networks.CenterNet, GeneralDetectionModel.Input, 1)]),
    (GeneralDetectionModel.Id, metro, [(Networks.CenterNet, GeneralDetectionModel.Input, 1)]),
    (GeneralEmbeddingModel.Id, metro, [(Networks.MobileNetV2, GeneralEmbeddingModel.Input, 1)]),
    (NsfwModel.Id, metro, [(Networks.MobileNetV2, GeneralEmbeddingModel.Input, 1)]),
    (FaceDetectionModel.Id, faces, [(Networks.BlazeFace, FaceDetectionModel.Input, 1)]),
    (FaceAttributesModel.Id, faces, [(Networks.BlazeFace, FaceDetectionModel.Input, 1), (Networks.FaceRes, FaceAttributesModel.FaceResInput, 5), (Networks.Emotion, FaceAttributesModel.EmotionInput, 5)]),
    (PersonSegmentationModel.Id, faces, [(Networks.Selfie, PersonSegmentationModel.Input, 1)]),
    (SubjectSegmentationModel.Id, vrm, [(Networks.IsNetSmall, SubjectSegmentationModel.Input, 1)]),
    // OCR: the detector at the size Iris picks for the photo; one recognizer call per text box at its batch width (filled in below).
    (OcrModel.Id, faces, [(OcrModel.Detector, OcrDetInput(faces), 1), (OcrModel.Recognizer, OcrModel.RecInput, -1)]),
};

var report = new StringBuilder();
report.AppendLine("## Models (issue 6)").AppendLine();
report.AppendLine("### Built-in models: Iris end-to-end vs raw ONNX Runtime").AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Environment.ProcessorCount} cores ({System.Runtime.InteropServices.RuntimeInformation.OSDescription}), ONNX Runtime 1.31.1 CPU, {inference.IntraOpThreads} intra-op threads per session (networks run concurrently), batcher max {inference.MaxBatchSize} items, {(inference.MaxBatchDelay > TimeSpan.Zero ? $"waiting up to {inference.MaxBatchDelay.TotalMilliseconds} ms" : "no waiting (continuous batching)")}, {seconds} s per cell.");
report.AppendLine("Iris = PostModelOutputs over gRPC on loopback with the photo as base64 (decode, preprocess, queue, batch, run, post-process, serialize). Raw = `InferenceSession.Run` on ready tensors, same session options, batch = what the batcher can form at that concurrency (networks with a fixed batch of 1 run one by one). Pipelines (face-attributes: BlazeFace + 5×FaceRes + 5×Emotion; OCR: detection + one recognition per text box at the width Iris batches it with) count every network call.").AppendLine();
report.AppendLine("| model | photo | decode+preprocess ms | raw ms/img (b=1) | Iris c=1 p50 / p99 ms | Iris c=1 overhead ms | c=1 img/s (raw) | c=4 img/s (raw) | c=16 img/s (raw) | c=16 Iris/raw | c=16 p50 / p99 ms |");
report.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");

// IRIS_BENCH_MODELS=id,id limits the run (e.g. to profile one model); the doc is only written for a full run.
var only = Environment.GetEnvironmentVariable("IRIS_BENCH_MODELS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (only is { Length: > 0 })
{
    plans = plans.Where(p => only.Contains(p.Model)).ToArray();
}

var phases = new StringBuilder();
phases.AppendLine("### Where the time goes at concurrency 1").AppendLine();
phases.AppendLine("Each phase timed alone in the same process, median ms per image: decode (with the reduced JPEG scale the model allows), resample + tensor fill (every network call), raw `InferenceSession.Run` at batch 1, the same run through Iris's batcher (queue, hand-off, output copy), post-processing (the model's predict minus its fills and engine runs), building the response message, and what is left of the gRPC round trip (client and server HTTP/2, authentication, handler). CPU outside ONNX Runtime = every phase but the runs; with ONNX Runtime using all cores during a run, it bounds the concurrency-16 ratio at about cores·raw ÷ (cores·raw + outside CPU).").AppendLine();
phases.AppendLine("| model | decode | resample + fill | raw run | engine run | post-process | response | gRPC + handler | Iris p50 | p50 − raw | p50 − (raw + decode + fill) | CPU outside ORT | c=16 bound | c=16 measured |");
phases.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
var engine = server.Services.GetRequiredService<InferenceEngine>();
var runners = new Dictionary<(string Net, int Batch), RawRunner>();
var rawCpuCache = new Dictionary<(string Net, int Batch), double>();
var cpu = new StringBuilder();
cpu.AppendLine("### CPU per image, outside and inside ONNX Runtime").AppendLine();
cpu.AppendLine("Process CPU time (all threads: client, server, ONNX Runtime) per call, which other work on the machine inflates far less than wall time: ONNX Runtime per image for the model's network calls, run raw at batch 1 and at the batcher's largest batch; one whole predict over gRPC at concurrency 1; the difference is the CPU Iris and the transport spend outside ONNX Runtime. Of that, the steps every predict takes: decoding and resampling the photo (the phase table's medians), and the gRPC round trip itself, measured as the CPU of a GetModel call (client and server in this process, no database read); what is left is post-processing, the handler, the queue and the response. Allocated = bytes the process allocated per predict (client and server). On a machine whose cores only this process uses, concurrency-16 throughput cannot exceed ORT(b=max) ÷ (ORT(b=max) + outside) of raw.").AppendLine();
cpu.AppendLine("| model | ORT CPU ms/img, b=1 | ORT CPU ms/img, b=max | predict CPU ms, c=1 | outside ORT ms | of which decode + resample | of which gRPC round trip | left: Iris's own | allocated KB | c=16 bound | c=16 measured |");
cpu.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
const int Rounds = 3;
var warmups = new Dictionary<string, double>();
var transportFloor = await GrpcFloorAsync(client, auth);
var ratios = new Dictionary<string, double>();
var overheads = new Dictionary<string, double>();
var beyondFloor = new Dictionary<string, double>();
var floorRatios = new Dictionary<string, double>();
var beyondSerial = new Dictionary<string, double>();
var serialFloors = new StringBuilder();
serialFloors.AppendLine("### Concurrency 1 beside the same steps in one thread").AppendLine();
serialFloors.AppendLine("The phase medians above are each timed alone, warm, at different moments; a step that follows a large network run finds its caches cold. Here the steps Iris cannot skip run back to back in one thread, one image at a time, in the same rounds as Iris' concurrency-1 cell: decode the JPEG (at Iris' reduced scale), resample it into the tensor, raw `InferenceSession.Run` at batch 1 (and the mask PNG for segmentation). Iris − floor is what the request costs beyond them: the gRPC round trip with the base64 photo, the handler, the queue and hand-off, post-processing and the response. OCR's floor is its whole pipeline with the same functions Iris calls and raw sessions at batch 1: decode → detector input → raw detector → DB post-processing of its map → perspective crops → each crop's 48-px input → raw recognizer, crop after crop; its \"decode + resample (alone)\" is every step but the two networks (the map from a real run). Face-attributes has no row.").AppendLine();
serialFloors.AppendLine("| model | raw run ms | decode + resample ms (alone) | floor p50 ms: decode → resample → run | Iris c=1 p50 ms | Iris − floor ms | per round |");
serialFloors.AppendLine("|---|---|---|---|---|---|---|");
var floors = new StringBuilder();
floors.AppendLine("### Concurrency 16 beside raw ONNX Runtime plus the decode alone").AppendLine();
floors.AppendLine("The raw column runs on ready tensors. Here the same raw session is fed by the steps it skips and Iris cannot: decoding the JPEG (at the reduced scale Iris uses) and resampling it into the tensor, with the same code, on one producer thread per core, in this process, while the consumer runs batches as large as the batcher's; for the segmentation models the producers also encode the mask PNG the size of the image that the answer must carry (from the network's map of the photo, same code). Iris ÷ floor is what Iris loses beyond it: gRPC, the handler, the queue, other post-processing and the response. OCR's floor runs the one-thread pipeline of the concurrency-1 floor below on every core at once, each thread with its own raw sessions at batch 1 (its raw column is batched: Iris runs equal shapes of concurrent requests together, this floor does not).").AppendLine();
floors.AppendLine("| model | raw img/s | floor img/s: raw + decode + resample (+ mask PNG) | Iris img/s | Iris ÷ raw | Iris ÷ floor | per round |");
floors.AppendLine("|---|---|---|---|---|---|---|");
foreach (var (modelId, photo, runs) in plans)
{
    var bytes = await File.ReadAllBytesAsync(photo);
    var request = new PostModelOutputsRequest { UserAppId = new UserAppIDSet { UserId = "clarifai", AppId = "main" }, ModelId = modelId };
    request.Inputs.Add(new Input { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(bytes) } } });
    var first = await client.PostModelOutputsAsync(request, auth);
    if (first.Status.Code != StatusCode.Success)
    {
        throw new InvalidOperationException($"{modelId}: {first.Status.Code} {first.Status.Details}");
    }

    // Steady state, not the JIT's tiers: predicts at concurrency 1 and 4 until the JIT has been quiet for a second
    // (at least 3 s, at most 90 s). Profiling showed the tier-1 recompilation of the server's paths taking 25–30 s of a
    // loaded 2-core machine, at up to 0.75 of a core: a fixed 3 s warm-up measured the first models while it ran.
    var warm = Stopwatch.StartNew();
    var quietSince = TimeSpan.Zero;
    for (var i = 0; warm.Elapsed.TotalSeconds < 90; i++)
    {
        var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
        var started = warm.Elapsed;
        await LoadAsync(client, request, auth, i % 2 == 0 ? 1 : 4, 0.5);
        quietSince = System.Runtime.JitInfo.GetCompilationTime() - jitBefore < TimeSpan.FromMilliseconds(5) ? quietSince + (warm.Elapsed - started) : TimeSpan.Zero;
        if (quietSince.TotalSeconds >= 1 && warm.Elapsed.TotalSeconds >= 3)
        {
            break;
        }
    }

    warmups[modelId] = warm.Elapsed.TotalSeconds;

    var calls = runs.Where(r => r.Calls > 0).ToArray();
    if (runs.Any(r => r.Calls < 0))
    {
        // OCR: one recognizer call per text box Iris cuts, at the width Iris gives its batch (as the predict does).
        using var full = ImageDecoder.TryDecode(bytes, out _)!;
        var crops = OcrModel.Crops(full, await OcrModel.DetectAsync(full, engine, CancellationToken.None));
        var widths = OcrModel.RecognizerWidths(crops);
        foreach (var crop in crops)
        {
            crop.Dispose();
        }

        calls = [.. calls, .. widths.GroupBy(w => w).OrderBy(g => g.Key).Select(g => (OcrModel.Recognizer, OcrModel.RecInput with { Width = g.Key }, g.Count()))];
    }

    var ocrCalls = runs.Any(r => r.Calls < 0) ? calls : null;

    using var decoded = ImageDecoder.TryDecode(bytes, out _)!;
    var (minSide, fitSide) = (zoo.Find(modelId)!.DecodeMinSide, zoo.Find(modelId)!.DecodeFitSide);
    var prep = Time(() =>
    {
        ImageTensors.Return(DecodeToTensor(bytes, minSide, fitSide, calls[0].Format));
    }, 0.5);

    // Interleaved rounds: raw at each batch size, Iris at each concurrency and the floor (raw fed by decode + resample)
    // take turns, a share of the time each, so load from other work on the machine falls on all of them alike; each
    // figure is the median over the rounds, and the concurrency-16 ratios are the median of the per-round ratios.
    RawRunner Runner(NetworkSpec net, PixelFormat format, int b)
    {
        var key = (net.Name + ":" + format.Width + "x" + format.Height, b);
        if (!runners.TryGetValue(key, out var runner))
        {
            runner = RawRunner.Create(net, format, decoded, b, sources, inference);
            runners[key] = runner;
        }

        return runner;
    }

    var floorCall = calls.Length == 1 && calls[0].Calls == 1 ? calls[0] : default;
    // OCR: per core, a detector session and ONE recognizer session fed every crop width, as Iris' engine has one session
    // per network (a width the session did not just run costs it a new plan; the raw column's session per width never
    // pays that), for the pipeline floors.
    var ocrFloor = ocrCalls is null ? null : Enumerable.Range(0, Environment.ProcessorCount).Select(_ =>
    {
        var recognizers = new Dictionary<int, RawRunner>();
        foreach (var c in ocrCalls[1..])
        {
            recognizers[c.Format.Width] = RawRunner.Create(c.Net, c.Format, decoded, 1, sources, inference, recognizers.Values.FirstOrDefault());
        }

        return new OcrRunners(RawRunner.Create(ocrCalls[0].Net, ocrCalls[0].Format, decoded, 1, sources, inference), recognizers);
    }).ToArray();
    // Segmentation models must also answer with the mask as a PNG the size of the image (the wire format): the floor's
    // producers encode it too, from the network's own map of this photo, with the same code.
    Action? maskStep = null;
    if (modelId is PersonSegmentationModel.Id or SubjectSegmentationModel.Id)
    {
        var whole = new SkiaSharp.SKRect(0, 0, decoded.Width, decoded.Height);
        var format = calls[0].Format;
        var item = ImageTensors.Rent(decoded.Bitmap, whole, format, letterbox: false, out _);
        int[] itemShape = format.Nchw ? [format.Channels, format.Height, format.Width] : [format.Height, format.Width, format.Channels];
        var map = (await engine.RunAsync(calls[0].Net, item, itemShape, CancellationToken.None)).All.First().Data;
        ImageTensors.Return(item);
        var (fullWidth, fullHeight) = (decoded.FullWidth, decoded.FullHeight);
        maskStep = () => Masks.Png(map, format.Width, format.Height, fullWidth, fullHeight);
    }

    var rawRounds = new Dictionary<int, List<double>>();
    var cellRounds = new Dictionary<int, List<(double PerSecond, double P50, double P99)>>();
    var floorRounds = new List<double>();
    var serialFloorRounds = new List<double>();
    var ratioRounds = new List<double>();
    var floorRatioRounds = new List<double>();
    var slice = seconds / Rounds;
    for (var round = 0; round < Rounds; round++)
    {
        foreach (var batch in new[] { 1, 4, inference.MaxBatchSize })
        {
            var perImage = 0.0;
            foreach (var (net, format, n) in calls)
            {
                var runner = Runner(net, format, net.DynamicBatch ? batch : 1);
                var (perItem, cpuPerItem) = runner.Measure(slice / calls.Length);
                rawCpuCache[runner.Key] = cpuPerItem;
                perImage += n * perItem;
            }

            (rawRounds.TryGetValue(batch, out var list) ? list : rawRounds[batch] = []).Add(perImage);
        }

        foreach (var concurrency in new[] { 1, 4, 16 })
        {
            var cell = await LoadAsync(client, request, auth, concurrency, slice);
            (cellRounds.TryGetValue(concurrency, out var list) ? list : cellRounds[concurrency] = []).Add(cell);
        }

        ratioRounds.Add(cellRounds[16][^1].PerSecond * rawRounds[inference.MaxBatchSize][^1]);
        if (floorCall.Net is not null)
        {
            var floorRunner = Runner(floorCall.Net, floorCall.Format, floorCall.Net.DynamicBatch ? inference.MaxBatchSize : 1);
            floorRounds.Add(await RawWithDecodePerSecondAsync(floorRunner, bytes, minSide, fitSide, maskStep, slice));
            floorRatioRounds.Add(cellRounds[16][^1].PerSecond / floorRounds[^1]);
            serialFloorRounds.Add(SerialFloorP50Ms(Runner(floorCall.Net, floorCall.Format, 1), bytes, minSide, fitSide, maskStep, slice));
        }
        else if (ocrFloor is not null)
        {
            floorRounds.Add(await OcrFloorPerSecondAsync(ocrFloor, bytes, minSide, fitSide, slice));
            floorRatioRounds.Add(cellRounds[16][^1].PerSecond / floorRounds[^1]);
            serialFloorRounds.Add(OcrSerialFloorP50Ms(ocrFloor[0], bytes, minSide, fitSide, slice));
        }
    }

    var raw = rawRounds.ToDictionary(r => r.Key, r => Median(r.Value));
    var cells = cellRounds.ToDictionary(c => c.Key, c => (PerSecond: Median(c.Value.Select(v => v.PerSecond)), P50: Median(c.Value.Select(v => v.P50)), P99: Median(c.Value.Select(v => v.P99))));
    double RawRate(int c) => 1 / raw[c == 1 ? 1 : c == 4 ? 4 : inference.MaxBatchSize];
    report.AppendLine(CultureInfo.InvariantCulture,
        $"| {modelId} | {Path.GetFileName(photo)} | {prep * 1000:0.0} | {raw[1] * 1000:0.0} | {cells[1].P50:0.0} / {cells[1].P99:0.0} | {cells[1].P50 - (raw[1] * 1000):0.0} | {cells[1].PerSecond:0.0} ({RawRate(1):0.0}) | {cells[4].PerSecond:0.0} ({RawRate(4):0.0}) | {cells[16].PerSecond:0.0} ({RawRate(16):0.0}) | {Median(ratioRounds):0.00} | {cells[16].P50:0.0} / {cells[16].P99:0.0} |");
    Console.WriteLine(report.ToString().Split('\n')[^2]);
    ratios[modelId] = Median(ratioRounds);

    // Phases at concurrency 1, each alone, in this process.
    var model = zoo.Find(modelId)!;
    var decodeMs = await MedianMsAsync(() =>
    {
        ImageDecoder.TryDecode(bytes, minSide, fitSide, out _)!.Dispose();
        return ValueTask.CompletedTask;
    });
    using var scaled = ImageDecoder.TryDecode(bytes, minSide, fitSide, out _)!;
    double fillMs = 0, engineMs = 0;
    foreach (var (net, format, n) in calls)
    {
        var whole = new SkiaSharp.SKRect(0, 0, scaled.Width, scaled.Height);
        fillMs += n * await MedianMsAsync(() =>
        {
            ImageTensors.Return(ImageTensors.Rent(scaled.Bitmap, whole, format, letterbox: false, out _));
            return ValueTask.CompletedTask;
        });
        var item = ImageTensors.Rent(scaled.Bitmap, whole, format, letterbox: false, out _);
        int[] shape = format.Nchw ? [format.Channels, format.Height, format.Width] : [format.Height, format.Width, format.Channels];
        engineMs += n * await MedianMsAsync(async () => await engine.RunAsync(net, item, shape, CancellationToken.None));
        ImageTensors.Return(item);
    }

    if (ocrFloor is not null)
    {
        // OCR's steps around its networks, each crop at its own width, with the detector's map of a real run: the
        // whole-image fills above stand in for crops they are not.
        using var once = ImageDecoder.TryDecode(bytes, minSide, fitSide, out _)!;
        float[]? map = null;
        OcrSteps(once, (input, _, _) => { ocrFloor[0].Detector.Fill(0, input); return map = ocrFloor[0].Detector.RunFirstOutput(); }, (_, _) => { });
        fillMs = await MedianMsAsync(() =>
        {
            OcrSteps(scaled, (_, _, _) => map!, (_, _) => { });
            return ValueTask.CompletedTask;
        });
    }

    foreach (var set in ocrFloor ?? [])
    {
        set.Dispose();
    }

    Data? predicted = null;
    var predictMs = await MedianMsAsync(async () => predicted = await model.PredictAsync(scaled, engine, CancellationToken.None));
    // CPU: ONNX Runtime's per image (raw, from the cache above) against a whole predict's.
    double OrtCpu(int batch) => calls.Sum(c => c.Calls * rawCpuCache[(c.Net.Name + ":" + c.Format.Width + "x" + c.Format.Height, c.Net.DynamicBatch ? batch : 1)]) * 1000;
    var (_, predictCpuMs, predictAllocated) = await MeasureAsync(async () => await client.PostModelOutputsAsync(request, auth));
    var ortMax = OrtCpu(inference.MaxBatchSize);
    var outsideCpu = predictCpuMs - OrtCpu(1);
    // What is left once the steps every predict must take are taken out: decode and resample (single-threaded, so their
    // wall time is their CPU time) and the gRPC round trip of a call that does no work.
    var ownCpu = outsideCpu - decodeMs - fillMs - transportFloor.CpuMs;
    cpu.AppendLine(CultureInfo.InvariantCulture,
        $"| {modelId} | {OrtCpu(1):0.00} | {ortMax:0.00} | {predictCpuMs:0.00} | {outsideCpu:0.00} | {decodeMs + fillMs:0.00} | {transportFloor.CpuMs:0.00} | {ownCpu:0.00} | {predictAllocated / 1024:0} | {ortMax / (ortMax + Math.Max(0, outsideCpu)):0.00} | {ratios[modelId]:0.00} |");
    Console.WriteLine(cpu.ToString().Split('\n')[^2]);
    var responseMs = await MedianMsAsync(() =>
    {
        var response = new MultiOutputResponse { Status = new Clarifai.Api.Status.Status { Code = StatusCode.Success } };
        response.Outputs.Add(new Output { Id = "x", Data = predicted!.Clone(), Model = new Model { Id = modelId } });
        _ = response.ToByteArray();
        return ValueTask.CompletedTask;
    });
    var rawMs = raw[1] * 1000;
    var postMs = predictMs - fillMs - engineMs;
    var transportMs = cells[1].P50 - decodeMs - predictMs - responseMs;
    var outsideMs = decodeMs + fillMs + Math.Max(0, postMs) + responseMs + Math.Max(0, transportMs);
    var cores = Environment.ProcessorCount;
    var rawBatchMs = raw[inference.MaxBatchSize] * 1000;
    var bound = cores * rawBatchMs / ((cores * rawBatchMs) + outsideMs);
    phases.AppendLine(CultureInfo.InvariantCulture,
        $"| {modelId} | {decodeMs:0.00} | {fillMs:0.00} | {rawMs:0.00} | {engineMs:0.00} | {postMs:0.00} | {responseMs:0.00} | {transportMs:0.00} | {cells[1].P50:0.00} | {cells[1].P50 - rawMs:0.00} | {cells[1].P50 - rawMs - decodeMs - fillMs:0.00} | {outsideMs:0.00} | {bound:0.00} | {ratios[modelId]:0.00} |");
    Console.WriteLine(phases.ToString().Split('\n')[^2]);
    overheads[modelId] = cells[1].P50 - (raw[1] * 1000);
    beyondFloor[modelId] = cells[1].P50 - rawMs - decodeMs - fillMs;
    if (serialFloorRounds.Count > 0)
    {
        // The same steps back to back in one thread, timed in the same rounds as Iris' concurrency-1 cell.
        var serialFloor = Median(serialFloorRounds);
        serialFloors.AppendLine(CultureInfo.InvariantCulture,
            $"| {modelId} | {rawMs:0.00} | {decodeMs + fillMs:0.00} | {serialFloor:0.00} | {cells[1].P50:0.00} | {cells[1].P50 - serialFloor:0.00} | {string.Join(" / ", serialFloorRounds.Zip(cellRounds[1]).Select(r => (r.Second.P50 - r.First).ToString("0.00", CultureInfo.InvariantCulture)))} |");
        Console.WriteLine(serialFloors.ToString().Split('\n')[^2]);
        beyondSerial[modelId] = cells[1].P50 - serialFloor;
    }

    // The floor: raw ONNX Runtime fed by the same decode + resample of the photo, in this process, on the same cores.
    if (floorRounds.Count > 0)
    {
        floors.AppendLine(CultureInfo.InvariantCulture,
            $"| {modelId} | {RawRate(16):0.0} | {Median(floorRounds):0.0} | {cells[16].PerSecond:0.0} | {ratios[modelId]:0.00} | {Median(floorRatioRounds):0.00} | {string.Join(" / ", floorRatioRounds.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)))} |");
        Console.WriteLine(floors.ToString().Split('\n')[^2]);
        floorRatios[modelId] = Median(floorRatioRounds);
    }
}

report.AppendLine().Append(phases);
report.AppendLine().Append(floors);
report.AppendLine().Append(serialFloors);
report.AppendLine().Append(cpu);

// The issue's goals, read off this run's table.
static string Names(IEnumerable<string> ids) => ids.Any() ? string.Join(", ", ids) : "none";
var concurrentMet = ratios.Where(r => r.Value >= 0.85).Select(r => r.Key).ToArray();
var latencyMet = overheads.Where(o => o.Value <= 2.0).Select(o => o.Key).ToArray();
report.AppendLine().AppendLine("### Goals in this run").AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"- Concurrency 16, Iris ≥ 0.85 of raw ONNX Runtime: met by {concurrentMet.Length} of {ratios.Count} ({Names(concurrentMet)}); not met by {Names(ratios.Keys.Except(concurrentMet))}.");
report.AppendLine(CultureInfo.InvariantCulture, $"- Concurrency 1, Iris adds ≤ 2 ms to the raw model time (p50 − raw): met by {latencyMet.Length} of {overheads.Count} ({Names(latencyMet)}); not met by {Names(overheads.Keys.Except(latencyMet))}.");
var floorMet = floorRatios.Where(r => r.Value >= 0.85).Select(r => r.Key).ToArray();
var beyondMet = beyondFloor.Where(o => o.Value <= 2.0).Select(o => o.Key).ToArray();
report.AppendLine(CultureInfo.InvariantCulture, $"- Against the floor (raw + decode + resample, and the mask PNG for segmentation, measured beside it): concurrency 16 ≥ 0.85 met by {floorMet.Length} of {floorRatios.Count} ({Names(floorMet)}); concurrency 1, ≤ 2 ms beyond raw + decode + resample, met by {beyondMet.Length} of {beyondFloor.Count} ({Names(beyondMet)}).");
var serialMet = beyondSerial.Where(o => o.Value <= 2.0).Select(o => o.Key).ToArray();
report.AppendLine(CultureInfo.InvariantCulture, $"- Concurrency 1 against the same steps back to back in one thread (measured in the same rounds): ≤ 2 ms beyond them met by {serialMet.Length} of {beyondSerial.Count} ({Names(serialMet)}){(serialMet.Length < beyondSerial.Count ? "; not met by " + string.Join(", ", beyondSerial.Where(o => o.Value > 2.0).Select(o => $"{o.Key} ({o.Value:0.00} ms)")) : "")}.");
report.AppendLine(CultureInfo.InvariantCulture, $"- The gRPC round trip alone (GetModel of a built-in, same channel): {transportFloor.WallMs:0.00} ms wall at concurrency 1, {transportFloor.CpuMs:0.00} ms of process CPU (client and server) per call.");
report.AppendLine(CultureInfo.InvariantCulture, $"- Warm-up before each model was measured, until the JIT had been quiet for a second: {string.Join(", ", warmups.Select(w => $"{w.Key} {w.Value:0} s"))}.");
report.AppendLine(CultureInfo.InvariantCulture, $"- Load average (1 min) when the run started / ended: {loadAtStart} / {File.ReadAllText("/proc/loadavg").Split(' ')[0]} (2 cores; other work on the machine skews a run, which the interleaved rounds spread over Iris and raw alike).");

await server.StopAsync();
await server.DisposeAsync();
dataDir.Delete(recursive: true);
if (only is { Length: > 0 })
{
    Console.WriteLine(report.ToString());
    return;
}

BenchmarkDoc.WriteSection(outPath, "## Models (issue 6)", report.ToString());
Console.WriteLine("Wrote " + outPath);
return;

// The transport alone: GetModel of a built-in (no database read, a small answer) over the same channel, median wall ms
// and process CPU ms per call (client and server), the part of every predict's round trip that no model work causes.
static async Task<(double WallMs, double CpuMs)> GrpcFloorAsync(V2.V2Client client, Metadata auth)
{
    var get = new GetModelRequest { UserAppId = new UserAppIDSet { UserId = "clarifai", AppId = "main" }, ModelId = FaceDetectionModel.Id };
    var warm = Stopwatch.StartNew();
    while (warm.Elapsed.TotalSeconds < 2)
    {
        await client.GetModelAsync(get, auth);
    }

    var (wall, cpu, _) = await MeasureAsync(async () => await client.GetModelAsync(get, auth));
    return (wall, cpu);
}

// Median wall time of one call, in ms, over about a second after a short warm-up.
static async Task<double> MedianMsAsync(Func<ValueTask> action) => (await MeasureAsync(action)).MedianMs;

// Median wall time of one call, the process CPU time per call, in ms, and the bytes the process allocated per call
// (all threads), over about a second after a short warm-up.
static async Task<(double MedianMs, double CpuMs, double AllocatedBytes)> MeasureAsync(Func<ValueTask> action)
{
    for (var i = 0; i < 5; i++)
    {
        await action();
    }

    var times = new List<double>();
    var watch = Stopwatch.StartNew();
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var allocatedBefore = GC.GetTotalAllocatedBytes();
    while (times.Count < 5 || (watch.Elapsed.TotalSeconds < 1 && times.Count < 2000))
    {
        var t = Stopwatch.GetTimestamp();
        await action();
        times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
    }

    var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / times.Count;
    var allocated = (GC.GetTotalAllocatedBytes() - allocatedBefore) / (double)times.Count;
    times.Sort();
    return (times[times.Count / 2], cpuMs, allocated);
}

static async Task<(double PerSecond, double P50, double P99)> LoadAsync(V2.V2Client client, PostModelOutputsRequest request, Metadata auth, int concurrency, double seconds)
{
    // Warm-up, then measure: each worker loops until the deadline.
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => client.PostModelOutputsAsync(request, auth).ResponseAsync));
    var latencies = new List<double>();
    var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
    var started = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var t = Stopwatch.GetTimestamp();
            var response = await client.PostModelOutputsAsync(request, auth);
            if (response.Status.Code != StatusCode.Success)
            {
                throw new InvalidOperationException($"{response.Status.Code} {response.Status.Details}");
            }

            lock (latencies)
            {
                latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        }
    }));
    var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
    latencies.Sort();
    return (latencies.Count / elapsed, latencies[latencies.Count / 2], latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))]);
}

// Raw ONNX Runtime fed by decode + resample: one producer per core decodes the photo (reduced scale, as Iris) and fills
// a tensor (and, for a mask model, encodes one mask PNG); the runner's session runs batches of its size as they fill.
// Images per second over `seconds`.
// The photo decoded as Iris decodes it for the model (minSide / fitSide) and resampled whole into a pooled tensor: the
// steps every predict takes before its network runs (return the tensor with ImageTensors.Return).
static float[] DecodeToTensor(byte[] bytes, int minSide, int fitSide, PixelFormat format)
{
    using var image = ImageDecoder.TryDecode(bytes, minSide, fitSide, out _)!;
    return ImageTensors.Rent(image.Bitmap, new SkiaSharp.SKRect(0, 0, image.Width, image.Height), format, letterbox: false, out _);
}

// Median ms of decode → resample → raw run at batch 1 (→ the mask PNG), one image at a time in this thread, for about
// `seconds` (at least 5 images).
static double SerialFloorP50Ms(RawRunner runner, byte[] bytes, int minSide, int fitSide, Action? maskStep, double seconds)
{
    var times = new List<double>();
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed.TotalSeconds < seconds || times.Count < 5)
    {
        var started = Stopwatch.GetTimestamp();
        var item = DecodeToTensor(bytes, minSide, fitSide, runner.Format);
        runner.Fill(0, item);
        ImageTensors.Return(item);

        runner.Run();
        maskStep?.Invoke();
        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    return Median(times);
}

// OCR's steps around its networks, with the functions OcrModel's predict calls, in its order: the detector's input,
// DB post-processing of the map `detect` returns for it, the perspective crops, each crop's input at its width (passed
// to `recognize` with the width).
static void OcrSteps(DecodedImage image, Func<float[], int, int, float[]> detect, Action<float[], int> recognize)
{
    var input = OcrModel.DetectorInput(image, out var w, out var h, out var source);
    float[] map;
    try
    {
        map = detect(input, w, h);
    }
    finally
    {
        ImageTensors.Return(input);
    }

    var crops = OcrModel.Crops(image, OcrModel.Boxes(map, w, h, source, image));
    try
    {
        var widths = OcrModel.RecognizerWidths(crops);
        for (var i = 0; i < crops.Length; i++)
        {
            var item = OcrModel.RecognizerInput(crops[i], widths[i]);
            recognize(item, widths[i]);
            ImageTensors.Return(item);
        }
    }
    finally
    {
        foreach (var crop in crops)
        {
            crop.Dispose();
        }
    }
}

// OCR's pipeline on raw sessions at batch 1 (OcrSteps), one photo.
static void OcrThrough(OcrRunners r, byte[] bytes, int minSide, int fitSide)
{
    using var image = ImageDecoder.TryDecode(bytes, minSide, fitSide, out _)!;
    OcrSteps(
        image,
        (input, _, _) =>
        {
            r.Detector.Fill(0, input);
            return r.Detector.RunFirstOutput();
        },
        (item, width) =>
        {
            var recognizer = r.Recognizers[width];
            recognizer.Fill(0, item);
            recognizer.Run();
        });
}

// Median ms of OCR's whole pipeline on raw sessions, one photo at a time in this thread, for about `seconds` (≥ 5).
static double OcrSerialFloorP50Ms(OcrRunners runners, byte[] bytes, int minSide, int fitSide, double seconds)
{
    var times = new List<double>();
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed.TotalSeconds < seconds || times.Count < 5)
    {
        var started = Stopwatch.GetTimestamp();
        OcrThrough(runners, bytes, minSide, fitSide);
        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    return Median(times);
}

// Photos per second of OCR's pipeline run on one thread per set of raw sessions at once, for about `seconds`.
static async Task<double> OcrFloorPerSecondAsync(OcrRunners[] sets, byte[] bytes, int minSide, int fitSide, double seconds)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
    var started = Stopwatch.GetTimestamp();
    var counts = await Task.WhenAll(sets.Select(set => Task.Factory.StartNew(() =>
    {
        var n = 0;
        while (Stopwatch.GetTimestamp() < deadline || n == 0)
        {
            OcrThrough(set, bytes, minSide, fitSide);
            n++;
        }

        return n;
    }, TaskCreationOptions.LongRunning)));
    return counts.Sum() / Stopwatch.GetElapsedTime(started).TotalSeconds;
}

static async Task<double> RawWithDecodePerSecondAsync(RawRunner runner, byte[] bytes, int minSide, int fitSide, Action? maskStep, double seconds)
{
    var format = runner.Format;
    var queue = System.Threading.Channels.Channel.CreateBounded<float[]>(runner.Batch * 2);
    using var stop = new CancellationTokenSource();

    float[] Prepare()
    {
        // A mask model's PNG per image, on the producer threads (in Iris it follows the run, on the request's thread).
        maskStep?.Invoke();
        return DecodeToTensor(bytes, minSide, fitSide, format);
    }

    var producers = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(async () =>
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await queue.Writer.WriteAsync(Prepare(), stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    })).ToArray();

    void RunOne()
    {
        for (var i = 0; i < runner.Batch; i++)
        {
            float[] item;
            while (!queue.Reader.TryRead(out item!))
            {
                queue.Reader.WaitToReadAsync().AsTask().Wait();
            }

            runner.Fill(i, item);
            ImageTensors.Return(item);
        }

        runner.Run();
    }

    var rate = await Task.Run(() =>
    {
        RunOne();
        var images = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed.TotalSeconds < seconds || images == 0)
        {
            RunOne();
            images += runner.Batch;
        }

        return images / watch.Elapsed.TotalSeconds;
    });
    await stop.CancelAsync();
    await Task.WhenAll(producers);
    while (queue.Reader.TryRead(out var left))
    {
        ImageTensors.Return(left);
    }

    return rate;
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

static PixelFormat OcrDetInput(string photo)
{
    using var image = ImageDecoder.TryDecode(File.ReadAllBytes(photo), out _)!;
    var (w, h) = OcrModel.DetectorSize(image.Width, image.Height);
    return OcrModel.DetInput with { Width = w, Height = h };
}

static double Time(Action action, double seconds)
{
    var warm = Stopwatch.StartNew();
    for (var i = 0; i < 30 && (i < 2 || warm.Elapsed.TotalSeconds < 1); i++)
    {
        action();
    }

    var runs = 0;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed.TotalSeconds < seconds || runs < 3)
    {
        action();
        runs++;
    }

    return watch.Elapsed.TotalSeconds / runs;
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

/// <summary>
/// One raw ONNX Runtime session on ready tensors, with Iris's session options: a batch of copies of one preprocessed
/// photo (networks with a variable input size, OCR, read the size Iris picks).
/// </summary>
internal sealed class RawRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtValue _input;
    private readonly float[] _data;
    private readonly string _name;

    private readonly bool _ownsSession;

    private RawRunner(InferenceSession session, bool ownsSession, PixelFormat format, int batch, float[] data, OrtValue input, string name, (string, int) key)
    {
        _session = session;
        _ownsSession = ownsSession;
        Format = format;
        Batch = batch;
        _data = data;
        _input = input;
        _name = name;
        Key = key;
    }

    public PixelFormat Format { get; }

    public int Batch { get; }

    public (string Net, int Batch) Key { get; }

    /// <summary>A runner on its own new session, or with <paramref name="shareWith"/> on that runner's session (same network).</summary>
    public static RawRunner Create(NetworkSpec net, PixelFormat format, DecodedImage image, int batch, ModelSources sources, InferenceOptions options, RawRunner? shareWith = null)
    {
        var session = shareWith?._session ?? NewSession(net, sources, options);
        var item = ImageTensors.Rent(image.Bitmap, new SkiaSharp.SKRect(0, 0, image.Width, image.Height), format, letterbox: false, out _);
        int[] itemShape = format.Nchw ? [format.Channels, format.Height, format.Width] : [format.Height, format.Width, format.Channels];
        var length = format.Length;
        var data = new float[batch * length];
        for (var i = 0; i < batch; i++)
        {
            Array.Copy(item, 0, data, i * length, length);
        }

        ImageTensors.Return(item);
        var shape = new long[] { batch }.Concat(itemShape.Select(d => (long)d)).ToArray();
        var input = OrtValue.CreateTensorValueFromMemory(data, shape);
        var name = net.InputName.Length > 0 ? net.InputName : session.InputNames[0];
        var runner = new RawRunner(session, shareWith is null, format, batch, data, input, name, (net.Name + ":" + format.Width + "x" + format.Height, batch));
        // Warm-up: the first runs allocate ONNX Runtime's arenas.
        for (var i = 0; i < 3; i++)
        {
            runner.Run();
        }

        return runner;
    }

    /// <summary>Copies one preprocessed item into slot <paramref name="index"/> of the batch.</summary>
    public void Fill(int index, float[] item) => Array.Copy(item, 0, _data, index * Format.Length, Format.Length);

    public void Run()
    {
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, [_name], [_input], _session.OutputNames);
    }

    /// <summary>Runs the batch and returns a copy of its first output (OCR's floor post-processes the detector's map).</summary>
    public float[] RunFirstOutput()
    {
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, [_name], [_input], _session.OutputNames);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Wall and process CPU seconds per item, running for about <paramref name="seconds"/> (at least 3 runs).</summary>
    public (double Seconds, double CpuSeconds) Measure(double seconds)
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var runs = 0;
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed.TotalSeconds < seconds || runs < 3)
        {
            Run();
            runs++;
        }

        var wall = watch.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        return (wall / runs / Batch, cpu / runs / Batch);
    }

    public void Dispose()
    {
        _input.Dispose();
        if (_ownsSession)
        {
            _session.Dispose();
        }
    }

    private static InferenceSession NewSession(NetworkSpec net, ModelSources sources, InferenceOptions options)
    {
        var path = net.Locate(sources, CancellationToken.None).GetAwaiter().GetResult();
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(path, sessionOptions);
    }
}

/// <summary>Raw runners at batch 1 for OCR's pipeline floor: the detector, and per crop width a recognizer input on one shared session.</summary>
internal sealed record OcrRunners(RawRunner Detector, Dictionary<int, RawRunner> Recognizers) : IDisposable
{
    public void Dispose()
    {
        Detector.Dispose();
        foreach (var recognizer in Recognizers.Values)
        {
            recognizer.Dispose();
        }
    }
}
