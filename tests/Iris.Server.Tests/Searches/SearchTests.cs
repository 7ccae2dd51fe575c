using System.Net;
using System.Text.Json;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Apps;
using Iris.Inference.Indexing;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using Iris.Storage.Vectors;
using Microsoft.Extensions.DependencyInjection;
using SearchMessage = Clarifai.Api.Search;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Searches;


/// <summary>
/// Search end to end on real photos (CLARIFAI_FACTS.md 7): visual ranks by bytes, URL, stored input and raw vector score
/// the same photo about 1 and others lower; predicted-concept ranks follow the base workflow's predictions; filters by
/// labels, metadata (OR rule, nesting), geo (circle in every unit, box), media type, status, ids, annotation fields and
/// negation select exactly the matching inputs at score 1; pagination, the deep-page refusal, only_count, annotation
/// hits, the legacy query.ands, deletion leaving results at once, and precise refusals of what cannot be answered.
/// </summary>
public abstract partial class SearchTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : SearchFixture
{
    private const string AppId = SearchFixture.AppId;

    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private static Rank ImageRank(byte[] bytes) => new() { Annotation = new Annotation { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(bytes) } } } };

    private static Filter DataFilter(Data data, bool negate = false) => new() { Annotation = new Annotation { Data = data }, Negate = negate };

    private static Data Labels(params (string Id, float Value)[] concepts)
    {
        var data = new Data();
        data.Concepts.Add(concepts.Select(c => new Concept { Id = c.Id, Value = c.Value }));
        return data;
    }

    private static Data Metadata(string json) => new() { Metadata = Struct.Parser.ParseJson(json) };

    private async Task<MultiSearchResponse> SearchAsync(IEnumerable<Rank>? ranks = null, IEnumerable<Filter>? filters = null, uint perPage = 20, uint page = 1,
        Action<SearchMessage>? configure = null, string appId = AppId)
    {
        var search = new SearchMessage { Query = new Query() };
        search.Query.Ranks.Add(ranks ?? []);
        search.Query.Filters.Add(filters ?? []);
        configure?.Invoke(search);
        var request = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(appId), Pagination = new Pagination { Page = page, PerPage = perPage } };
        request.Searches.Add(search);
        return await iris.Grpc.PostInputsSearchesAsync(request, IrisFixture.PatMetadata);
    }

    private static List<string> Ids(MultiSearchResponse response)
    {
        Assert.Equal(StatusCode.Success, response.Status.Code);
        return [.. response.Hits.Select(h => h.Input.Id)];
    }

    private static void AssertScoresDescending(MultiSearchResponse response)
    {
        for (var i = 0; i < response.Hits.Count; i++)
        {
            Assert.InRange(response.Hits[i].Score, 0f, 1f);
            if (i > 0)
            {
                Assert.True(response.Hits[i - 1].Score >= response.Hits[i].Score, $"hit {i} scores {response.Hits[i].Score} above hit {i - 1} ({response.Hits[i - 1].Score})");
            }
        }
    }

    [Fact]
    public async Task Visual_search_by_bytes_finds_the_same_photo_first_at_about_one_and_others_lower()
    {
        var response = await SearchAsync([ImageRank(FixtureImages.Photos[0])]);

        var ids = Ids(response);
        Assert.Equal(5, ids.Count); // the five photos; the text input has no embedding
        Assert.Equal("p0", ids[0]);
        Assert.True(response.Hits[0].Score > 0.99f, $"same photo scored {response.Hits[0].Score}");
        Assert.True(response.Hits[1].Score < 0.97f, $"another photo scored {response.Hits[1].Score}");
        Assert.True(response.Hits[^1].Score > 0.4f, $"an unrelated photo scored {response.Hits[^1].Score}: scores should sit near 0.5 or above for unrelated images");
        AssertScoresDescending(response);
        Assert.All(response.Hits, h => Assert.Equal(("admin", AppId), (h.UserId, h.AppId)));
        Assert.Equal(30000, (int)response.Hits[0].Input.Status.Code);
        Assert.Equal("rail", response.Hits[0].Input.Data.Metadata.Fields["kind"].StringValue);
    }

    [Fact]
    public async Task Visual_search_by_url_by_input_id_and_by_raw_vector_agree()
    {
        var byUrl = await SearchAsync([new Rank { Annotation = new Annotation { Data = new Data { Image = new Image { Url = iris.Web.BaseUrl + "/photo/1.jpg" } } } }]);
        var byInput = await SearchAsync([new Rank { Annotation = new Annotation { InputId = "p0" } }]);
        var stored = await iris.Server.Services.GetRequiredService<IInputIndexStore>().FindEmbeddingAsync(new AppRef("admin", AppId), "p0", default);
        Assert.NotNull(stored);
        var embedding = new Embedding { NumDimensions = (uint)stored.Vector.Length };
        embedding.Vector.Add(stored.Vector);
        var rank = new Rank { Annotation = new Annotation { Data = new Data() } };
        rank.Annotation.Data.Embeddings.Add(embedding);
        var byVector = await SearchAsync([rank]);

        Assert.Equal("p0", Ids(byInput)[0]);
        Assert.True(byInput.Hits[0].Score > 0.999f);
        Assert.Equal(Ids(byInput), Ids(byVector));
        Assert.Equal(byInput.Hits.Select(h => h.Score), byVector.Hits.Select(h => h.Score));
        Assert.Equal(5, Ids(byUrl).Count);
        AssertScoresDescending(byUrl);
    }

    [Fact]
    public async Task Ranking_by_a_predicted_concept_puts_the_train_photo_first_and_value_zero_last()
    {
        var byName = await SearchAsync([new Rank { Annotation = new Annotation { Data = new Data { Concepts = { new Concept { Name = "train", Value = 1 } } } } }]);
        var byIdNegative = await SearchAsync([new Rank { Annotation = new Annotation { Data = new Data { Concepts = { new Concept { Id = "ai_HLmqFqBf", Value = 0 } } } } }]);

        Assert.Equal("p0", Ids(byName)[0]);
        Assert.True(byName.Hits[0].Score >= 0.2f, $"train scored {byName.Hits[0].Score}");
        AssertScoresDescending(byName);
        Assert.Equal("p0", Ids(byIdNegative)[^1]);
        AssertScoresDescending(byIdNegative);
    }

    [Fact]
    public async Task Label_filters_select_positives_negatives_by_id_or_name_and_negate_inverts()
    {
        var positive = await SearchAsync(filters: [DataFilter(Labels(("train", 1)))]);
        var negative = await SearchAsync(filters: [DataFilter(Labels(("train", 0)))]);
        var byName = await SearchAsync(filters: [DataFilter(new Data { Concepts = { new Concept { Name = "PEOPLE", Value = 1 } } })]);
        var notTrain = await SearchAsync(filters: [DataFilter(Labels(("train", 1)), negate: true)]);

        Assert.Equal(["p0"], Ids(positive));
        Assert.Equal(1f, positive.Hits[0].Score);
        Assert.Equal(["p2"], Ids(negative));
        Assert.Equal(["p1"], Ids(byName));
        Assert.Equal(["t0", "p4", "p3", "p2", "p1"], Ids(notTrain)); // newest first
        Assert.All(notTrain.Hits, h => Assert.Equal(1f, h.Score));
    }

    [Fact]
    public async Task Metadata_filters_match_by_containment_and_or_several_keys()
    {
        Assert.Equal(["p0"], Ids(await SearchAsync(filters: [DataFilter(Metadata("""{"kind": "rail"}"""))])));
        Assert.Equal(["p0"], Ids(await SearchAsync(filters: [DataFilter(Metadata("""{"city": {"name": "nyc"}}"""))])));
        Assert.Equal(["p0"], Ids(await SearchAsync(filters: [DataFilter(Metadata("""{"tags": ["b"]}"""))])));
        Assert.Empty(Ids(await SearchAsync(filters: [DataFilter(Metadata("""{"city": {"name": "nyc", "borough": "queens"}}"""))])));

        // Clarifai's rule: several keys are OR-ed.
        Assert.Equal(["p1", "p0"], Ids(await SearchAsync(filters: [DataFilter(Metadata("""{"kind": "faces", "city": {"name": "nyc"}}"""))])));
        Assert.Equal(["t0", "p4", "p3", "p2", "p1"], Ids(await SearchAsync(filters: [DataFilter(Metadata("""{"kind": "rail"}"""), negate: true)])));
    }

    [Fact]
    public async Task Geo_filters_take_a_point_with_a_limit_in_every_unit_or_a_box()
    {
        Data Near(float lon, float lat, string type, float value) => new()
        {
            Geo = new Geo { GeoPoint = new GeoPoint { Longitude = lon, Latitude = lat }, GeoLimit = new GeoLimit { Type = type, Value = value } },
        };
        var (lon, lat) = SearchFixture.Paris;

        Assert.Equal(["p2", "p1"], Ids(await SearchAsync(filters: [DataFilter(Near(lon, lat, "withinKilometers", 10))])));
        Assert.Equal(["p1"], Ids(await SearchAsync(filters: [DataFilter(Near(lon, lat, "withinKilometers", 5))])));
        Assert.Equal(["p2", "p1"], Ids(await SearchAsync(filters: [DataFilter(Near(lon, lat, "withinMiles", 5))])));
        Assert.Equal(["p1"], Ids(await SearchAsync(filters: [DataFilter(Near(lon, lat, "withinMiles", 4))])));
        Assert.Equal(["p2", "p1"], Ids(await SearchAsync(filters: [DataFilter(Near(lon, lat, "withinDegrees", 1))])));
        Assert.Equal(["p2", "p1", "p0"], Ids(await SearchAsync(filters: [DataFilter(Near(lon, lat, "withinRadians", 1.2f))])));

        var box = new Data { Geo = new Geo() };
        box.Geo.GeoBox.Add(new GeoBoxedPoint { GeoPoint = new GeoPoint { Longitude = -75, Latitude = 40 } });
        box.Geo.GeoBox.Add(new GeoBoxedPoint { GeoPoint = new GeoPoint { Longitude = -73, Latitude = 41 } });
        Assert.Equal(["p0"], Ids(await SearchAsync(filters: [DataFilter(box)])));
    }

    [Fact]
    public async Task Input_filters_select_media_type_status_ids_and_annotation_fields()
    {
        var text = await SearchAsync(filters: [new Filter { Input = new Input { Data = new Data { Text = new Text() } } }]);
        var images = await SearchAsync(filters: [new Filter { Input = new Input { Data = new Data { Image = new Image() } } }]);
        var status = await SearchAsync(filters: [new Filter { Input = new Input { Status = new Clarifai.Api.Status.Status { Code = StatusCode.InputSuccess } } }]);
        var pending = await SearchAsync(filters: [new Filter { Input = new Input { Status = new Clarifai.Api.Status.Status { Code = StatusCode.InputPending } } }]);
        var byInput = await SearchAsync(filters: [new Filter { Annotation = new Annotation { InputId = "p3" } }]);
        var inputLevel = await SearchAsync(filters: [new Filter { Annotation = new Annotation { InputLevel = true } }]);
#pragma warning disable CS0612 // user_id is deprecated; clients still filter by it.
        var byAuthor = await SearchAsync(filters: [new Filter { Annotation = new Annotation { UserId = "admin" } }]);
        var byStranger = await SearchAsync(filters: [new Filter { Annotation = new Annotation { UserId = "steve" } }]);
        var notByStranger = await SearchAsync(filters: [new Filter { Annotation = new Annotation { UserId = "steve" }, Negate = true }]);
        var rankedByAuthor = await SearchAsync([ImageRank(FixtureImages.Photos[1])],
            [new Filter { Annotation = new Annotation { UserId = "admin", Status = new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationSuccess } } }]);
