using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;

namespace Iris.Inference.Tests;

/// <summary>Loading states, the memory budget, batching, the bounded queue and cancellation, on a real network (emotion, 64x64 grey).</summary>
public sealed class EngineTests
{
    private static readonly float[] Item = new float[64 * 64];

    /// <summary>The emotion network under another name, so each test gets its own session and queue.</summary>
    private static NetworkSpec Emotion(string name, Func<ModelSources, CancellationToken, Task<string>>? locate = null, bool pinned = false) =>
        Networks.Emotion with { Name = name, Locate = locate ?? Networks.Emotion.Locate, Pinned = pinned };

    [Fact]
    public async Task A_predict_during_loading_waits_up_to_the_bound_then_answers_model_loading()
    {
        var gate = new TaskCompletionSource();
        var spec = Emotion("slow-load", async (s, ct) =>
        {
            await gate.Task.WaitAsync(ct);
            return await Networks.Emotion.Locate(s, ct);
        });
        await using var engine = EngineFixture.NewEngine(new InferenceOptions { LoadWait = TimeSpan.FromMilliseconds(50) });
        var error = await Assert.ThrowsAsync<IrisException>(async () => await engine.RunAsync(spec, Item, CancellationToken.None));
        Assert.Equal(StatusCode.ModelLoading, error.Code);
        Assert.Equal(NetworkState.Loading, engine.StateOf(spec));
        gate.SetResult();
        // The next predict waits for the load (bounded) and runs.
        var output = await RunWithLongerWaitAsync(engine, spec);
        Assert.Equal(7, output["Identity:0"].Data.Length);
        Assert.Equal(NetworkState.Ready, engine.StateOf(spec));
    }

    [Fact]
    public async Task Items_of_different_shapes_queued_together_each_run_at_their_own_size()
    {
        // The OCR recognizer reads lines 48 high and as wide as they need: 3 × 48 × W in, W / 8 CTC steps out.
        var spec = OcrModel.Recognizer with { Name = "rec-shapes" };
        await using var engine = EngineFixture.NewEngine(new InferenceOptions { MaxBatchSize = 8, MaxBatchDelay = TimeSpan.FromMilliseconds(50) });
        await engine.WaitReadyAsync(spec, CancellationToken.None);
        int[] widths = [320, 480, 320, 640, 480, 320];
        var before = engine.Stats(spec);
        var outputs = await Task.WhenAll(widths.Select(w => engine.RunAsync(spec, new float[3 * 48 * w], [3, 48, w], CancellationToken.None).AsTask()));
        var after = engine.Stats(spec);
        for (var i = 0; i < widths.Length; i++)
        {
            // Top-1 output: (index, probability) per step.
            Assert.Equal([widths[i] / 8, 2], outputs[i]["softmax_11.tmp_0"].Shape);
        }

        Assert.True(after.Items - before.Items == widths.Length, $"{after.Items - before.Items} items");
        Assert.True(after.LargestBatch > 1, $"largest batch taken {after.LargestBatch}: the mixed shapes were not queued together");
    }

    [Fact]
    public async Task A_network_that_cannot_load_answers_deployment_failed_with_the_reason()
    {
        var spec = Emotion("missing", (s, _) => Task.FromResult(s.PackageFile("no-such-package/model.onnx")));
        await using var engine = EngineFixture.NewEngine(new InferenceOptions());
        var error = await Assert.ThrowsAsync<IrisException>(async () => await engine.RunAsync(spec, Item, CancellationToken.None));
        Assert.Equal(StatusCode.ModelDeploymentFailed, error.Code);
        Assert.Contains("no-such-package/model.onnx", error.Details, StringComparison.Ordinal);
        Assert.Equal(NetworkState.Failed, engine.StateOf(spec));
    }

    [Fact]
    public async Task Concurrent_requests_are_joined_into_batches_and_each_caller_gets_its_own_answer()
    {
        var spec = Emotion("batched");
        await using var engine = EngineFixture.NewEngine(new InferenceOptions { MaxBatchSize = 8, MaxBatchDelay = TimeSpan.FromMilliseconds(20) });
        await engine.WaitReadyAsync(spec, CancellationToken.None);
        // Different inputs give different answers: each caller must get the answer to its own input.
        var inputs = Enumerable.Range(0, 16).Select(i => Enumerable.Repeat((i / 8f) - 1f, 64 * 64).ToArray()).ToArray();
        var alone = new List<float[]>();
        foreach (var input in inputs)
        {
            alone.Add((await engine.RunAsync(spec, input, CancellationToken.None))["Identity:0"].Data);
        }

        var before = engine.Stats(spec);
        var together = await Task.WhenAll(inputs.Select(i => engine.RunAsync(spec, i, CancellationToken.None).AsTask()));
        var after = engine.Stats(spec);
        Assert.True(after.LargestBatch > 1, $"largest batch {after.LargestBatch}");
        Assert.True(after.Batches - before.Batches < 16, $"{after.Batches - before.Batches} batches for 16 requests");
        for (var i = 0; i < inputs.Length; i++)
        {
            var expected = alone[i];
            var actual = together[i]["Identity:0"].Data;
            Assert.All(expected.Zip(actual), p => Assert.InRange(p.Second, p.First - 1e-4f, p.First + 1e-4f));
        }
    }

