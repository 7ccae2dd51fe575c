using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Google.Protobuf;
using Grpc.Core;
using Spectre.Console;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Cli;

/// <summary>
/// <c>iris upload &lt;folder|file.csv&gt; --app A</c>: PostInputs in batches with a live progress bar, retries of batches
/// that failed for a passing reason, a wait until every input is processed, and a table of the failures by status.
/// Ids are deterministic (<see cref="InputIds"/>): after Ctrl+C the same command finishes the job without duplicates.
/// </summary>
internal static class UploadCommand
{
    public static Command Build()
    {
        var path = new Argument<string>("folder|file.csv") { Description = "A folder of images (recursively), or a CSV file (docs/cli.md)" };
        var app = new Option<string>("--app") { Description = "App to upload to", Required = true, HelpName = "APP" };
        var dataset = new Option<string?>("--dataset") { Description = "Also add the inputs to this dataset (created when missing)", HelpName = "DATASET" };
        var conceptsFromFolders = new Option<bool>("--concepts-from-folders") { Description = "Label each image with the name of the folder it is in" };
        var batch = new Option<int>("--batch") { Description = "Inputs per PostInputs (1–128)", DefaultValueFactory = _ => 128, HelpName = "N" };
        var noWait = new Option<bool>("--no-wait") { Description = "Do not wait for processing (statuses are then those at upload)" };
        var command = new Command("upload", "Uploads a folder of images or a CSV file to an app and waits until every input is processed.")
        {
            path, app, dataset, conceptsFromFolders, batch, noWait,
        };
        var client = ClientOptions.AddTo(command);
        command.SetAction(async (parsed, ct) =>
        {
            var batchSize = parsed.GetValue(batch);
            if (batchSize is < 1 or > 128)
            {
                throw new UsageException("--batch must be between 1 and 128 (the PostInputs limit).");
            }

            var source = parsed.GetRequiredValue(path);
            IReadOnlyList<UploadSource> sources = Directory.Exists(source)
                ? UploadSources.FromFolder(source, parsed.GetValue(conceptsFromFolders))
                : File.Exists(source) && source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)
                    ? UploadSources.FromCsv(source)
                    : throw new UsageException($"'{source}' is neither a folder nor a .csv file.");
            if (parsed.GetValue(conceptsFromFolders) && !Directory.Exists(source))
            {
                throw new UsageException("--concepts-from-folders applies to a folder; a CSV file names its concepts in its concepts column.");
            }

            using var connection = client.Connect(parsed);
            var uploader = new Uploader(connection, parsed.GetRequiredValue(app), parsed.GetValue(dataset), batchSize);
            return await uploader.RunAsync(sources, !parsed.GetValue(noWait), ct).ConfigureAwait(false);
        });
        return command;
    }
}

internal sealed class Uploader(ClientConnection connection, string appId, string? datasetId, int batchSize)
{
    /// <summary>Attempts of one batch while the server answers a passing failure (TRY_AGAIN, throttled, unreachable).</summary>
    private const int MaxAttempts = 6;

    private static readonly StatusCode[] Pending = [StatusCode.InputPending, StatusCode.InputInProgress];

    private readonly Dictionary<string, Outcome> _outcomes = new(StringComparer.Ordinal);
    private int _retries;

    private sealed class Outcome(UploadSource source)
    {
        public UploadSource Source { get; } = source;

        public string? InputId { get; set; }

        public Clarifai.Api.Status.Status? Status { get; set; }

        public bool AlreadyPresent { get; set; }
    }

