using System.Net;
using System.Security.Cryptography;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Inputs;
using Iris.Imaging;
using Iris.Inference;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;
using Status = Clarifai.Api.Status.Status;

namespace Iris.Server.Models;

/// <summary>Predict-time settings merged from <c>model.output_info</c> and <c>model.model_version.output_info</c> (version wins).</summary>
internal sealed record PredictSettings(int MaxConcepts, float MinValue, IReadOnlySet<string>? SelectedIds, IReadOnlyList<string> Unmatched)
{
    public static PredictSettings From(Model? model, ModelDescriptor descriptor)
    {
        uint maxConcepts = 0;
        var minValue = 0f;
        var select = new List<Concept>();
#pragma warning disable CS0612 // model.output_info is deprecated but what the docs' curl examples send.
        var places = new[] { model?.OutputInfo, model?.ModelVersion?.OutputInfo };
#pragma warning restore CS0612
        foreach (var info in places)
        {
            if (info is null)
            {
                continue;
            }

            if (info.OutputConfig is { } config)
            {
                maxConcepts = config.MaxConcepts != 0 ? config.MaxConcepts : maxConcepts;
                minValue = config.MinValue != 0 ? config.MinValue : minValue;
                if (config.SelectConcepts.Count > 0)
                {
                    select = [.. config.SelectConcepts];
                }
            }

            if (info.Params is { } p)
            {
                if (p.Fields.TryGetValue("max_concepts", out var mc) && mc.KindCase == Value.KindOneofCase.NumberValue)
                {
                    maxConcepts = (uint)Math.Max(0, mc.NumberValue);
                }

                if (p.Fields.TryGetValue("min_value", out var mv) && mv.KindCase == Value.KindOneofCase.NumberValue)
                {
                    minValue = (float)mv.NumberValue;
                }
            }
        }

        if (minValue is < 0 or > 1 || float.IsNaN(minValue))
        {
            throw new IrisException(StatusCode.ModelInvalidArgument, $"output_config.min_value must be between 0 and 1, got {minValue}.");
        }

        HashSet<string>? selected = null;
        var unmatched = new List<string>();
        if (select.Count > 0)
        {
            selected = new HashSet<string>(StringComparer.Ordinal);
            foreach (var wanted in select)
            {
                var match = descriptor.Concepts.FirstOrDefault(c =>
                    (wanted.Id.Length > 0 && string.Equals(c.Id, wanted.Id, StringComparison.Ordinal)) ||
                    (wanted.Name.Length > 0 && string.Equals(c.Name, wanted.Name, StringComparison.Ordinal)));
                if (match is null)
                {
                    unmatched.Add(wanted.Id.Length > 0 ? wanted.Id : wanted.Name);
                }
                else
                {
                    selected.Add(match.Id);
                }
            }

            if (selected.Count == 0)
            {
                throw new IrisException(StatusCode.ModelInvalidArgument, $"None of select_concepts ({string.Join(", ", unmatched)}) is a concept of model '{descriptor.Id}'.");
            }
        }

        return new PredictSettings(maxConcepts == 0 ? ModelViews.DefaultMaxConcepts : (int)maxConcepts, minValue, selected, unmatched);
    }

    /// <summary>select_concepts, then min_value, then max_concepts, on the concepts and on each region.</summary>
    public void Apply(Data data)
    {
        var filtered = Filter(data.Concepts);
        data.Concepts.Clear();
        data.Concepts.AddRange(filtered);
        var filtering = SelectedIds is not null || MinValue > 0;
        var regions = data.Regions.ToArray();
        data.Regions.Clear();
        foreach (var region in regions)
        {
            if (MinValue > 0 && region.Value < MinValue)
            {
                continue;
            }

            if (region.Data is { } rd && rd.Concepts.Count > 0)
            {
                var kept = Filter(rd.Concepts);
                rd.Concepts.Clear();
                rd.Concepts.AddRange(kept);
                if (filtering && kept.Count == 0)
                {
                    continue;
                }
            }

            data.Regions.Add(region);
        }
    }

    private List<Concept> Filter(IEnumerable<Concept> concepts) => concepts
        .Where(c => SelectedIds is null || SelectedIds.Contains(c.Id))
        .Where(c => c.Value >= MinValue)
        .OrderByDescending(c => c.Value)
        .Take(SelectedIds is null ? MaxConcepts : int.MaxValue)
        .ToList();
}

/// <summary>PostModelOutputs: fetches and decodes each input, runs the built-in model, shapes the outputs like Clarifai.</summary>
internal sealed class Predictor(InferenceEngine engine, InferenceOptions options, HttpClient http, IServiceProvider services)
{
    public const int MaxInputs = 128;

    public async ValueTask<MultiOutputResponse> PredictAsync(BuiltinModel model, AppRef app, PostModelOutputsRequest request, CancellationToken cancellationToken)
    {
        if (request.Inputs.Count == 0)
        {
            throw IrisException.InvalidRequest("Provide at least one input in 'inputs'.");
        }

        if (request.Inputs.Count > MaxInputs)
        {
            throw IrisException.InvalidRequest($"At most {MaxInputs} inputs can be predicted in one request; got {request.Inputs.Count}.");
        }

        var descriptor = model.Descriptor;
        var settings = PredictSettings.From(request.Model, descriptor);
        var trimmed = ModelViews.Trimmed(descriptor);
        var outputs = await System.Threading.Tasks.Task.WhenAll(request.Inputs.Select(input => PredictOneAsync(model, app, input, settings, trimmed, cancellationToken))).ConfigureAwait(false);
        var response = new MultiOutputResponse();
        response.Outputs.AddRange(outputs);
        response.Status = Aggregate(outputs, settings);
        return response;
    }

