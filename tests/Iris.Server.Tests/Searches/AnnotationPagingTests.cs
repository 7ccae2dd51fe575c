using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

// PostAnnotationsSearches pages are exact: walking every page of three gives, hit for hit, the one big page, for a
// visual rank (with exact ties: the same photo twice) and for a filter-only query, over gRPC and REST.
public abstract partial class SearchTests<TFixture>
{
    private async Task<string> AppWithAnnotationsAsync()
    {
        var appId = await iris.CreateAppAsync("search-pages-" + Guid.NewGuid().ToString("N")[..8]);
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        for (var i = 0; i < 8; i++)
        {
            post.Inputs.Add(SearchFixture.Photo("in" + i, FixtureImages.Photos[i % 5], concept: ("page", 1f)));
        }

        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        var annotations = new PostAnnotationsRequest { UserAppId = InputsFixture.App(appId) };
        foreach (var input in post.Inputs)
        {
            Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(appId, input.Id)).Status.Code);
            for (var k = 0; k < 3; k++)
            {
                annotations.Annotations.Add(new Annotation { InputId = input.Id, Data = Labels(("extra" + k, 1)) });
            }
        }

        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostAnnotationsAsync(annotations, IrisFixture.PatMetadata)).Status.Code);
        return appId;
    }

    private async Task<List<(string Input, string Annotation, float Score)>> AnnotationPageAsync(string appId, Query query, uint page, uint perPage)
    {
        var request = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(appId), Pagination = new Pagination { Page = page, PerPage = perPage } };
        request.Searches.Add(new SearchMessage { Query = query });
        var response = await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return [.. response.Hits.Select(h => (h.Input.Id, h.Annotation.Id, h.Score))];
    }

    private async Task<List<(string Input, string Annotation, float Score)>> RestAnnotationPageAsync(string appId, string queryJson, uint page, uint perPage) =>
        [.. (await InputSearchPages.RestHitsAsync(iris.Http, $"/v2/users/me/apps/{appId}/annotations/searches", queryJson, page, perPage)).Select(h =>
            (h.GetProperty("input").GetProperty("id").GetString()!, h.GetProperty("annotation").GetProperty("id").GetString()!, h.GetProperty("score").GetSingle()))];

    private static async Task AssertPagesWalkTheBigPageAsync(Func<uint, uint, Task<List<(string Input, string Annotation, float Score)>>> fetch)
    {
        var all = await fetch(1, 100);
        Assert.Equal(32, all.Count); // 8 inputs × (input-level + 3 more)
        Assert.Equal(32, all.Select(h => h.Annotation).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(all, await InputSearchPages.WalkAsync(fetch));
    }

    [Fact]
    public async Task Annotation_search_pages_continue_each_other_exactly()
    {
        var appId = await AppWithAnnotationsAsync();
        var visual = new Query { Ranks = { ImageRank(FixtureImages.Photos[0]) } };
        var filterOnly = new Query { Filters = { new Filter { Input = new Input { Data = new Data { Image = new Image() } } } } };

        await AssertPagesWalkTheBigPageAsync((page, perPage) => AnnotationPageAsync(appId, visual, page, perPage));
        await AssertPagesWalkTheBigPageAsync((page, perPage) => AnnotationPageAsync(appId, filterOnly, page, perPage));
        await AssertPagesWalkTheBigPageAsync((page, perPage) => RestAnnotationPageAsync(appId, """{"filters": [{"input": {"data": {"image": {}}}}]}""", page, perPage));

        // The visual order: both copies of photo 0 (in0, in5) first at about 1, each input's annotations together.
        var ranked = await AnnotationPageAsync(appId, visual, 1, 100);
        Assert.Equal(["in0", "in5"], ranked.Take(8).Select(h => h.Input).Distinct().Order(StringComparer.Ordinal));
        Assert.True(ranked[0].Score > 0.99f, $"photo 0 scored {ranked[0].Score}");
        AssertScoresDescending(new MultiSearchResponse { Hits = { ranked.Select(h => new Hit { Score = h.Score }) } });
        Assert.Equal(8, ranked.Chunk(4).Count(c => c.Select(h => h.Input).Distinct().Count() == 1));
    }
}