#pragma warning restore CS0612
        var annotationSuccess = await SearchAsync(filters: [new Filter { Annotation = new Annotation { Status = new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationSuccess } } }]);
        var awaitingReview = await SearchAsync(filters: [new Filter { Annotation = new Annotation { Status = new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationAwaitingReview } } }]);
        var rankedAwaitingReview = await SearchAsync([ImageRank(FixtureImages.Photos[1])],
            [new Filter { Annotation = new Annotation { Status = new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationAwaitingReview } } }]);
        var recent = await SearchAsync(filters: [new Filter { LastUpdatedTimeRange = new TimeRange { StartTime = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(-1)) } }]);
        var future = await SearchAsync(filters: [new Filter { LastUpdatedTimeRange = new TimeRange { StartTime = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(1)) } }]);

        Assert.Equal(["t0"], Ids(text));
        Assert.Equal(["p4", "p3", "p2", "p1", "p0"], Ids(images));
        Assert.Equal(6, Ids(status).Count);
        Assert.Empty(Ids(pending));
        Assert.Equal(["p3"], Ids(byInput));
        Assert.Equal(6, Ids(inputLevel).Count);
        Assert.Equal(["t0", "p4", "p3", "p2", "p1", "p0"], Ids(byAuthor));
        Assert.Empty(Ids(byStranger));
        Assert.Equal(["t0", "p4", "p3", "p2", "p1", "p0"], Ids(notByStranger));
        Assert.Equal("p1", Ids(rankedByAuthor)[0]);
        Assert.Equal(["p0", "p1", "p2", "p3", "p4"], Ids(rankedByAuthor).Order(StringComparer.Ordinal));
        Assert.Equal(["t0", "p4", "p3", "p2", "p1", "p0"], Ids(annotationSuccess));
        Assert.Empty(Ids(awaitingReview));
        Assert.Empty(Ids(rankedAwaitingReview));
        Assert.Equal(6, Ids(recent).Count);
        Assert.Empty(Ids(future));
    }

    [Fact]
    public async Task Model_version_filters_select_the_inputs_a_base_workflow_model_processed_and_trusted_the_user_annotations()
    {
        var models = await iris.Server.Services.GetRequiredService<IBaseWorkflows>().ForAppAsync(new AppRef("admin", AppId), default);
        var (embedder, concepts) = (models.Embedder!.Descriptor.VersionId, models.Concepts!.Descriptor.VersionId);
        Filter Model(string version, bool negate = false, Action<Annotation>? more = null)
        {
#pragma warning disable CS0612 // model_version_id and trusted are deprecated; clients still filter by them.
            var annotation = new Annotation { ModelVersionId = version };
#pragma warning restore CS0612
            more?.Invoke(annotation);
            return new Filter { Annotation = annotation, Negate = negate };
        }

#pragma warning disable CS0612
        void Trusted(Annotation a) => a.Trusted = true;
        void ByAdmin(Annotation a) => a.UserId = "admin";
        var trusted = await SearchAsync(filters: [new Filter { Annotation = new Annotation { Trusted = true } }]);
        var notTrusted = await SearchAsync(filters: [new Filter { Annotation = new Annotation { Trusted = true }, Negate = true }]);
#pragma warning restore CS0612

        // The photos were embedded and classified by the base workflow; the text input by neither model.
        Assert.Equal(["p4", "p3", "p2", "p1", "p0"], Ids(await SearchAsync(filters: [Model(embedder)])));
        Assert.Equal(["p4", "p3", "p2", "p1", "p0"], Ids(await SearchAsync(filters: [Model(concepts)])));
        Assert.Equal(["t0"], Ids(await SearchAsync(filters: [Model(embedder, negate: true)])));
        Assert.Empty(Ids(await SearchAsync(filters: [Model("aa7f35c01e0642fda5cf400f543e7c40")])));
        Assert.Equal(["p4", "p3", "p2", "p1", "p0"], Ids(await SearchAsync(filters: [Model(embedder, more: a => { a.InputLevel = true; a.Status = new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationSuccess }; })])));
        var ranked = await SearchAsync([ImageRank(FixtureImages.Photos[3])], [Model(concepts)]);
        Assert.Equal("p3", Ids(ranked)[0]);
        Assert.Equal(5, ranked.Hits.Count);

        // A model's output is never trusted, has no author and no review status other than success.
        Assert.Empty(Ids(await SearchAsync(filters: [Model(embedder, more: Trusted)])));
        Assert.Empty(Ids(await SearchAsync(filters: [Model(embedder, more: ByAdmin)])));
        Assert.Empty(Ids(await SearchAsync(filters: [Model(embedder, more: a => a.Status = new Clarifai.Api.Status.Status { Code = StatusCode.AnnotationAwaitingReview })])));

        // Every stored annotation is a user's (trusted), and every input here has one.
        Assert.Equal(["t0", "p4", "p3", "p2", "p1", "p0"], Ids(trusted));
        Assert.Empty(Ids(notTrusted));

        // Annotation hits of model outputs are the model annotations (ModelAnnotationTests): one per processed photo.
        var request = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(AppId) };
        request.Searches.Add(new SearchMessage { Query = new Query { Filters = { Model(embedder) } } });
        var hits = await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, hits.Status.Code);
        Assert.Equal(["p0", "p1", "p2", "p3", "p4"], hits.Hits.Select(h => h.Input.Id).Order(StringComparer.Ordinal));
        Assert.All(hits.Hits, h => Assert.Equal((h.Input.Id, embedder), (h.Annotation.InputId, h.Annotation.Worker.Model.ModelVersion.Id)));
    }

    [Fact]
    public async Task Ranks_and_filters_combine_with_and()
    {
        var (lon, lat) = SearchFixture.Paris;
        var near = new Data { Geo = new Geo { GeoPoint = new GeoPoint { Longitude = lon, Latitude = lat }, GeoLimit = new GeoLimit { Type = "withinKilometers", Value = 50 } } };
        var all = await SearchAsync([ImageRank(FixtureImages.Photos[1])]);
        var combined = await SearchAsync([ImageRank(FixtureImages.Photos[1])], [DataFilter(near)]);

        Assert.Equal(["p1", "p2"], Ids(combined));
        var scores = all.Hits.ToDictionary(h => h.Input.Id, h => h.Score);
        Assert.All(combined.Hits, h => Assert.Equal(scores[h.Input.Id], h.Score));
    }

    [Fact]
    public async Task Pages_are_disjoint_and_ordered_the_deep_page_is_refused_and_only_count_counts()
    {
        var first = await SearchAsync([ImageRank(FixtureImages.Photos[0])], perPage: 2, page: 1);
        var second = await SearchAsync([ImageRank(FixtureImages.Photos[0])], perPage: 2, page: 2);
        var third = await SearchAsync([ImageRank(FixtureImages.Photos[0])], perPage: 2, page: 3);
        var whole = await SearchAsync([ImageRank(FixtureImages.Photos[0])], perPage: 10);
        Assert.Equal(Ids(whole), [.. Ids(first), .. Ids(second), .. Ids(third)]);
        Assert.Single(Ids(third));

        var deep = await SearchAsync(filters: [], perPage: 1000, page: 11);
        Assert.Equal(StatusCode.SearchInvalidRequest, deep.Status.Code);
        Assert.Contains("page * perPage cannot exceed 10000", deep.Status.Details, StringComparison.Ordinal);

        var request = new PostInputsSearchesRequest { UserAppId = InputsFixture.App(AppId), OnlyCount = true };
        request.Searches.Add(new SearchMessage { Query = new Query { Filters = { DataFilter(Labels(("train", 1)), negate: true) } } });
        var counted = await iris.Grpc.PostInputsSearchesAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, counted.Status.Code);
        Assert.Empty(counted.Hits);
        Assert.Equal(5ul, Assert.Single(counted.HitCounts).EstimatedTotal);
    }

    [Fact]
    public async Task Min_value_drops_low_scores_and_bad_search_settings_are_refused()
    {
        var high = await SearchAsync([ImageRank(FixtureImages.Photos[0])], configure: s => s.MinValue = 0.99f);
        Assert.Equal(["p0"], Ids(high));

        var cosine = await SearchAsync([ImageRank(FixtureImages.Photos[0])], configure: s => (s.Metric, s.Algorithm) = (SearchMessage.Types.Metric.CosineDistance, "nearest_neighbor"));
        Assert.Equal(StatusCode.SearchInvalidRequest, cosine.Status.Code);
        Assert.Contains("COSINE_DISTANCE", cosine.Status.Details, StringComparison.Ordinal);
        var brute = await SearchAsync([ImageRank(FixtureImages.Photos[0])], configure: s => (s.Metric, s.Algorithm) = (SearchMessage.Types.Metric.CosineDistance, "brute_force"));
        Assert.Equal("p0", Ids(brute)[0]);

        var badMin = await SearchAsync(filters: [], configure: s => s.MinValue = 2);
        Assert.Equal((StatusCode.SearchInvalidRequest, "Search.min_value must be between 0 and 1 (scores lie in [0, 1]); got 2."), (badMin.Status.Code, badMin.Status.Details));
        var badAlgorithm = await SearchAsync(filters: [], configure: s => s.Algorithm = "annoy");
        Assert.Equal(StatusCode.SearchInvalidRequest, badAlgorithm.Status.Code);

        var text = await SearchAsync([new Rank { Annotation = new Annotation { Data = new Data { Text = new Text { Raw = "a train" } } } }]);
        Assert.Equal(StatusCode.SearchInvalidRequest, text.Status.Code);
        Assert.Contains("has no text embedding model", text.Status.Details, StringComparison.Ordinal);

        var badGeo = await SearchAsync(filters: [DataFilter(new Data { Geo = new Geo { GeoPoint = new GeoPoint { Longitude = 1, Latitude = 2 }, GeoLimit = new GeoLimit { Type = "withinParsecs", Value = 1 } } })]);
        Assert.Equal(StatusCode.SearchInvalidRequest, badGeo.Status.Code);
        Assert.Contains("withinKilometers, withinMiles, withinDegrees or withinRadians; got 'withinParsecs'", badGeo.Status.Details, StringComparison.Ordinal);

        var notIndexed = await SearchAsync([new Rank { Annotation = new Annotation { InputId = "t0" } }]);
        Assert.Equal(StatusCode.SearchByNotFullyIndexedInput, notIndexed.Status.Code);

        var wrongLength = new Rank { Annotation = new Annotation { Data = new Data() } };
        wrongLength.Annotation.Data.Embeddings.Add(new Embedding { Vector = { 1f, 2f, 3f } });
        var shortVector = await SearchAsync([wrongLength]);
        Assert.Equal(StatusCode.SearchInvalidRequest, shortVector.Status.Code);
        Assert.Contains("has 3 dimensions", shortVector.Status.Details, StringComparison.Ordinal);

        var unknownConcept = await SearchAsync([new Rank { Annotation = new Annotation { Data = new Data { Concepts = { new Concept { Id = "no-such-concept", Value = 1 } } } } }]);
        Assert.Equal(StatusCode.SearchInvalidRequest, unknownConcept.Status.Code);
    }

    [Fact]
    public async Task The_sdk_empty_rank_is_a_no_op()
    {
        var response = await SearchAsync([new Rank { Annotation = new Annotation() }], [new Filter { Annotation = new Annotation { Data = Labels(("train", 1)) }, Input = new Input() }]);
        Assert.Equal(["p0"], Ids(response));
    }

    [Fact]
    public async Task Annotation_search_answers_one_hit_per_matching_annotation_with_its_input()
    {
        var search = new SearchMessage { Query = new Query { Filters = { DataFilter(Labels(("train", 1))) } } };
        var request = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(AppId), Pagination = new Pagination { PerPage = 10 } };
        request.Searches.Add(search);
        var response = await iris.Grpc.PostAnnotationsSearchesAsync(request, IrisFixture.PatMetadata);

        Assert.Equal(StatusCode.Success, response.Status.Code);
        var hit = Assert.Single(response.Hits);
        Assert.Equal(("p0", "p0", true), (hit.Input.Id, hit.Annotation.InputId, hit.Annotation.InputLevel));
        Assert.Equal("train", Assert.Single(hit.Annotation.Data.Concepts).Id);
        Assert.Equal(1f, hit.Score);

        var visual = new PostAnnotationsSearchesRequest { UserAppId = InputsFixture.App(AppId), Pagination = new Pagination { PerPage = 3 } };
        visual.Searches.Add(new SearchMessage { Query = new Query { Ranks = { ImageRank(FixtureImages.Photos[2]) } } });
        var ranked = await iris.Grpc.PostAnnotationsSearchesAsync(visual, IrisFixture.PatMetadata);
        Assert.Equal(3, ranked.Hits.Count);
        Assert.Equal("p2", ranked.Hits[0].Annotation.InputId);
        AssertScoresDescending(new MultiSearchResponse { Hits = { ranked.Hits } });
    }

    [Fact]
    public async Task Legacy_post_searches_takes_query_ands_with_input_filters_and_output_ranks()
    {
#pragma warning disable CS0612 // the legacy query is deprecated; this is what old clients send.
        var request = new PostSearchesRequest
        {
            UserAppId = InputsFixture.App(AppId),
            Query = new Query
            {
                Ands =
                {
                    new And { Output = new Output { Input = new Input { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(FixtureImages.Photos[0]) } } } } },
                    new And { Input = new Input { Data = new Data { Metadata = Struct.Parser.ParseJson("""{"kind": "rail"}""") } }, Negate = true },
                },
            },
            Pagination = new Pagination { PerPage = 10 },
        };
        var response = await iris.Grpc.PostSearchesAsync(request, IrisFixture.PatMetadata);