    private static Status Aggregate(Output[] outputs, PredictSettings settings)
    {
        var failed = outputs.Count(o => o.Status.Code != StatusCode.Success);
        if (failed == 0)
        {
            return settings.Unmatched.Count == 0
                ? new Status { Code = StatusCode.Success, Description = StatusCatalog.Describe(StatusCode.Success) }
                : new Status { Code = StatusCode.MixedStatus, Description = StatusCatalog.Describe(StatusCode.MixedStatus), Details = $"select_concepts not in model: {string.Join(", ", settings.Unmatched)}" };
        }

        if (failed < outputs.Length)
        {
            return new Status { Code = StatusCode.MixedStatus, Description = StatusCatalog.Describe(StatusCode.MixedStatus), Details = $"{failed} of {outputs.Length} inputs failed; see each output's status." };
        }

        // Every input failed: one reason → that status (the official tests expect a lone bad URL's 30002 at the top).
        var codes = outputs.Select(o => o.Status.Code).Distinct().ToArray();
        return codes.Length == 1
            ? outputs[0].Status.Clone()
            : new Status { Code = StatusCode.Failure, Description = StatusCatalog.Describe(StatusCode.Failure), Details = "Every input failed; see each output's status." };
    }

    private async Task<Output> PredictOneAsync(BuiltinModel model, AppRef app, Input input, PredictSettings settings, Model trimmed, CancellationToken cancellationToken)
    {
        var output = new Output
        {
            Id = NewId(),
            CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Model = trimmed.Clone(),
            Input = new Input { Id = input.Id.Length > 0 ? input.Id : NewId(), Data = input.Data?.Clone() ?? new Data() },
        };
        try
        {
            var bytes = await BytesOfAsync(app, input, output.Input, cancellationToken).ConfigureAwait(false);
            using var image = Decode(bytes.Span, model.DecodeMinSide);
            var data = await model.PredictAsync(image, engine, cancellationToken).ConfigureAwait(false);
            settings.Apply(data);
            output.Data = data;
            output.Status = new Status { Code = StatusCode.Success, Description = StatusCatalog.Describe(StatusCode.Success) };
        }
        catch (IrisException e)
        {
            output.Status = new Status { Code = e.Code, Description = e.Description, Details = e.Details };
        }

        return output;
    }

    /// <summary>The image bytes of an input: inline base64, a URL to download, or a stored input of the app by id.</summary>
    private async ValueTask<ReadOnlyMemory<byte>> BytesOfAsync(AppRef app, Input input, Input echo, CancellationToken cancellationToken)
    {
        var image = input.Data?.Image;
        if (image is { Base64.Length: > 0 })
        {
            echo.Data.Image.Base64 = ByteString.CopyFromUtf8("true");
            return image.Base64.Memory;
        }

        if (image is { Url.Length: > 0 })
        {
            var downloaded = await DownloadAsync(image.Url, cancellationToken).ConfigureAwait(false);
            echo.Data.Image.Base64 = ByteString.CopyFromUtf8("true");
            return downloaded;
        }

        if (input.Data is { } d && (d.Text is not null || d.Video is not null || d.Audio is not null))
        {
            throw new IrisException(StatusCode.InputInvalidArgument, "This model takes images; the input carries no data.image.");
        }

        if (input.Id.Length > 0)
        {
            var lookup = services.GetService(typeof(IInputLookup)) as IInputLookup;
            var stored = lookup is null ? null : await lookup.FindAsync(app, input.Id, cancellationToken).ConfigureAwait(false);
            if (stored is null)
            {
                throw new IrisException(StatusCode.InputDoesNotExist, $"Input '{input.Id}' does not exist in app '{app}'.");
            }

            if (stored.Url is not null)
            {
                echo.Data.Image = new Image { Url = stored.Url };
            }

            if (stored.ImageBytes.Length == 0)
            {
                throw new IrisException(StatusCode.InputInvalidArgument, $"Input '{input.Id}' has no image.");
            }

            return stored.ImageBytes;
        }

        throw new IrisException(StatusCode.InputInvalidArgument, "The input has no image: set data.image.url, data.image.base64 or the id of an input of the app.");
    }

    private async ValueTask<ReadOnlyMemory<byte>> DownloadAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new IrisException(StatusCode.InputFailed, $"Could not download '{url}': only absolute http and https URLs are fetched.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.DownloadTimeout);
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new IrisException(StatusCode.InputFailed, $"Could not download '{url}': HTTP {(int)response.StatusCode}.");
            }

            if (response.Content.Headers.ContentLength > options.MaxDownloadBytes)
            {
                throw new IrisException(StatusCode.InputOverLimit, $"'{url}' is larger than {options.MaxDownloadBytes} bytes.");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > options.MaxDownloadBytes)
                {
                    throw new IrisException(StatusCode.InputOverLimit, $"'{url}' is larger than {options.MaxDownloadBytes} bytes.");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IrisException(StatusCode.InputFailed, $"Could not download '{url}': no answer within {options.DownloadTimeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException e)
        {
            throw new IrisException(StatusCode.InputFailed, $"Could not download '{url}': {e.HttpRequestError}.");
        }
    }

    private static DecodedImage Decode(ReadOnlySpan<byte> bytes, int minSide)
    {
        var image = ImageDecoder.TryDecode(bytes, minSide, out var error);
        return image ?? throw error switch
        {
            ImageError.TooManyPixels => new IrisException(StatusCode.InputOverLimit, $"The image has more than {ImageDecoder.MaxPixels} pixels."),
            ImageError.Corrupt => new IrisException(StatusCode.InputInvalidArgument, "The image is truncated or corrupt."),
            _ => new IrisException(StatusCode.InputUnsupportedFormat, "The bytes are no supported image format (JPEG, PNG, WebP, GIF, BMP)."),
        };
    }

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
