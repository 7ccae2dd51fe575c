using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

// PostInputsSearches with one vector rank pages exactly: walking every page of three gives, hit for hit, one big page,
// by image and by input id, with and without a filter, over gRPC and REST. 30 inputs are the 5 photos 6 times each, so
// every score is tied 6 ways: ties come in one order (input id), never split differently by two pages.
public abstract partial class SearchTests<TFixture>
{
    private async Task<string> AppOfRepeatedPhotosAsync()
    {
        var appId = await iris.CreateAppAsync("search-input-pages-" + Guid.NewGuid().ToString("N")[..8]);
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        for (var i = 0; i < 30; i++)
        {
            // Every other input carries the label "even": the filtered walk sees 15 of them.
            post.Inputs.Add(SearchFixture.Photo("r" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture), FixtureImages.Photos[i % 5], concept: i % 2 == 0 ? ("even", 1f) : null));
        }

        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        foreach (var input in post.Inputs)
        {
            Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(appId, input.Id)).Status.Code);
        }

        return appId;
    }

    [Fact]
    public async Task Input_search_pages_of_one_vector_rank_continue_each_other_exactly()
    {
        var appId = await AppOfRepeatedPhotosAsync();
        var even = new Filter { Annotation = new Annotation { Data = Labels(("even", 1)) } };
        var byImage = new Query { Ranks = { ImageRank(FixtureImages.Photos[1]) } };
        var byInput = new Query { Ranks = { new Rank { Annotation = new Annotation { InputId = "r03" } } } };
        var byImageFiltered = new Query { Ranks = { ImageRank(FixtureImages.Photos[1]) }, Filters = { even } };
        var byInputFiltered = new Query { Ranks = { new Rank { Annotation = new Annotation { InputId = "r03" } } }, Filters = { even } };

        var image = await InputSearchPages.AssertWalkTheBigPageAsync(30, (page, perPage) => InputSearchPages.GrpcAsync(iris.Grpc, appId, byImage, page, perPage));
        var input = await InputSearchPages.AssertWalkTheBigPageAsync(30, (page, perPage) => InputSearchPages.GrpcAsync(iris.Grpc, appId, byInput, page, perPage));
        var imageFiltered = await InputSearchPages.AssertWalkTheBigPageAsync(15, (page, perPage) => InputSearchPages.GrpcAsync(iris.Grpc, appId, byImageFiltered, page, perPage));
        var inputFiltered = await InputSearchPages.AssertWalkTheBigPageAsync(15, (page, perPage) => InputSearchPages.GrpcAsync(iris.Grpc, appId, byInputFiltered, page, perPage));

        // The six copies of the query photo (r01, r06, …; for r03: r03, r08, …) come first (tied when their embeddings are equal).
        Assert.Equal(["r01", "r06", "r11", "r16", "r21", "r26"], image.Take(6).Select(h => h.Input).Order(StringComparer.Ordinal));
        Assert.True(image[0].Score > 0.95f && image[5].Score > image[6].Score, $"the photo itself scored {image[0].Score}, its copies down to {image[5].Score}, the next {image[6].Score}");
        Assert.Equal(["r03", "r08", "r13", "r18", "r23", "r28"], input.Take(6).Select(h => h.Input).Order(StringComparer.Ordinal));
        Assert.Equal(image.Where(h => int.Parse(h.Input[1..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0), imageFiltered);
        Assert.Equal(input.Where(h => int.Parse(h.Input[1..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0), inputFiltered);

        // REST: the same walk, by image bytes and by input id, with the filter on one of them.
        var base64 = Convert.ToBase64String(FixtureImages.Photos[1]);
        var restImage = await InputSearchPages.AssertWalkTheBigPageAsync(30, (page, perPage) =>
            InputSearchPages.RestAsync(iris.Http, appId, "{\"ranks\": [{\"annotation\": {\"data\": {\"image\": {\"base64\": \"" + base64 + "\"}}}}]}", page, perPage));
        var restInputFiltered = await InputSearchPages.AssertWalkTheBigPageAsync(15, (page, perPage) =>
            InputSearchPages.RestAsync(iris.Http, appId, """{"ranks": [{"annotation": {"input_id": "r03"}}], "filters": [{"annotation": {"data": {"concepts": [{"id": "even", "value": 1}]}}}]}""", page, perPage));
        Assert.Equal(image.Select(h => h.Input), restImage.Select(h => h.Input));
        Assert.Equal(inputFiltered.Select(h => h.Input), restInputFiltered.Select(h => h.Input));
    }
}