#pragma warning restore CS0612

        Assert.Equal(StatusCode.Success, response.Status.Code);
        Assert.Equal(4, response.Hits.Count);
        Assert.DoesNotContain(response.Hits, h => h.Input.Id == "p0");
        AssertScoresDescending(response);
    }

    [Fact]
    public async Task Rest_routes_answer_the_same_search_with_clarifai_json()
    {
        var base64 = Convert.ToBase64String(FixtureImages.Photos[0]);
        var body = """{"searches": [{"query": {"ranks": [{"annotation": {"data": {"image": {"base64": "B64"}}}}], """
            + """ "filters": [{"annotation": {"data": {"metadata": {"kind": "rail", "nope": 1}}}}]}}], "pagination": {"page": 1, "per_page": 5}}""";
        body = body.Replace("B64", base64, StringComparison.Ordinal);
        var (status, json, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{AppId}/inputs/searches", body));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, json.Code());
        var hit = Assert.Single(json.GetProperty("hits").EnumerateArray());
        Assert.Equal("p0", hit.GetProperty("input").GetProperty("id").GetString());
        Assert.True(hit.GetProperty("score").GetSingle() > 0.99f);

        var (emptyStatus, empty, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{AppId}/annotations/searches",
            """{"searches": [{"query": {"filters": [{"annotation": {"data": {"metadata": {"kind": "none"}}}}]}}]}"""));
        Assert.Equal(HttpStatusCode.OK, emptyStatus);
        Assert.Equal(JsonValueKind.Array, empty.GetProperty("hits").ValueKind); // always emitted
        Assert.Empty(empty.GetProperty("hits").EnumerateArray());

        var (badStatus, bad, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{AppId}/searches",
            """{"query": {"ands": [{"output": {"input": {"data": {"text": {"raw": "train"}}}}}]}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.Equal(40002, bad.Code());
    }

    [Fact]
    public async Task A_new_input_is_found_at_once_and_a_deleted_one_leaves_results_at_once()
    {
        var appId = await iris.CreateAppAsync("search-churn-" + Guid.NewGuid().ToString("N")[..8]);
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        post.Inputs.Add(SearchFixture.Photo("a", FixtureImages.Photos[0]));
        post.Inputs.Add(SearchFixture.Photo("b", FixtureImages.Photos[1]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(appId, "a");
        await iris.WaitProcessedAsync(appId, "b");
        Assert.Equal(["a", "b"], Ids(await SearchAsync([ImageRank(FixtureImages.Photos[0])], appId: appId)));

        var later = new PostInputsRequest { UserAppId = InputsFixture.App(appId) };
        later.Inputs.Add(SearchFixture.Photo("c", FixtureImages.Photos[0]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(later, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(appId, "c");
        Assert.Equal(["a", "c"], Ids(await SearchAsync([ImageRank(FixtureImages.Photos[0])], appId: appId)).Take(2).Order());

        var delete = new DeleteInputsRequest { UserAppId = InputsFixture.App(appId), Ids = { "a" } };
        Assert.Equal(StatusCode.Success, (await iris.Grpc.DeleteInputsAsync(delete, IrisFixture.PatMetadata)).Status.Code);
        Assert.Equal(["c", "b"], Ids(await SearchAsync([ImageRank(FixtureImages.Photos[0])], appId: appId)));
        Assert.Equal(["c", "b"], Ids(await SearchAsync(filters: [new Filter { Input = new Input { Data = new Data { Image = new Image() } } }], appId: appId)));
    }

    [Fact]
    public async Task Another_users_app_answers_as_missing_and_an_api_key_searches_on_the_short_routes()
    {
        var stranger = await iris.Grpc.PostInputsSearchesAsync(new PostInputsSearchesRequest
        {
            UserAppId = new UserAppIDSet { UserId = "admin", AppId = AppId },
            Searches = { new SearchMessage { Query = new Query() } },
        }, new global::Grpc.Core.Metadata { { "authorization", "Key " + iris.StrangerPat } });
        Assert.Equal(StatusCode.ConnDoesNotExist, stranger.Status.Code);
        Assert.Empty(stranger.Hits);

        var byKey = await iris.Grpc.PostInputsSearchesAsync(new PostInputsSearchesRequest
        {
            Searches = { new SearchMessage { Query = new Query { Filters = { DataFilter(Labels(("train", 1))) } } } },
        }, new global::Grpc.Core.Metadata { { "authorization", "Key " + iris.AppKey } });
        Assert.Equal(["p0"], Ids(byKey));

        var request = new HttpRequestMessage(HttpMethod.Post, "/v2/inputs/searches")
        {
            Content = new StringContent("""{"searches": [{"query": {"filters": [{"annotation": {"data": {"concepts": [{"id": "train", "value": 1}]}}}]}}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Key", iris.AppKey);
        var (status, json, _) = await Json.SendAsync(iris.Http, request);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("p0", Assert.Single(json.GetProperty("hits").EnumerateArray()).GetProperty("input").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Renaming_an_app_moves_its_index_and_a_new_app_under_the_old_id_starts_empty()
    {
        var before = await iris.CreateAppAsync("search-rename-" + Guid.NewGuid().ToString("N")[..8]);
        var post = new PostInputsRequest { UserAppId = InputsFixture.App(before) };
        post.Inputs.Add(SearchFixture.Photo("r1", FixtureImages.Photos[3]));
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PostInputsAsync(post, IrisFixture.PatMetadata)).Status.Code);
        await iris.WaitProcessedAsync(before, "r1");
        Assert.Equal(["r1"], Ids(await SearchAsync([ImageRank(FixtureImages.Photos[3])], appId: before)));

        var after = before + "-new";
        var rename = new PatchAppsIdsRequest { UserAppId = new UserAppIDSet { UserId = "me" }, Action = "overwrite" };
        rename.Ids.Add(new IdUpdateSource { Id = before, NewId = after });
        Assert.Equal(StatusCode.Success, (await iris.Grpc.PatchAppsIdsAsync(rename, IrisFixture.PatMetadata)).Status.Code);

        var moved = await SearchAsync([ImageRank(FixtureImages.Photos[3])], appId: after);
        Assert.Equal(["r1"], Ids(moved));
        Assert.True(moved.Hits[0].Score > 0.99f);
        Assert.Equal(after, moved.Hits[0].AppId);
        Assert.Equal(StatusCode.ConnDoesNotExist, (await SearchAsync([ImageRank(FixtureImages.Photos[3])], appId: before)).Status.Code);

        await iris.CreateAppAsync(before);
        Assert.Empty(Ids(await SearchAsync([ImageRank(FixtureImages.Photos[3])], appId: before)));
    }
}

public abstract partial class SearchTests<TFixture>
{
    [Fact]
    public async Task Saved_searches_are_stored_without_running_then_run_read_listed_patched_and_deleted()
    {
        var id = "saved-" + Guid.NewGuid().ToString("N")[..8];
        var save = new PostSearchesRequest { UserAppId = InputsFixture.App(AppId) };
        save.Searches.Add(new SearchMessage { Id = id, Name = "trains", Save = true, Query = new Query { Filters = { DataFilter(Labels(("train", 1))) } } });
#pragma warning disable CS0612 // PostSearches is deprecated (still served).
        var saved = await iris.Grpc.PostSearchesAsync(save, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, saved.Status.Code);
        Assert.Empty(saved.Hits);
        Assert.Equal((id, true), (Assert.Single(saved.Searches).Id, saved.Searches[0].Save));
        var again = await iris.Grpc.PostSearchesAsync(save, IrisFixture.PatMetadata);
#pragma warning restore CS0612
        Assert.Equal(StatusCode.SavedSearchModifyFailed, again.Status.Code);
        Assert.Contains($"'{id}' already exists", again.Status.Details, StringComparison.Ordinal);

        var run = await iris.Grpc.PostSearchesByIDAsync(new PostSearchesByIDRequest { UserAppId = InputsFixture.App(AppId), Id = id, Pagination = new Pagination { PerPage = 10 } }, IrisFixture.PatMetadata);
        Assert.Equal(["p0"], Ids(run));

        var got = await iris.Grpc.GetSearchAsync(new GetSearchRequest { UserAppId = InputsFixture.App(AppId), Id = id }, IrisFixture.PatMetadata);
        Assert.Equal(("trains", "train"), (got.Search.Name, got.Search.Query.Filters[0].Annotation.Data.Concepts[0].Id));
        var listed = await iris.Grpc.ListSearchesAsync(new ListSearchesRequest { UserAppId = InputsFixture.App(AppId), PerPage = 100 }, IrisFixture.PatMetadata);
        Assert.Contains(listed.Searches, s => s.Id == id);

        var patch = new PatchSearchesRequest { UserAppId = InputsFixture.App(AppId), Action = "merge" };
        patch.Searches.Add(new SearchMessage { Id = id, Query = new Query { Filters = { DataFilter(Labels(("train", 0))) } } });
        var patched = await iris.Grpc.PatchSearchesAsync(patch, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, patched.Status.Code);
        Assert.Equal("trains", patched.Searches[0].Name);
        var rerun = await iris.Grpc.PostSearchesByIDAsync(new PostSearchesByIDRequest { UserAppId = InputsFixture.App(AppId), Id = id }, IrisFixture.PatMetadata);
        Assert.Equal(["p2"], Ids(rerun));

        var deleted = await iris.Grpc.DeleteSearchAsync(new DeleteSearchRequest { UserAppId = InputsFixture.App(AppId), Id = id }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, deleted.Status.Code);
        var gone = await iris.Grpc.GetSearchAsync(new GetSearchRequest { UserAppId = InputsFixture.App(AppId), Id = id }, IrisFixture.PatMetadata);
        Assert.Equal((StatusCode.ConnDoesNotExist, $"Saved search '{id}' does not exist in app '{AppId}'."), (gone.Status.Code, gone.Status.Details));
        var runGone = await iris.Grpc.PostSearchesByIDAsync(new PostSearchesByIDRequest { UserAppId = InputsFixture.App(AppId), Id = id }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, runGone.Status.Code);

        var badSave = new PostSearchesRequest { UserAppId = InputsFixture.App(AppId) };
        badSave.Searches.Add(new SearchMessage { Id = "bad-geo", Save = true, Query = new Query { Filters = { DataFilter(new Data { Geo = new Geo { GeoPoint = new GeoPoint() } }) } } });
#pragma warning disable CS0612
        Assert.Equal(StatusCode.SearchInvalidRequest, (await iris.Grpc.PostSearchesAsync(badSave, IrisFixture.PatMetadata)).Status.Code);
#pragma warning restore CS0612
        Assert.Equal(StatusCode.ConnDoesNotExist, (await iris.Grpc.GetSearchAsync(new GetSearchRequest { UserAppId = InputsFixture.App(AppId), Id = "bad-geo" }, IrisFixture.PatMetadata)).Status.Code);
    }

    [Fact]
    public async Task Post_dataset_inputs_by_search_adds_every_match()
    {
        var datasetId = "faces-" + Guid.NewGuid().ToString("N")[..8];
        var created = await iris.Grpc.PostDatasetsAsync(new PostDatasetsRequest { UserAppId = InputsFixture.App(AppId), Datasets = { new Dataset { Id = datasetId } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, created.Status.Code);
        var (lon, lat) = SearchFixture.Paris;
        var near = new Data { Geo = new Geo { GeoPoint = new GeoPoint { Longitude = lon, Latitude = lat }, GeoLimit = new GeoLimit { Type = "withinKilometers", Value = 50 } } };
        var request = new PostDatasetInputsRequest { UserAppId = InputsFixture.App(AppId), DatasetId = datasetId, Search = new SearchMessage { Query = new Query { Filters = { DataFilter(near) } } } };
        var added = await iris.Grpc.PostDatasetInputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, added.Status.Code);
        Assert.Equal(["p1", "p2"], added.DatasetInputs.Select(d => d.Input.Id).Order());

        var inDataset = await SearchAsync(filters: [new Filter { Input = new Input { DatasetIds = { datasetId } } }]);
        Assert.Equal(["p2", "p1"], Ids(inDataset));
    }
}

public sealed class SearchTestsOnSqlite(SearchFixture iris) : SearchTests<SearchFixture>(iris);

public sealed class SearchTestsOnPostgres(PostgresSearchFixture iris) : SearchTests<PostgresSearchFixture>(iris);

public sealed class SearchTestsOnHnsw(HnswSearchFixture iris) : SearchTests<HnswSearchFixture>(iris);
