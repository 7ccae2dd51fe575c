using System.Net;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

// Concept ranks score only inputs the base workflow's concept model ran on: the text input t0 (no image model runs on
// text) is never a hit, where it used to score 0 (1 for value 0, so it came first).
public abstract partial class SearchTests<TFixture>
{
    private static readonly string[] FivePhotos = ["p0", "p1", "p2", "p3", "p4"];

    private static Rank ConceptRank(string name, float value, bool negate = false) =>
        new() { Annotation = new Annotation { Data = new Data { Concepts = { new Concept { Name = name, Value = value } } } }, Negate = negate };

    [Fact]
    public async Task Concept_ranks_leave_out_inputs_the_concept_model_never_ran_on()
    {
        foreach (var (value, negate) in new[] { (1f, false), (0f, false), (1f, true) })
        {
            var ranked = await SearchAsync([ConceptRank("train", value, negate)]);
            Assert.Equal(FivePhotos, Ids(ranked).Order(StringComparer.Ordinal));
            AssertScoresDescending(ranked);
        }

        Assert.Empty(Ids(await SearchAsync([ConceptRank("train", 0)], [new Filter { Input = new Input { Id = "t0" } }])));

        var count = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(AppId), OnlyCount = true };
        count.Searches.Add(new SearchMessage { Query = new Query { Ranks = { ConceptRank("train", 0) } } });
        var counted = await iris.Grpc.PostInputsSearchesAsync(count, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, counted.Status.Code);
        Assert.Equal(5UL, Assert.Single(counted.HitCounts).EstimatedTotal);

        var body = """{"searches": [{"query": {"ranks": [{"annotation": {"data": {"concepts": [{"name": "train", "value": 0}]}}}]}}], "pagination": {"page": 1, "per_page": 10}}""";
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{AppId}/inputs/searches", body));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        var ids = json.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("input").GetProperty("id").GetString()!).ToList();
        Assert.Equal(FivePhotos, ids.Order(StringComparer.Ordinal));
        Assert.Equal("p0", ids[^1]);
    }
}
