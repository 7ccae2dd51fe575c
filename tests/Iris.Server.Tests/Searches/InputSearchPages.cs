using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;

/// <summary>
/// The search tests' paging helpers: one page of PostInputsSearches hits over gRPC or REST, and the walk that checks
/// that pages continue each other.
/// </summary>
internal static class InputSearchPages
{
    public static async Task<List<(string Input, float Score)>> GrpcAsync(V2.V2Client client, string appId, Query query, uint page, uint perPage)
    {
        var request = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(appId), Pagination = new Pagination { Page = page, PerPage = perPage } };
        request.Searches.Add(new SearchMessage { Query = query });
        var response = await client.PostInputsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return [.. response.Hits.Select(h => (h.Input.Id, h.Score))];
    }

    public static async Task<List<(string Input, float Score)>> RestAsync(HttpClient http, string appId, string queryJson, uint page, uint perPage) =>
        [.. (await RestHitsAsync(http, $"/v2/users/me/apps/{appId}/inputs/searches", queryJson, page, perPage)).Select(h => (h.GetProperty("input").GetProperty("id").GetString()!, h.GetProperty("score").GetSingle()))];

    /// <summary>The hits of one page of a REST search (<paramref name="path"/>: inputs or annotations searches) that answered 10000.</summary>
    public static async Task<List<JsonElement>> RestHitsAsync(HttpClient http, string path, string queryJson, uint page, uint perPage)
    {
        var body = $$$"""{"searches": [{"query": {{{queryJson}}}}], "pagination": {"page": {{{page}}}, "per_page": {{{perPage}}}}}""";
        var (status, json, _) = await Json.SendAsync(http, IrisFixture.Authorized(HttpMethod.Post, path, body));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        return [.. json.GetProperty("hits").EnumerateArray()];
    }

    /// <summary>Pages of three fetched until a short one: each holds at most three hits; returns them in order.</summary>
    public static async Task<List<T>> WalkAsync<T>(Func<uint, uint, Task<List<T>>> fetch)
    {
        var walked = new List<T>();
        for (uint page = 1; ; page++)
        {
            var hits = await fetch(page, 3);
            Assert.True(hits.Count <= 3);
            walked.AddRange(hits);
            if (hits.Count < 3)
            {
                return walked;
            }
        }
    }

    /// <summary>
    /// Pages of three walked to the end give, hit for hit, the one big page of <paramref name="expected"/> distinct
    /// inputs, in one total order: score descending, equal scores by input id. Returns the big page.
    /// </summary>
    public static async Task<List<(string Input, float Score)>> AssertWalkTheBigPageAsync(int expected, Func<uint, uint, Task<List<(string Input, float Score)>>> fetch)
    {
        var all = await fetch(1, 100);
        Assert.Equal(expected, all.Count);
        Assert.Equal(expected, all.Select(h => h.Input).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(all, await WalkAsync(fetch));

        // One total order: score descending, equal scores by input id.
        for (var i = 1; i < all.Count; i++)
        {
            Assert.True(all[i - 1].Score > all[i].Score || (all[i - 1].Score == all[i].Score && string.CompareOrdinal(all[i - 1].Input, all[i].Input) < 0),
                $"hit {i - 1} ({all[i - 1].Input}, {all[i - 1].Score}) before hit {i} ({all[i].Input}, {all[i].Score})");
        }

        return all;
    }
}