    public async Task<int> RunAsync(IReadOnlyList<UploadSource> sources, bool wait, CancellationToken ct)
    {
        var console = connection.Console;
        var app = connection.App(appId);
        if (datasetId is not null)
        {
            await EnsureDatasetAsync(app, ct).ConfigureAwait(false);
        }

        var outcomes = sources.Select(s => new Outcome(s)).ToList();
        var clock = Stopwatch.StartNew();
        var interrupted = false;
        var sent = 0;
        try
        {
            await RunWithProgressAsync(console, "Uploading", outcomes.Count, async advance =>
            {
                // The next batch's files are read and hashed while the current batch is in flight.
                var chunks = outcomes.Chunk(batchSize).ToList();
                var next = chunks.Count > 0 ? Task.Run(() => Prepare(app, chunks[0]), ct) : null;
                for (var k = 0; k < chunks.Count; k++)
                {
                    ct.ThrowIfCancellationRequested();
                    var prepared = await next!.ConfigureAwait(false);
                    var following = k + 1 < chunks.Count ? chunks[k + 1] : null;
                    next = following is null ? null : Task.Run(() => Prepare(app, following), ct);
                    await SendAsync(prepared, ct).ConfigureAwait(false);
                    sent += chunks[k].Length;
                    advance(chunks[k].Length);
                }
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            interrupted = true;
        }

        var uploadSeconds = clock.Elapsed.TotalSeconds;
        if (interrupted)
        {
            console.WriteLine($"Interrupted after {sent} of {outcomes.Count} inputs. Run the same command again to finish: inputs already uploaded are skipped.");
            return 130;
        }

        var added = outcomes.Count(o => o.Status?.Code == StatusCode.InputPending);
        var present = outcomes.Count(o => o.AlreadyPresent);
        console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Uploaded {outcomes.Count} inputs in {uploadSeconds:F1} s ({outcomes.Count / Math.Max(uploadSeconds, 1e-3):F1}/s): {added} added, {present} already present, {outcomes.Count - added - present} refused; {_retries} batch retries."));

        if (wait)
        {
            try
            {
                await WaitAsync(console, app, outcomes.Where(o => o.InputId is not null && (o.AlreadyPresent || o.Status?.Code == StatusCode.InputPending)).ToList(), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                console.WriteLine("Interrupted while waiting for processing; every input is uploaded and Iris goes on processing them.");
                return 130;
            }
        }

        return Report(console, outcomes, wait);
    }

    private async Task EnsureDatasetAsync(UserAppIDSet app, CancellationToken ct)
    {
        var found = await connection.CallAsync("GetDataset", (c, h, t) => c.GetDatasetAsync(new GetDatasetRequest { UserAppId = app, DatasetId = datasetId }, h, cancellationToken: t),
            ct, StatusCode.ConnDoesNotExist).ConfigureAwait(false);
        if (found.Status.Code == StatusCode.ConnDoesNotExist)
        {
            var request = new PostDatasetsRequest { UserAppId = app };
            request.Datasets.Add(new Dataset { Id = datasetId });
            await connection.CallAsync("PostDatasets", (c, h, t) => c.PostDatasetsAsync(request, h, cancellationToken: t), ct).ConfigureAwait(false);
            connection.Console.WriteLine($"Created dataset '{datasetId}'.");
        }
    }

    private sealed record Prepared(PostInputsRequest Request, List<Outcome> Members);

    /// <summary>Builds a batch's request, reading each file once; a file that cannot be read is recorded as such and left out.</summary>
    private Prepared Prepare(UserAppIDSet app, Outcome[] chunk)
    {
        var request = new PostInputsRequest { UserAppId = app };
        var members = new List<Outcome>();
        foreach (var outcome in chunk)
        {
            try
            {
                request.Inputs.Add(Build(outcome));
                members.Add(outcome);
            }
            catch (IOException e)
            {
                outcome.Status = new Clarifai.Api.Status.Status { Description = "Could not read the file", Details = e.Message };
            }
            catch (UnauthorizedAccessException e)
            {
                outcome.Status = new Clarifai.Api.Status.Status { Description = "Could not read the file", Details = e.Message };
            }
        }

        return new Prepared(request, members);
    }

    /// <summary>Sends a batch, retrying passing failures, and records each input's outcome.</summary>
    private async Task SendAsync(Prepared prepared, CancellationToken ct)
    {
        var (request, members) = prepared;
        if (members.Count == 0)
        {
            return;
        }

        var response = await PostWithRetriesAsync(request, ct).ConfigureAwait(false);
        if (response.Status.Code is not (StatusCode.Success or StatusCode.MixedStatus or StatusCode.Failure) || response.Inputs.Count != members.Count)
        {
            // Not about single inputs (wrong app, credentials, a request limit): every batch would fail alike.
            throw new ClarifaiStatusException("PostInputs", response.Status);
        }

        for (var i = 0; i < members.Count; i++)
        {
            var status = response.Inputs[i].Status;
            members[i].Status = status;
            members[i].AlreadyPresent = status.Code == StatusCode.InputDuplicate && status.Details == "Input has a duplicate ID.";
        }
    }

    private Input Build(Outcome outcome)
    {
        var source = outcome.Source;
        var data = new Data();
        string contentHash;
        if (source.FilePath is not null)
        {
            var bytes = File.ReadAllBytes(source.FilePath);
            contentHash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            data.Image = new Image { Base64 = ByteString.CopyFrom(bytes) };
        }
        else
        {
            contentHash = string.Empty;
            data.Image = new Image { Url = source.Url };
        }

        foreach (var concept in source.Concepts)
        {
            data.Concepts.Add(new Concept { Id = concept, Name = concept, Value = 1 });
        }

        if (source.Metadata is not null)
        {
            data.Metadata = source.Metadata;
        }

        if (source.Geo is var (lon, lat))
        {
            data.Geo = new Geo { GeoPoint = new GeoPoint { Longitude = (float)lon, Latitude = (float)lat } };
        }

        outcome.InputId = source.GivenId ?? InputIds.For(source.Label, contentHash);
        var input = new Input { Id = outcome.InputId, Data = data };
        if (datasetId is not null)
        {
            input.DatasetIds.Add(datasetId);
        }

        return input;
    }

    /// <summary>
    /// Sends one batch; on TRY_AGAIN (10030), throttling (11005) or an unreachable / overloaded server, waits 0.5 s, 1 s,
    /// 2 s … (at most 8 s, with jitter) and sends it again. Other answers are final and returned as they are.
    /// </summary>
    private async Task<MultiInputResponse> PostWithRetriesAsync(PostInputsRequest request, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            string reason;
            try
            {
                var response = await connection.Client.PostInputsAsync(request, connection.Headers, cancellationToken: ct).ResponseAsync.ConfigureAwait(false);
                if (response.Status.Code is not (StatusCode.TryAgain or StatusCode.ConnThrottled))
                {
                    return response;
                }

                reason = ClarifaiStatusException.Format(response.Status);
                if (attempt >= MaxAttempts)
                {
                    return response;
                }
            }
            catch (RpcException e) when (e.StatusCode is Grpc.Core.StatusCode.Cancelled && ct.IsCancellationRequested)
            {
                throw new OperationCanceledException(ct);
            }
            catch (RpcException e) when (e.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded
                or Grpc.Core.StatusCode.ResourceExhausted or Grpc.Core.StatusCode.Aborted or Grpc.Core.StatusCode.Internal)
            {
                reason = $"{e.StatusCode}: {e.Status.Detail}";
                if (attempt >= MaxAttempts)
                {
                    throw new InvalidOperationException($"PostInputs: Iris at {connection.Address} failed {MaxAttempts} times ({reason}); run the same command again to resume.", e);
                }
            }

            _retries++;
            var delay = TimeSpan.FromMilliseconds(Math.Min(8000, 500 * (1 << (attempt - 1))) * (0.8 + (0.4 * Random.Shared.NextDouble())));
            if (connection.Console.IsPlain())
            {
                connection.Console.WriteLine($"Batch failed ({reason}); retrying in {delay.TotalSeconds:F1} s (attempt {attempt + 1} of {MaxAttempts}).");
            }

            await Task.Delay(delay, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Polls ListInputs by id (128 at a time) until no input is pending or in progress; records final statuses.</summary>
    private async Task WaitAsync(IAnsiConsole console, UserAppIDSet app, List<Outcome> waiting, CancellationToken ct)
    {
        var open = waiting.ToDictionary(o => o.InputId!, StringComparer.Ordinal);
        await RunWithProgressAsync(console, "Processing", waiting.Count, async advance =>
        {
            while (open.Count > 0)
            {
                foreach (var ids in open.Keys.Chunk(128).ToList())
                {
                    var request = new ListInputsRequest { UserAppId = app, Page = 1, PerPage = (uint)ids.Length };
                    request.Ids.Add(ids);
                    var answer = await connection.CallAsync("ListInputs", (c, h, t) => c.ListInputsAsync(request, h, cancellationToken: t), ct).ConfigureAwait(false);
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var input in answer.Inputs)
                    {
                        seen.Add(input.Id);
                        if (!Pending.Contains(input.Status.Code) && open.Remove(input.Id, out var outcome))
                        {
                            outcome.Status = input.Status;
                            advance(1);
                        }
                    }

                    foreach (var gone in ids.Where(id => !seen.Contains(id)))
                    {
                        // Deleted meanwhile (by someone else): nothing to wait for.
                        var outcome = open[gone];
                        open.Remove(gone);
                        outcome.Status = new Clarifai.Api.Status.Status { Code = StatusCode.ConnDoesNotExist, Description = "Resource does not exist", Details = "The input was deleted while it was processed." };
                        advance(1);
                    }
                }

                if (open.Count > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
                }
            }
        }).ConfigureAwait(false);
    }

    private int Report(IAnsiConsole console, List<Outcome> outcomes, bool waited)
    {
        var succeeded = outcomes.Count(o => o.Status?.Code == StatusCode.InputSuccess);
        // Without the wait, inputs still pending (or already present) are not failures: only refusals are.
        var failures = outcomes.Where(o => o.Status is { } s && s.Code != StatusCode.InputSuccess && (waited || (s.Code != StatusCode.InputPending && !o.AlreadyPresent)))
            .OrderBy(o => (int)o.Status!.Code).ThenBy(o => o.Source.Label, StringComparer.Ordinal).ToList();
        if (waited)
        {
            console.WriteLine($"{succeeded} of {outcomes.Count} inputs processed successfully; {failures.Count} failed.");
        }

        if (failures.Count == 0)
        {
            return 0;
        }

        var table = console.NewTable("File", "Input id", "Status", "Description", "Details");
        foreach (var failure in failures)
        {
            var status = failure.Status!;
            table.AddPlainRow(failure.Source.Label, failure.InputId, status.Code == 0 ? "-" : ((int)status.Code).ToString(System.Globalization.CultureInfo.InvariantCulture), status.Description, status.Details);
        }

        if (console.IsPlain())
        {
            console.WriteLine("Failures by status:");
        }
        else
        {
            console.Write(new Rule("Failures by status") { Justification = Justify.Left });
        }

        console.Write(table);
        return 1;
    }

    /// <summary>A live Spectre progress bar (with rate) on a terminal; one line per 10 % otherwise.</summary>
    private static async Task RunWithProgressAsync(IAnsiConsole console, string title, int total, Func<Action<int>, Task> work)
    {
        if (console.IsPlain())
        {
            var done = 0;
            var lastDecile = 0;
            var clock = Stopwatch.StartNew();
            await work(n =>
            {
                done += n;
                var decile = total == 0 ? 10 : done * 10 / total;
                if (decile > lastDecile)
                {
                    lastDecile = decile;
                    console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"{title}: {done}/{total} ({done / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):F1}/s)"));
                }
            }).ConfigureAwait(false);
            return;
        }

        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedlessRateColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(title, maxValue: Math.Max(total, 1));
                await work(n => task.Increment(n)).ConfigureAwait(false);
                task.Value = task.MaxValue;
            }).ConfigureAwait(false);
    }

    /// <summary>Items per second of a progress task (Spectre's TransferSpeedColumn speaks bytes).</summary>
    private sealed class TransferSpeedlessRateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Spectre.Console.Text(task.Speed is { } speed ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{speed:F1}/s") : "-/s");
    }
}
