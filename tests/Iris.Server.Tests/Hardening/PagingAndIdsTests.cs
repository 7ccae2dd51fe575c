using System.Net;
using Clarifai.Api;
using Iris.Core.Errors;
using Iris.Server.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Validation;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Hardening;

/// <summary>One paging rule and one id rule for every RPC: the same per_page over 1,000 answers the same 11102 everywhere.</summary>
public sealed class PagingAndIdsTests(HardeningFixture iris) : IClassFixture<HardeningFixture>
{
    [Theory]
    [InlineData("/v2/users/me/apps?per_page=100000")]
    [InlineData("/v2/users/me/keys?per_page=100000")]
    [InlineData("/v2/users/me/apps/hardening/inputs?per_page=100000")]
    [InlineData("/v2/users/me/apps/hardening/concepts?per_page=100000")]
    [InlineData("/v2/users/me/apps/hardening/datasets?per_page=1001")]
    [InlineData("/v2/users/clarifai/apps/main/models?per_page=1001")]
    public async Task Per_page_over_1000_answers_11102_on_every_list(string path)
    {
        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, path));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11102, body.Code());
        Assert.StartsWith("per_page must be at most 1000; got ", body.Details(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Per_page_over_1000_answers_11102_over_gRPC_too()
    {
        var apps = await iris.Grpc.ListAppsAsync(new ListAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" }, PerPage = 100000 }, IrisFixture.PatMetadata);
        var inputs = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = HardeningFixture.App, PerPage = 100000 }, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.ConnInvalidRequest, apps.Status.Details), (inputs.Status.Code, inputs.Status.Details));
    }

    [Fact]
    public void Page_defaults_and_offsets_follow_one_rule()
    {
        Assert.Equal(new Page(1, 128), Paging.Read(0, 0));
        Assert.Equal(new Page(1, 20), Paging.Read(0, 0, defaultPerPage: 20));
        Assert.Equal(1000, Paging.Read(3, 1000).Size);
        Assert.Equal(2000, Paging.Read(3, 1000).Offset);
        Assert.Equal([3, 4], Paging.Read(2, 2).Of([1, 2, 3, 4, 5]));
        Assert.Empty(Paging.Read(uint.MaxValue, 1000).Of([1, 2, 3]));
        Assert.Equal(StatusCode.ConnInvalidRequest, Assert.Throws<IrisException>(() => Paging.Read(1, 1001)).Code);
    }

    [Theory]
    [InlineData("a", false, true)]
    [InlineData("_under-score_", false, true)]
    [InlineData("_under", true, false)]
    [InlineData("me", false, true)]
    [InlineData("me", true, false)]
    [InlineData("", false, false)]
    [InlineData("with space", false, false)]
    [InlineData("dot.ted", true, false)]
    [InlineData("é", false, false)]
    public void Ids_follow_one_rule(string id, bool owner, bool valid) => Assert.Equal(valid, Ids.IsValid(id, owner ? IdKind.Owner : IdKind.Resource));

    [Fact]
    public void Ids_are_at_most_48_characters()
    {
        Assert.True(Ids.IsValid(new string('a', 48)));
        Assert.Equal("must be between 1 and 48 characters long", Ids.Problem(new string('a', 49)));
    }
}
