using Clarifai.Api;
using Iris.Server.Api;

namespace Iris.Server.Handlers;

/// <summary>
/// ListOpenSourceLicenses (NoAuth): the SPDX identifiers Iris accepts as a model's licence. It includes the licences of
/// every built-in model's weights (MIT, Apache-2.0, AGPL-3.0) and the common OSI-approved licences a user's model may carry.
/// </summary>
internal sealed class LicensesModule : IApiModule
{
    internal static readonly string[] Spdx =
    [
        "AFL-3.0", "AGPL-3.0", "Apache-2.0", "Artistic-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSL-1.0", "CC-BY-4.0",
        "CC-BY-SA-4.0", "CC0-1.0", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.2", "GPL-2.0", "GPL-3.0", "ISC",
        "LGPL-2.1", "LGPL-3.0", "MIT", "MPL-2.0", "MS-PL", "NCSA", "OFL-1.1", "OpenRAIL", "OSL-3.0", "PostgreSQL",
        "Unlicense", "UPL-1.0", "Zlib",
    ];

    public void Register(HandlerRegistry registry) =>
        registry.Add<ListOpenSourceLicensesRequest, ListOpenSourceLicensesResponse>(nameof(V2.V2Base.ListOpenSourceLicenses), List);

    private static ValueTask<ListOpenSourceLicensesResponse> List(ListOpenSourceLicensesRequest request, CallContext context)
    {
        var response = new ListOpenSourceLicensesResponse { Status = StatusWriter.Ok() };
        response.Licenses.Add(Spdx);
        return ValueTask.FromResult(response);
    }
}
