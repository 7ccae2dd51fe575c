using Clarifai.Api.Status;

namespace Iris.Core.Errors;

/// <summary>
/// The one error type of Iris: raised where a problem is found, carrying a Clarifai status code, a safe
/// description and user-visible details. The transport maps it to the response <c>status</c> (and, for REST,
/// the HTTP status) in exactly one place. Its text reaches clients, so it never carries internal details.
/// </summary>
public sealed class IrisException : Exception
{
    public IrisException(StatusCode code, string details, string? description = null)
        : base($"{(int)code} {description ?? StatusCatalog.Describe(code)}: {details}")
    {
        Code = code;
        Details = details;
        Description = description ?? StatusCatalog.Describe(code);
    }

    public StatusCode Code { get; }

    public string Description { get; }

    public string Details { get; }

    public static IrisException NotImplemented(string rpc) =>
        new(StatusCode.NotImplemented, $"{rpc} is not implemented in this version of Iris.");

    public static IrisException InvalidRequest(string details) => new(StatusCode.ConnInvalidRequest, details);

    public static IrisException BadFormat(string details) => new(StatusCode.ConnBadRequestFormat, details);
}
