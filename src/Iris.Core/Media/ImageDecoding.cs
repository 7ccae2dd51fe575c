using System.Globalization;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Imaging;

namespace Iris.Core.Media;

/// <summary>
/// Decodes image bytes for every feature (ingestion, predict, search, workflows) with the one map from decoding
/// failures to Clarifai statuses, so the same bad image gets the same status wherever it is sent:
/// <list type="bullet">
/// <item>no image format Iris decodes → 30101 INPUT_UNSUPPORTED_FORMAT, naming the content type a URL claimed;</item>
/// <item>an image header whose pixels do not decode (truncated, corrupt) → 30002 INPUT_FAILED, the proto's code for
/// "any type of error downloading and processing";</item>
/// <item>more than <see cref="ImageDecoder.MaxPixels"/> pixels → 30105 INPUT_OVER_LIMIT.</item>
/// </list>
/// </summary>
public static class ImageDecoding
{
    /// <summary>
    /// The decoded, upright image (owned by the caller), decoded at a reduced scale down to <paramref name="minSide"/>
    /// where the codec allows (0 = full size), or with <paramref name="fitSide"/> above 0 as sharp reduces it before a fit
    /// into that square (<see cref="ImageDecoder.TryDecode(ReadOnlySpan{byte}, int, int, out ImageError)"/>).
    /// <paramref name="contentType"/> is what a URL's server claimed, used only in the error text.
    /// </summary>
    public static DecodedImage Decode(ReadOnlySpan<byte> bytes, int minSide = 0, string? contentType = null, int fitSide = 0) =>
        ImageDecoder.TryDecode(bytes, minSide, fitSide, out var error) ?? throw Failure(error, bytes.Length, contentType);

    /// <summary>The status for a decoding failure of <paramref name="byteCount"/> bytes.</summary>
    public static IrisException Failure(ImageError error, int byteCount, string? contentType = null) => error switch
    {
        ImageError.TooManyPixels => new IrisException(StatusCode.InputOverLimit,
            $"The image has more than {ImageDecoder.MaxPixels.ToString("N0", CultureInfo.InvariantCulture)} pixels (85 megapixels), the limit."),
        ImageError.Corrupt => new IrisException(StatusCode.InputFailed, "The image is corrupt or truncated: its pixels could not be decoded."),
        _ => new IrisException(StatusCode.InputUnsupportedFormat,
            contentType is { Length: > 0 } && !contentType.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
                ? $"The URL returned {contentType} content ({byteCount.ToString(CultureInfo.InvariantCulture)} bytes), not an image Iris decodes (JPEG, PNG, WebP, GIF, BMP, ICO)."
                : $"The {byteCount.ToString(CultureInfo.InvariantCulture)} bytes are not an image Iris decodes (JPEG, PNG, WebP, GIF, BMP, ICO)."),
    };
}
