using Iris.Contracts.Descriptors;
using Iris.Server.Rest;

namespace Iris.Server.Tests.Unit;

/// <summary>REST routing precedence (CLARIFAI_FACTS.md 1.1): literal segments win over variables, long and short forms both route.</summary>
public sealed class RouteTableTests
{
    private static readonly RouteTable Routes = new(ApiCatalog.Instance);

    [Theory]
    [InlineData("GET", "/v2/models/types", "ListModelTypes")]
    [InlineData("GET", "/v2/users/u/apps/a/models/types", "ListModelTypes")]
    [InlineData("GET", "/v2/models/types/visual-classifier", "GetModelType")]
    [InlineData("GET", "/v2/models/general", "GetModel")]
    [InlineData("GET", "/v2/users/u/apps/a/models/general", "GetModel")]
    [InlineData("GET", "/v2/users/u/models", "ListModels")]
    [InlineData("GET", "/v2/users/u/apps/a/models", "ListModels")]
    [InlineData("GET", "/v2/inputs/status", "GetInputCount")]
    [InlineData("GET", "/v2/inputs/stream", "StreamInputs")]
    [InlineData("GET", "/v2/inputs/abc", "GetInput")]
    [InlineData("POST", "/v2/inputs/searches", "PostInputsSearches")]
    [InlineData("GET", "/v2/inputs/jobs/add", "ListInputsAddJobs")]
    [InlineData("GET", "/v2/inputs/jobs/add/j1", "GetInputsAddJob")]
    [InlineData("GET", "/v2/users/u/apps/a/concepts/relations", "ListConceptRelations")]
    [InlineData("GET", "/v2/users/u/apps/a/concepts/c1/relations", "ListConceptRelations")]
    [InlineData("GET", "/v2/concepts/dog", "GetConcept")]
    [InlineData("POST", "/v2/models/m/outputs", "PostModelOutputs")]
    [InlineData("POST", "/v2/users/u/apps/a/models/m/versions/v/outputs", "PostModelOutputs")]
    [InlineData("DELETE", "/v2/inputs", "DeleteInputs")]
    [InlineData("DELETE", "/v2/inputs/abc", "DeleteInput")]
    [InlineData("PATCH", "/v2/inputs", "PatchInputs")]
    [InlineData("GET", "/v2/status_codes", "ListStatusCodes")]
    [InlineData("GET", "/v2/status_codes/10000/", "GetStatusCode")]
    public void Routes_to_the_expected_RPC(string verb, string path, string rpc)
    {
        var match = Routes.Match(verb, path);
        Assert.Equal(RouteMatchKind.Found, match.Kind);
        Assert.Equal(rpc, match.Rpc!.Name);
    }

    [Fact]
    public void Path_variables_are_unescaped_and_named_by_field_path()
    {
        var match = Routes.Match("GET", "/v2/users/me/apps/my%20app/models/m%2F1");
        Assert.Equal("GetModel", match.Rpc!.Name);
        Assert.Equal(
            [new("user_app_id.user_id", "me"), new("user_app_id.app_id", "my app"), new KeyValuePair<string, string>("model_id", "m/1")],
            match.PathVariables);
    }

    [Theory]
    [InlineData("GET", "/v2/nothing", false)]
    [InlineData("GET", "/v3/models", false)]
    [InlineData("GET", "//", false)]
    [InlineData("GET", "/v2//models", false)]
    [InlineData("PUT", "/v2/models", true)]
    [InlineData("POST", "/v2/status_codes", true)]
    public void Misses_are_told_apart(string verb, string path, bool wrongMethod) =>
        Assert.Equal(wrongMethod ? RouteMatchKind.WrongMethod : RouteMatchKind.NotFound, Routes.Match(verb, path).Kind);

    [Fact]
    public void Every_binding_is_routed() => Assert.True(Routes.Count >= 480, $"{Routes.Count} bindings");
}
