using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;

namespace Iris.Inference.Engine;

/// <summary>Load state of one network.</summary>
public enum NetworkState
{
    NotLoaded,
    Loading,
    Ready,
    Failed,
}

/// <summary>
/// Serves networks with ONNX Runtime: one session per network version, loaded off the request path on first use,
/// unloaded least-recently-used first when the memory budget is exceeded (pinned networks stay), and a dynamic batcher
/// per network that joins queued items into one run.
/// </summary>
public sealed partial class InferenceEngine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Network> _networks = new(StringComparer.Ordinal);
    private readonly InferenceOptions _options;
    private readonly ModelSources _sources;
    private readonly ILogger _logger;
    private readonly object _budgetLock = new();
    private readonly CancellationTokenSource _shutdown = new();

    public InferenceEngine(InferenceOptions options, ModelSources sources, ILogger<InferenceEngine> logger)
    {
        _options = options;
        _sources = sources;
        _logger = logger;
    }

    public InferenceOptions Options => _options;

    public ModelSources Sources => _sources;

    public NetworkState StateOf(NetworkSpec spec) => _networks.TryGetValue(spec.Name, out var n) ? n.State : NetworkState.NotLoaded;

    /// <summary>Batches run, items served and the largest batch so far (for tests and the benchmark).</summary>
    public (long Batches, long Items, int LargestBatch) Stats(NetworkSpec spec) =>
        _networks.TryGetValue(spec.Name, out var n) ? (Interlocked.Read(ref n.Batches), Interlocked.Read(ref n.Items), n.LargestBatch) : (0, 0, 0);

    /// <summary>Bytes the loaded networks are estimated to take.</summary>
    public long LoadedBytes => _networks.Values.Where(n => n.State == NetworkState.Ready).Sum(n => n.EstimatedBytes);

    /// <summary>Starts loading (converting when needed) without waiting.</summary>
    public void Preload(NetworkSpec spec) => Get(spec).EnsureLoading();

    /// <summary>
    /// Waits up to <see cref="InferenceOptions.LoadWait"/> for the network to be ready: 21355 MODEL_LOADING when it is
    /// still loading then, 21350 MODEL_DEPLOYMENT_FAILED when loading failed.
    /// </summary>
    public async ValueTask WaitReadyAsync(NetworkSpec spec, CancellationToken cancellationToken)
    {
        var network = Get(spec);
        var load = network.EnsureLoading();
        if (!load.IsCompleted)
        {
            await load.WaitAsync(_options.LoadWait, cancellationToken).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        switch (network.State)
        {
            case NetworkState.Ready:
                return;
            case NetworkState.Failed:
                throw new IrisException(StatusCode.ModelDeploymentFailed, $"Model network '{spec.Name}' failed to load: {network.FailureMessage}");
            default:
                throw new IrisException(StatusCode.ModelLoading, $"Model network '{spec.Name}' is loading; retry in a few seconds.");
        }
    }

    /// <summary>
    /// Runs one preprocessed item (<see cref="NetworkSpec.ItemLength"/> floats; the buffer may be longer, e.g. pooled)
    /// through the network's batcher. Queue full → 21354 at once. The caller keeps ownership of <paramref name="item"/>
    /// and may reuse it once the task completes.
    /// </summary>
    public ValueTask<NetworkOutput> RunAsync(NetworkSpec spec, float[] item, CancellationToken cancellationToken) =>
        RunAsync(spec, item, null, cancellationToken);

    /// <summary>
    /// Like <see cref="RunAsync(NetworkSpec, float[], CancellationToken)"/> for a network whose input size varies
    /// (OCR: the detector reads the image at its own size rounded to 32, the recognizer a line 48 high and as wide as
    /// its aspect): <paramref name="shape"/> replaces <see cref="NetworkSpec.ItemShape"/> for this item. Items of equal
    /// shape queued together still run as one batch; different shapes run one after another.
    /// </summary>
    public async ValueTask<NetworkOutput> RunAsync(NetworkSpec spec, float[] item, int[]? shape, CancellationToken cancellationToken)
    {
        await WaitReadyAsync(spec, cancellationToken).ConfigureAwait(false);
        var network = Get(spec);
        var work = new WorkItem(item, shape ?? spec.ItemShape, cancellationToken);
        if (!network.Queue.Writer.TryWrite(work))
        {
            throw new IrisException(StatusCode.ModelBusyPleaseRetry, $"Model network '{spec.Name}' has {_options.QueueCapacity} requests queued; retry shortly.");
        }

        using (cancellationToken.Register(static w => ((WorkItem)w!).Completion.TrySetCanceled(), work))
        {
            return await work.Completion.Task.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Preprocesses <paramref name="source"/> of <paramref name="image"/> into <paramref name="format"/> (see
    /// <see cref="ImageTensors.Rent(SKBitmap, SKRect, PixelFormat, bool, out Placement)"/>; <see cref="ImageTensors.Place"/> tells where it landed) and runs it like
    /// <see cref="RunAsync(NetworkSpec, float[], CancellationToken)"/>; the pooled buffer goes back when the run ends. The item is queued before the first wait
    /// when the network is ready, so two calls started together batch with other requests.
    /// </summary>
    public async ValueTask<NetworkOutput> RunImageAsync(NetworkSpec spec, SKBitmap image, SKRect source, PixelFormat format, bool letterbox, CancellationToken cancellationToken)
    {
        var buffer = ImageTensors.Rent(image, source, format, letterbox, out _);
        try
        {
            return await RunAsync(spec, buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ImageTensors.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _shutdown.CancelAsync().ConfigureAwait(false);
        foreach (var network in _networks.Values)
        {
            network.Queue.Writer.TryComplete();
            await network.StopAsync().ConfigureAwait(false);
        }

        _shutdown.Dispose();
    }

    private Network Get(NetworkSpec spec) => _networks.GetOrAdd(spec.Name, _ => new Network(this, spec));

    /// <summary>Unloads least recently used, unpinned, idle networks until <paramref name="incoming"/> more bytes fit.</summary>
    private void MakeRoom(Network incoming)
    {
        lock (_budgetLock)
        {
            var used = LoadedBytes;
            foreach (var victim in _networks.Values
                .Where(n => n != incoming && n.State == NetworkState.Ready && !n.Spec.Pinned)
                .OrderBy(n => n.LastUsed))
            {
                if (used + incoming.EstimatedBytes <= _options.MemoryBudgetBytes)
                {
                    break;
                }

                if (victim.TryUnload())
                {
                    used -= victim.EstimatedBytes;
                    LogUnloaded(_logger, victim.Spec.Name, victim.EstimatedBytes);
                }
            }
        }
    }

    private SessionOptions NewSessionOptions()
    {
        // One batch runs at a time per network; intra-op threads use the cores, inter-op parallelism would only
        // oversubscribe a 2-core machine.
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = _options.IntraOpThreads,
            InterOpNumThreads = 1,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Loaded network {Network} in {Ms} ms (~{Bytes} bytes)")]
    private static partial void LogLoaded(ILogger logger, string network, long ms, long bytes);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Network {Network} failed to load")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string network);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Error, Message = "Network {Network} failed on a batch")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, string network);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "Unloaded network {Network} (~{Bytes} bytes) to stay within the memory budget")]
    private static partial void LogUnloaded(ILogger logger, string network, long bytes);

    private sealed class WorkItem(float[] data, int[] shape, CancellationToken cancellationToken)
    {
        public float[] Data { get; } = data;

        /// <summary>Shape of this item without the batch axis.</summary>
        public int[] Shape { get; } = shape;

        public int Length { get; } = shape.Aggregate(1, (a, b) => a * b);

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<NetworkOutput> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Network
    {
        private readonly InferenceEngine _engine;
        private readonly object _gate = new();
        private Task? _load;
        private Task? _worker;
        private InferenceSession? _session;
        private int _running;
        private bool _unloadWhenIdle;

        public long Batches;
        public long Items;
        public int LargestBatch;

        public Network(InferenceEngine engine, NetworkSpec spec)
        {
            _engine = engine;
            Spec = spec;
            Queue = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(engine._options.QueueCapacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }

        public NetworkSpec Spec { get; }

        public Channel<WorkItem> Queue { get; }

        public NetworkState State { get; private set; }

        public string? FailureMessage { get; private set; }

        public long EstimatedBytes { get; private set; }

        public long LastUsed { get; private set; } = Stopwatch.GetTimestamp();

        public Task EnsureLoading()
        {
            lock (_gate)
            {
                LastUsed = Stopwatch.GetTimestamp();
                if (State is NetworkState.Ready or NetworkState.Loading or NetworkState.Failed && _load is not null)
                {
                    return _load!;
                }

                State = NetworkState.Loading;
                _load = System.Threading.Tasks.Task.Run(LoadAsync);
                _worker ??= System.Threading.Tasks.Task.Run(WorkAsync);
                return _load;
            }
        }

        public bool TryUnload()
        {
            lock (_gate)
            {
                if (State != NetworkState.Ready)
                {
                    return false;
                }

                State = NetworkState.NotLoaded;
                _load = null;
                if (_running == 0)
                {
                    _session?.Dispose();
                    _session = null;
                }
                else
                {
                    _unloadWhenIdle = true;
                }

                return true;
            }
        }

        public async Task StopAsync()
        {
            if (_worker is not null)
            {
                await _worker.ConfigureAwait(false);
            }

            lock (_gate)
            {
                _session?.Dispose();
                _session = null;
            }
        }

        private async Task LoadAsync()
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var path = await Spec.Locate(_engine._sources, _engine._shutdown.Token).ConfigureAwait(false);
                // Weights plus ORT's optimized copy and arenas: about twice the file.
                EstimatedBytes = new FileInfo(path).Length * 2;
                _engine.MakeRoom(this);
                using var options = _engine.NewSessionOptions();
                var session = new InferenceSession(path, options);
                lock (_gate)
                {
                    _session = session;
                    _unloadWhenIdle = false;
                    State = NetworkState.Ready;
                }

                LogLoaded(_engine._logger, Spec.Name, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, EstimatedBytes);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogLoadFailed(_engine._logger, e, Spec.Name);
                lock (_gate)
                {
                    FailureMessage = e.Message;
                    State = NetworkState.Failed;
                }
            }
        }

        private async Task WorkAsync()
        {
            var options = _engine._options;
            var batch = new List<WorkItem>(options.MaxBatchSize);
            var reader = Queue.Reader;
            try
            {
                while (await reader.WaitToReadAsync(_engine._shutdown.Token).ConfigureAwait(false))
                {
                    // Continuous batching: take whatever queued while the last run was busy, so an idle network runs a
                    // lone request at once and a loaded one runs full batches. An optional delay waits for more.
                    batch.Clear();
                    Drain(reader, batch, options.MaxBatchSize);
                    if (options.MaxBatchDelay > TimeSpan.Zero && batch.Count is > 0 && batch.Count < options.MaxBatchSize)
                    {
                        await WaitForMoreAsync(reader, batch, options).ConfigureAwait(false);
                    }

                    if (batch.Count > 0)
                    {
                        Execute(batch);
                    }
                }
            }
            catch (OperationCanceledException) when (_engine._shutdown.IsCancellationRequested)
            {
                // Shutdown while waiting for more items: those already taken are answered too.
                foreach (var taken in batch)
                {
                    taken.Completion.TrySetCanceled();
                }
            }

            while (reader.TryRead(out var left))
            {
                left.Completion.TrySetCanceled();
            }
        }

        /// <summary>Moves queued items into <paramref name="batch"/> up to <paramref name="max"/>; cancelled ones are answered and dropped.</summary>
        private static void Drain(ChannelReader<WorkItem> reader, List<WorkItem> batch, int max)
        {
            while (batch.Count < max && reader.TryRead(out var next))
            {
                if (next.CancellationToken.IsCancellationRequested)
                {
                    next.Completion.TrySetCanceled(next.CancellationToken);
                }
                else
                {
                    batch.Add(next);
                }
            }
        }

        private async Task WaitForMoreAsync(ChannelReader<WorkItem> reader, List<WorkItem> batch, InferenceOptions options)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(_engine._shutdown.Token);
            timer.CancelAfter(options.MaxBatchDelay);
            try
            {
                while (batch.Count < options.MaxBatchSize && await reader.WaitToReadAsync(timer.Token).ConfigureAwait(false))
                {
                    Drain(reader, batch, options.MaxBatchSize);
                }
            }
            catch (OperationCanceledException) when (!_engine._shutdown.IsCancellationRequested)
            {
                // The delay is over: run what there is.
            }
        }

        private void Execute(List<WorkItem> batch)
        {
            InferenceSession? session;
            lock (_gate)
            {
                session = _session;
                if (session is null)
                {
                    foreach (var item in batch)
                    {
                        item.Completion.TrySetException(new IrisException(StatusCode.ModelLoading, $"Model network '{Spec.Name}' was unloaded; retry in a few seconds."));
                    }

                    EnsureLoading();
                    return;
                }

                _running++;
                LastUsed = Stopwatch.GetTimestamp();
            }

            Interlocked.Increment(ref Batches);
            Interlocked.Add(ref Items, batch.Count);
            LargestBatch = Math.Max(LargestBatch, batch.Count);
            try
            {
                if (Spec.DynamicBatch && batch.TrueForAll(w => w.Shape.AsSpan().SequenceEqual(batch[0].Shape)))
                {
                    RunBatched(session, batch);
                }
                else if (Spec.DynamicBatch)
                {
                    // Variable-size inputs: one run per shape, in the order the shapes were first queued.
                    foreach (var group in batch.GroupBy(w => string.Join(',', w.Shape), StringComparer.Ordinal))
                    {
                        RunBatched(session, group.ToList());
                    }
                }
                else
                {
                    foreach (var item in batch)
                    {
                        RunBatched(session, [item]);
                    }
                }
            }
            catch (Exception e)
            {
                // Never let one bad batch end the worker: every queued caller would wait forever.
                LogRunFailed(_engine._logger, e, Spec.Name);
                foreach (var item in batch)
                {
                    item.Completion.TrySetException(new IrisException(StatusCode.ModelPredictionFailed, $"Model network '{Spec.Name}' failed: {e.Message}"));
                }
            }
            finally
            {
                lock (_gate)
                {
                    if (--_running == 0 && _unloadWhenIdle)
                    {
                        _session?.Dispose();
                        _session = null;
                        _unloadWhenIdle = false;
                    }
                }
            }
        }

        /// <summary>
        /// An output's own copy, left unzeroed before it is overwritten: a mask network's map (256 KB for the selfie
        /// model) is a large-object-heap array, and clearing it first was a second pass over it on every run.
        /// </summary>
        private static float[] Copy(ReadOnlySpan<float> values)
        {
            var copy = GC.AllocateUninitializedArray<float>(values.Length);
            values.CopyTo(copy);
            return copy;
        }

        /// <summary>(index, value) of the largest value of every run of <paramref name="classes"/> values.</summary>
        private static float[] Top1(ReadOnlySpan<float> data, int classes)
        {
            var rows = data.Length / classes;
            var result = new float[rows * 2];
            for (var r = 0; r < rows; r++)
            {
                var row = data.Slice(r * classes, classes);
                var best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
                result[r * 2] = best;
                result[(r * 2) + 1] = row[best];
            }

            return result;
        }

        private void RunBatched(InferenceSession session, List<WorkItem> items)
        {
            var n = items.Count;
            var length = items[0].Length;
            // A lone item runs from its own buffer; a batch is copied into one contiguous tensor.
            var buffer = n == 1 ? items[0].Data : ArrayPool<float>.Shared.Rent(n * length);
            try
            {
                for (var i = 0; n > 1 && i < n; i++)
                {
                    items[i].Data.AsSpan(0, length).CopyTo(buffer.AsSpan(i * length, length));
                }

                var itemShape = items[0].Shape;
                var shape = new long[itemShape.Length + 1];
                shape[0] = n;
                for (var d = 0; d < itemShape.Length; d++)
                {
                    shape[d + 1] = itemShape[d];
                }

                using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, n * length), shape);
                using var runOptions = new RunOptions();
                var inputName = Spec.InputName.Length > 0 ? Spec.InputName : session.InputNames[0];
                var outputNames = Spec.Outputs ?? session.OutputNames;
                using var results = session.Run(runOptions, [inputName], [input], outputNames);
                var perItem = new Dictionary<string, TensorOutput>[n];
                for (var i = 0; i < n; i++)
                {
                    perItem[i] = new Dictionary<string, TensorOutput>(StringComparer.Ordinal);
                }

                for (var o = 0; o < results.Count; o++)
                {
                    var value = results[o];
                    var name = outputNames[o];
                    var info = value.GetTensorTypeAndShape();
                    var dims = info.Shape;
                    var data = value.GetTensorDataAsSpan<float>();
                    // Outputs without a batch axis of n (scalars, or a batch-1 network's squeezed output) belong to the one item.
                    var batched = dims.Length > 0 && dims[0] == n;
                    var outShape = batched ? dims[1..].Select(d => (int)d).ToArray() : dims.Select(d => (int)d).ToArray();
                    var per = batched ? data.Length / n : data.Length;
                    var top1 = Spec.Top1Outputs?.Contains(name) == true && outShape.Length > 0;
                    for (var i = 0; i < n; i++)
                    {
                        var slice = batched ? data.Slice(i * per, per) : data;
                        perItem[i][name] = top1
                            ? new TensorOutput(name, [.. outShape[..^1], 2], Top1(slice, outShape[^1]))
                            : new TensorOutput(name, outShape, Copy(slice));
                    }
                }

                for (var i = 0; i < n; i++)
                {
                    items[i].Completion.TrySetResult(new NetworkOutput(perItem[i]));
                }
            }
            finally
            {
                if (n > 1)
                {
                    ArrayPool<float>.Shared.Return(buffer);
                }
            }
        }
    }
}