    [Fact]
    public async Task Without_a_delay_a_lone_request_runs_at_once_and_a_busy_network_still_batches()
    {
        var spec = Emotion("continuous");
        await using var engine = EngineFixture.NewEngine(new InferenceOptions { MaxBatchSize = 8 });
        await engine.WaitReadyAsync(spec, CancellationToken.None);
        await engine.RunAsync(spec, Item, CancellationToken.None);
        Assert.Equal((1L, 1L, 1), engine.Stats(spec));

        // 64 requests at once: the first run starts with whatever is queued, the rest queue behind it and join batches.
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => engine.RunAsync(spec, Item, CancellationToken.None).AsTask()));
        var stats = engine.Stats(spec);
        Assert.Equal(65L, stats.Items);
        Assert.True(stats.LargestBatch > 1 && stats.Batches < 65, $"{stats.Batches} batches, largest {stats.LargestBatch}");
    }

    [Fact]
    public async Task A_full_queue_answers_model_busy_at_once()
    {
        var spec = Emotion("tiny-queue");
        await using var engine = EngineFixture.NewEngine(new InferenceOptions { QueueCapacity = 1, MaxBatchSize = 1 });
        await engine.WaitReadyAsync(spec, CancellationToken.None);
        var calls = Enumerable.Range(0, 64).Select(_ => engine.RunAsync(spec, Item, CancellationToken.None).AsTask()).ToArray();
        await Task.WhenAll(calls).ContinueWith(_ => { }, TaskScheduler.Default);
        var busy = calls.Where(c => c.IsFaulted).Select(c => Assert.IsType<IrisException>(c.Exception!.InnerException)).ToArray();
        Assert.NotEmpty(busy);
        Assert.All(busy, e => Assert.Equal(StatusCode.ModelBusyPleaseRetry, e.Code));
        Assert.Contains(calls, c => c.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_cancelled_request_is_dropped()
    {
        var spec = Emotion("cancelled");
        await using var engine = EngineFixture.NewEngine(new InferenceOptions());
        await engine.WaitReadyAsync(spec, CancellationToken.None);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await engine.RunAsync(spec, Item, cancelled.Token));
        Assert.Equal(7, (await engine.RunAsync(spec, Item, CancellationToken.None))["Identity:0"].Data.Length);
    }

    [Fact]
    public async Task The_memory_budget_unloads_the_least_recently_used_unpinned_network()
    {
        var pinned = Emotion("budget-pinned", pinned: true);
        var first = Emotion("budget-first");
        var second = Emotion("budget-second");
        // Room for about two copies of the emotion network (~0.4 MB file, ~0.8 MB estimated each).
        var size = new FileInfo(await Networks.Emotion.Locate(new ModelSources(new InferenceOptions { PackagesDir = Repo.NodeModules, ModelsDir = Repo.ModelsDir }, Repo.ModelsDir), CancellationToken.None)).Length;
        await using var engine = EngineFixture.NewEngine(new InferenceOptions { MemoryBudgetBytes = (size * 4) + 1 });
        await engine.RunAsync(pinned, Item, CancellationToken.None);
        await engine.RunAsync(first, Item, CancellationToken.None);
        Assert.Equal(NetworkState.Ready, engine.StateOf(first));
        await engine.RunAsync(second, Item, CancellationToken.None);
        Assert.Equal(NetworkState.NotLoaded, engine.StateOf(first));
        Assert.Equal(NetworkState.Ready, engine.StateOf(second));
        Assert.Equal(NetworkState.Ready, engine.StateOf(pinned));
        // Used again, it loads again.
        Assert.Equal(7, (await engine.RunAsync(first, Item, CancellationToken.None))["Identity:0"].Data.Length);
        Assert.Equal(NetworkState.Ready, engine.StateOf(pinned));
    }

    private static async Task<NetworkOutput> RunWithLongerWaitAsync(InferenceEngine engine, NetworkSpec spec)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                return await engine.RunAsync(spec, Item, CancellationToken.None);
            }
            catch (IrisException e) when (e.Code == StatusCode.ModelLoading && DateTime.UtcNow < deadline)
            {
                await engine.WaitReadyAsync(spec, CancellationToken.None).AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
