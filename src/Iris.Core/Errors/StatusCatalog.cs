using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using Clarifai.Api.Status;
using Google.Protobuf.Reflection;

namespace Iris.Core.Errors;

/// <summary>
/// Descriptions and HTTP statuses of every code in <c>status_code.proto</c>. The proto carries no descriptions,
/// so the texts the hosted API is known to return are kept here (CLARIFAI_FACTS.md 1.6, 3); every other code gets
/// a sentence made from its enum name (<c>MODEL_DOES_NOT_EXIST</c> → "Model does not exist").
/// </summary>
public static class StatusCatalog
{
    private static readonly FrozenDictionary<StatusCode, string> Observed = new Dictionary<StatusCode, string>
    {
        [StatusCode.Success] = "Ok",
        [StatusCode.MixedStatus] = "Mixed Success",
        [StatusCode.Failure] = "Failure",
        [StatusCode.TryAgain] = "Please try again",
        [StatusCode.NotImplemented] = "Not implemented",
        [StatusCode.ConnThrottled] = "Making too many requests",
        [StatusCode.ConnInsufficientScopes] = "Insufficient API key scopes",
        [StatusCode.ConnKeyInvalid] = "Invalid API key or Invalid API key/application pair",
        [StatusCode.ConnKeyNotFound] = "API key not found",
        [StatusCode.ConnBadRequestFormat] = "Bad request format",
        [StatusCode.ConnDoesNotExist] = "Resource does not exist",
        [StatusCode.ConnInvalidRequest] = "Invalid request",
        [StatusCode.ConnMethodNotAllowed] = "Method not allowed",
        [StatusCode.ModelTrained] = "Model is trained and ready for deployment",
        [StatusCode.ModelDoesNotExist] = "Model does not exist",
        [StatusCode.ModelLoading] = "Model is loading",
        [StatusCode.ModelBusyPleaseRetry] = "Model is busy, please retry",
        [StatusCode.InputSuccess] = "Download complete",
        [StatusCode.InputPending] = "Download pending",
        [StatusCode.InputFailed] = "Download failed; check URL",
        [StatusCode.InputInProgress] = "Download in progress",
        [StatusCode.InputUnsupportedFormat] = "Input image format unsupported",
        [StatusCode.InputOverLimit] = "Input image is larger than the allowed limit",
        [StatusCode.InputModifySuccess] = "Input image modification success",
        [StatusCode.InputConnectionFailed] = "Connection attempts to the input URL failed",
        [StatusCode.ConceptsInvalidRequest] = "Invalid request",
        [StatusCode.AnnotationSuccess] = "Annotation success",
        [StatusCode.RpcServerUnavailable] = "Sorry, the server is unavailable at the moment. Please try again later.",
        [StatusCode.InternalServerIssue] = "Internal server issue",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<StatusCode, string> Names = BuildNames();

    /// <summary>Every distinct code of the enum (aliases folded onto their first name), ascending.</summary>
    public static IReadOnlyList<StatusCode> AllCodes { get; } = Names.Keys.Order().ToArray();

    public static string Describe(StatusCode code)
    {
        if (Observed.TryGetValue(code, out var text))
        {
            return text;
        }

        return Names.TryGetValue(code, out var name) ? Sentence(name) : ((int)code).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The proto enum name of a code (the first one where aliases exist).</summary>
    public static string NameOf(StatusCode code) => Names.GetValueOrDefault(code, ((int)code).ToString(CultureInfo.InvariantCulture));

    public static bool IsDefined(int code) => Names.ContainsKey((StatusCode)code);

    /// <summary>
    /// HTTP status for a REST response carrying <paramref name="code"/> (CLARIFAI_FACTS.md 1.8): observed mappings
    /// first (401 for bad keys, 404 for unknown resources, 400 for invalid requests, 429 throttling), then rules by name.
    /// </summary>
    public static int HttpStatus(StatusCode code)
    {
        switch (code)
        {
            case StatusCode.Success or StatusCode.MixedStatus:
                return 200;
            case StatusCode.Accepted:
                return 202;
            case StatusCode.Moved:
                return 307;
            case StatusCode.Failure:
                return 400;
            case StatusCode.NotImplemented:
                return 501;
            case StatusCode.TryAgain or StatusCode.RpcServerUnavailable or StatusCode.RpcRequestQueueFull
                or StatusCode.ModelBusyPleaseRetry or StatusCode.ModelLoading or StatusCode.ModelDeploying:
                return 503;
            case StatusCode.RpcRequestTimeout:
                return 504;
            case StatusCode.RpcMaxMessageSizeExceeded:
                return 413;
            case StatusCode.ConnExceedHourlyLimit or StatusCode.ConnExceedMonthlyLimit or StatusCode.ConnThrottled or StatusCode.ConnExceedsLimits:
                return 429;
            case StatusCode.ConnInsufficientScopes:
                return 403;
            case StatusCode.ConnAccountIssues or (StatusCode)11001 or StatusCode.ConnCredentialsInvalid
                or StatusCode.ConnKeyInvalid or StatusCode.ConnKeyNotFound or StatusCode.ConnAuthMethodDisabled:
                return 401;
            case StatusCode.ConnDoesNotExist:
                return 404;
            case StatusCode.ConnBadRequestFormat or StatusCode.ConnInvalidRequest or StatusCode.ConnMethodNotAllowed:
                return 400;
        }

        var name = NameOf(code);
        if (name.EndsWith("_DOES_NOT_EXIST", StringComparison.Ordinal))
        {
            return 404;
        }

        if (name.EndsWith("_PERMISSION_DENIED", StringComparison.Ordinal))
        {
            return 403;
        }

        var n = (int)code;
        if (n is >= 98000 and < 100000)
        {
            return 500;
        }

        return 400;
    }

    private static FrozenDictionary<StatusCode, string> BuildNames()
    {
        var names = new Dictionary<StatusCode, string>();
        foreach (var value in StatusCodeReflection.Descriptor.FindTypeByName<EnumDescriptor>("StatusCode").Values)
        {
            // allow_alias: keep the first name of each number.
            names.TryAdd((StatusCode)value.Number, value.Name);
        }

        return names.ToFrozenDictionary();
    }

    private static string Sentence(string enumName)
    {
        var name = enumName.StartsWith("CONN_", StringComparison.Ordinal) ? enumName[5..] : enumName;
        var sb = new StringBuilder(name.Length);
        foreach (var part in name.Split('_', StringSplitOptions.RemoveEmptyEntries))
        {
            if (sb.Length > 0)
            {
                sb.Append(' ');
            }

            sb.Append(part.ToLowerInvariant());
        }

        if (sb.Length > 0)
        {
            sb[0] = char.ToUpperInvariant(sb[0]);
        }

        return sb.ToString();
    }
}
