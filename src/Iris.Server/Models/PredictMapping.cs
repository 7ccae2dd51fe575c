using System.Security.Cryptography;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Errors;
using Iris.Inference.Predict;
using Iris.Inference.Zoo;
using Status = Clarifai.Api.Status.Status;

namespace Iris.Server.Models;

/// <summary>PostModelOutputs on the wire ↔ <see cref="ImagePredictor"/>: where the predict request's field-level compatibility lives.</summary>
internal static class PredictMapping
{
    private static readonly ByteString EchoedBytes = ByteString.CopyFromUtf8("true");

    /// <summary>
    /// The concept filter from <c>model.output_info</c> and <c>model.model_version.output_info</c> (each's
    /// <c>output_config</c>, then <c>params</c>; the version's wins), as the docs' curl examples and the SDK send it.
    /// </summary>
    public static ConceptFilter Filter(Model? model, ModelDescriptor descriptor)
    {
        uint maxConcepts = 0;
        var minValue = 0f;
        var select = new List<ConceptSelector>();
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
                    select = [.. config.SelectConcepts.Select(c => new ConceptSelector(c.Id, c.Name))];
                }
            }

            if (info.Params is { } p)
            {
                if (p.Fields.TryGetValue("max_concepts", out var mc) && mc.KindCase == Value.KindOneofCase.NumberValue)
                {
                    maxConcepts = (uint)Math.Clamp(mc.NumberValue, 0, uint.MaxValue);
                }

                if (p.Fields.TryGetValue("min_value", out var mv) && mv.KindCase == Value.KindOneofCase.NumberValue)
                {
                    minValue = (float)mv.NumberValue;
                }
            }
        }

        return ConceptFilter.Create(maxConcepts, minValue, select, descriptor);
    }

    /// <summary>Where an input's image comes from: inline bytes, a URL, or (no image) a stored input of the app by id.</summary>
    public static ImageSource SourceOf(Input input)
    {
        var image = input.Data?.Image;
        if (image is { Base64.Length: > 0 })
        {
            return new ImageSource.Bytes(image.Base64.Memory);
        }

        if (image is { Url.Length: > 0 })
        {
            return new ImageSource.Url(image.Url);
        }

        if (input.Data is { } d && (d.Text is not null || d.Video is not null || d.Audio is not null))
        {
            return new ImageSource.Missing("This model takes images; the input carries no data.image.");
        }

        if (input.Id.Length > 0)
        {
            return new ImageSource.Stored(input.Id);
        }

        return new ImageSource.Missing("The input has no image: set data.image.url, data.image.base64 or the id of an input of the app.");
    }

    /// <summary>One output per input, in order, each with its status; the top-level status aggregates them.</summary>
    public static MultiOutputResponse Response(IReadOnlyList<Input> inputs, IReadOnlyList<ImageSource> sources, IReadOnlyList<PredictResult> results, ConceptFilter filter, ModelDescriptor descriptor)
    {
        var trimmed = ModelViews.Trimmed(descriptor);
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var response = new MultiOutputResponse();
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            var output = new Output
            {
                Id = NewId(),
                CreatedAt = now,
                Model = trimmed.Clone(),
                Input = Echo(inputs[i], sources[i], result),
                Status = result.Error is { } e
                    ? new Status { Code = e.Code, Description = e.Description, Details = e.Details }
                    : new Status { Code = StatusCode.Success, Description = StatusCatalog.Describe(StatusCode.Success) },
            };
            if (result.Data is { } data)
            {
                output.Data = data;
            }

            response.Outputs.Add(output);
        }

        response.Status = Aggregate(response.Outputs, filter);
        return response;
    }

    /// <summary>The input as the output echoes it: its id (generated if absent) and data, with <c>image.base64 = "true"</c> in place of the bytes, as Clarifai does.</summary>
    internal static Input Echo(Input input, ImageSource source, PredictResult result)
    {
        var echo = new Input { Id = input.Id.Length > 0 ? input.Id : NewId(), Data = input.Data?.Clone() ?? new Data() };
        switch (source)
        {
            case ImageSource.Bytes:
                echo.Data.Image.Base64 = EchoedBytes;
                break;
            case ImageSource.Url when result.Error is null:
                echo.Data.Image.Base64 = EchoedBytes;
                break;
            case ImageSource.Stored when result.Stored is { Url: { } url }:
                echo.Data.Image = new Image { Url = url };
                break;
        }

        return echo;
    }

    private static Status Aggregate(IReadOnlyList<Output> outputs, ConceptFilter filter)
    {
        var failed = outputs.Count(o => o.Status.Code != StatusCode.Success);
        if (failed == 0)
        {
            return filter.Unmatched.Count == 0
                ? new Status { Code = StatusCode.Success, Description = StatusCatalog.Describe(StatusCode.Success) }
                : new Status { Code = StatusCode.MixedStatus, Description = StatusCatalog.Describe(StatusCode.MixedStatus), Details = $"select_concepts not in model: {string.Join(", ", filter.Unmatched)}" };
        }

        if (failed < outputs.Count)
        {
            return new Status { Code = StatusCode.MixedStatus, Description = StatusCatalog.Describe(StatusCode.MixedStatus), Details = $"{failed} of {outputs.Count} inputs failed; see each output's status." };
        }

        // Every input failed: one reason → that status (the official tests expect a lone bad URL's 30002 at the top).
        var codes = outputs.Select(o => o.Status.Code).Distinct().Count();
        return codes == 1
            ? outputs[0].Status.Clone()
            : new Status { Code = StatusCode.Failure, Description = StatusCatalog.Describe(StatusCode.Failure), Details = "Every input failed; see each output's status." };
    }

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
