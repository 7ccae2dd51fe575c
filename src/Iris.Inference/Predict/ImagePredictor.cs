using Clarifai.Api;
using Task = System.Threading.Tasks.Task;
using Clarifai.Api.Status;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Fetching;
using Iris.Core.Inputs;
using Iris.Core.Media;
using Iris.Inference.Engine;

namespace Iris.Inference.Predict;

/// <summary>One input's answer: the model's filtered output or the status it failed with, and the stored input it read, if any.</summary>
public sealed record PredictResult(Data? Data, IrisException? Error, StoredInput? Stored);

/// <summary>
/// Predict on images, for every caller (PostModelOutputs, workflows, search by image): gets each input's bytes (sent,
/// downloaded through the one <see cref="UrlFetcher"/>, or read from a stored input), decodes them once with the one
/// decode-error map, runs the model on the engine and filters its concepts. Inputs run concurrently; one input's
/// failure is its own result, never the request's.
/// </summary>
public sealed class ImagePredictor(InferenceEngine engine, UrlFetcher fetcher, IInputLookup? inputs = null)
{
    /// <summary>Inputs per predict (Clarifai's limit, and the SDK's <c>MAX_MODEL_PREDICT_INPUTS</c>).</summary>
    public const int MaxInputs = 128;

    /// <summary>One result per source, in order. 1–<see cref="MaxInputs"/> sources, else 11102 for the whole request.</summary>
    public async Task<PredictResult[]> PredictAsync(IImageModel model, AppRef app, IReadOnlyList<ImageSource> sources, ConceptFilter filter, CancellationToken cancellationToken)
    {
        if (sources.Count == 0)
        {
            throw IrisException.InvalidRequest("Provide at least one input in 'inputs'.");
        }

        if (sources.Count > MaxInputs)
        {
            throw IrisException.InvalidRequest($"At most {MaxInputs} inputs can be predicted in one request; got {sources.Count}.");
        }

        var running = new Task<PredictResult>[sources.Count];
        for (var i = 0; i < running.Length; i++)
        {
            running[i] = PredictOneAsync(model, app, sources[i], filter, cancellationToken);
        }

        return await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task<PredictResult> PredictOneAsync(IImageModel model, AppRef app, ImageSource source, ConceptFilter filter, CancellationToken cancellationToken)
    {
        StoredInput? stored = null;
        try
        {
            var read = await ReadAsync(app, source, cancellationToken).ConfigureAwait(false);
            stored = read.Stored;
            using var image = ImageDecoding.Decode(read.Bytes.Span, model.DecodeMinSide, read.ContentType, model.DecodeFitSide);
            var data = await model.PredictAsync(image, engine, cancellationToken).ConfigureAwait(false);
            filter.Apply(data);
            return new PredictResult(data, null, stored);
        }
        catch (IrisException e)
        {
            return new PredictResult(null, e, stored);
        }
    }

    /// <summary>
    /// The encoded bytes of one input (sent, downloaded through the one <see cref="UrlFetcher"/>, or read from a stored
    /// input of <paramref name="app"/>), with the content type a URL claimed and the stored input read, if any. Failures
    /// throw the input's status (30002, 30102, 30104, 30106, …).
    /// </summary>
    public async Task<(ReadOnlyMemory<byte> Bytes, string? ContentType, StoredInput? Stored)> ReadAsync(AppRef app, ImageSource source, CancellationToken cancellationToken)
    {
        switch (source)
        {
            case ImageSource.Bytes sent:
                return (sent.Encoded, null, null);
            case ImageSource.Url url:
                var fetched = await fetcher.FetchAsync(UrlFetcher.ParseUrl(url.Address), cancellationToken).ConfigureAwait(false);
                return (fetched.Bytes, fetched.ContentType, null);
            case ImageSource.Stored byId:
                var stored = await FindAsync(app, byId.InputId, cancellationToken).ConfigureAwait(false);
                return (stored.ImageBytes, null, stored);
            case ImageSource.Missing missing:
                throw new IrisException(StatusCode.InputInvalidArgument, missing.Details);
            default:
                throw new ArgumentOutOfRangeException(nameof(source));
        }
    }

    /// <summary>The engine predict runs on (workflows run their nodes on the same one).</summary>
    public InferenceEngine Engine => engine;

    private async ValueTask<StoredInput> FindAsync(AppRef app, string inputId, CancellationToken cancellationToken)
    {
        var stored = inputs is null ? null : await inputs.FindAsync(app, inputId, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            throw new IrisException(StatusCode.InputDoesNotExist, $"Input '{inputId}' does not exist in app '{app}'.");
        }

        if (!stored.IsImage)
        {
            throw new IrisException(StatusCode.InputInvalidArgument, $"Input '{inputId}' is not an image.");
        }

        if (stored.ImageBytes.Length == 0)
        {
            throw new IrisException(StatusCode.InputInvalidArgument, $"Input '{inputId}' has no image bytes yet: its URL has not been downloaded (see its status).");
        }

        return stored;
    }
}
