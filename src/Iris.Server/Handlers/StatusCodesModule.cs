using System.Globalization;
using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Server.Api;
using Status = Clarifai.Api.Status.Status;

namespace Iris.Server.Handlers;

/// <summary>ListStatusCodes and GetStatusCode: every code of status_code.proto with its description (NoAuth).</summary>
internal sealed class StatusCodesModule : IApiModule
{
    public void Register(HandlerRegistry registry)
    {
        registry.Add<ListStatusCodesRequest, MultiStatusCodeResponse>(nameof(V2.V2Base.ListStatusCodes), ListStatusCodes);
        registry.Add<GetStatusCodeRequest, SingleStatusCodeResponse>(nameof(V2.V2Base.GetStatusCode), GetStatusCode);
        registry.MarkStatusIsPayload(nameof(V2.V2Base.GetStatusCode));
    }

    private static ValueTask<MultiStatusCodeResponse> ListStatusCodes(ListStatusCodesRequest request, CallContext context)
    {
        var response = new MultiStatusCodeResponse { Status = StatusWriter.Ok() };
        foreach (var code in StatusCatalog.AllCodes)
        {
            if (code == StatusCode.Zero)
            {
                continue; // ZERO is "unset", not a status.
            }

            response.Statuses.Add(Describe(code));
        }

        return ValueTask.FromResult(response);
    }

    /// <summary>The response status is the code asked for, described; an id that is no code answers 11102 / 11101.</summary>
    private static ValueTask<SingleStatusCodeResponse> GetStatusCode(GetStatusCodeRequest request, CallContext context)
    {
        var id = request.StatusCodeId.Trim();
        if (id.Length == 0)
        {
            throw IrisException.InvalidRequest("status_code_id is required.");
        }

        if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            throw IrisException.InvalidRequest($"status_code_id '{id}' is not a number.");
        }

        if (number == 0 || !StatusCatalog.IsDefined(number))
        {
            throw new IrisException(StatusCode.ConnDoesNotExist, $"status code {number} does not exist.");
        }

        return ValueTask.FromResult(new SingleStatusCodeResponse { Status = Describe((StatusCode)number) });
    }

    private static Status Describe(StatusCode code) => new()
    {
        Code = code,
        Description = StatusCatalog.Describe(code),
        Details = StatusCatalog.NameOf(code),
    };
}
