using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Tests.Infrastructure;
using SkiaSharp;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// Inputs end to end over gRPC and REST: PostInputs answers at once with 30001, workers take each input to 30000 with
/// image_info and hosted copies, or to its precise failure status; reads, patches, counts, add-jobs and asynchronous
/// deletion behave as CLARIFAI_FACTS.md 4 describes.
/// </summary>
public abstract class InputsTests<TFixture>(TFixture iris) : IClassFixture<TFixture>, IDisposable
    where TFixture : InputsFixture
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    private static Input ImageBytes(string id, byte[] bytes) => new() { Id = id, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(bytes) } } };

    private static Input ImageUrl(string id, string url) => new() { Id = id, Data = new Data { Image = new Image { Url = url, AllowDuplicateUrl = true } } };

    private async Task<MultiInputResponse> PostAsync(string app, params Input[] inputs)
    {
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        request.Inputs.Add(inputs);
        return await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);
    }

    [Fact]
    public async Task Images_by_bytes_and_URL_and_text_go_from_pending_to_success_with_hosted_copies()
    {
        var app = await iris.CreateAppAsync("ingest");
        var text = new Input { Id = "t1", Data = new Data { Text = new Text { Raw = "a train at a station" } } };
        var posted = await PostAsync(app, ImageBytes("b1", FixtureImages.Metro), ImageUrl("u1", iris.Web.BaseUrl + "/photo/1.jpg"), text);
        Assert.Equal(StatusCode.Success, posted.Status.Code);
        Assert.All(posted.Inputs, i => Assert.Equal(StatusCode.InputPending, i.Status.Code));
        Assert.All(posted.Inputs, i => Assert.Equal("Download pending", i.Status.Description));
        Assert.Equal(["b1", "u1", "t1"], posted.Inputs.Select(i => i.Id));

        var b1 = await iris.WaitProcessedAsync(app, "b1");
        Assert.Equal(StatusCode.InputSuccess, b1.Status.Code);
        Assert.Equal(512, b1.Data.Image.ImageInfo.Width);
        Assert.Equal(384, b1.Data.Image.ImageInfo.Height);
        Assert.Equal("JPEG", b1.Data.Image.ImageInfo.Format);
        Assert.Equal("RGB", b1.Data.Image.ImageInfo.ColorMode);
        var hosted = b1.Data.Image.Hosted;
        Assert.Equal(["orig", "small"], hosted.Sizes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(FixtureImages.Metro)), hosted.Suffix);
        Assert.StartsWith($"http://127.0.0.1:{iris.Server.HttpPort}/hosted/users/admin/apps/{app}/", hosted.Prefix, StringComparison.Ordinal);

        using (var orig = await iris.Http.SendAsync(IrisFixture.Authorized(HttpMethod.Get, $"{hosted.Prefix}/orig/{hosted.Suffix}")))
        {
            Assert.Equal(HttpStatusCode.OK, orig.StatusCode);
            Assert.Equal("image/jpeg", orig.Content.Headers.ContentType?.MediaType);
            Assert.Equal(FixtureImages.Metro, await orig.Content.ReadAsByteArrayAsync());
        }

        using (var small = await iris.Http.SendAsync(IrisFixture.Authorized(HttpMethod.Get, $"{hosted.Prefix}/small/{hosted.Suffix}")))
        {
            using var thumb = SKBitmap.Decode(await small.Content.ReadAsByteArrayAsync());
            Assert.Equal((320, 240), (thumb.Width, thumb.Height));
        }

        var (anonymous, refusal, _) = await Json.GetAsync(iris.Http, $"{hosted.Prefix}/orig/{hosted.Suffix}");
        Assert.Equal(HttpStatusCode.NotFound, anonymous);
        Assert.Equal(11101, refusal.Code());
        var otherUser = $"http://127.0.0.1:{iris.Server.HttpPort}/hosted/users/someone/apps/{app}/inputs/image/orig/{hosted.Suffix}";
        Assert.Equal(HttpStatusCode.NotFound, (await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, otherUser))).Status);

        var (missing, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"{hosted.Prefix}/orig/{new string('0', 64)}"));
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal(11101, body.Code());

        var u1 = await iris.WaitProcessedAsync(app, "u1");
        Assert.Equal(StatusCode.InputSuccess, u1.Status.Code);
        Assert.Equal(iris.Web.BaseUrl + "/photo/1.jpg", u1.Data.Image.Url);
        Assert.True(u1.Data.Image.ImageInfo.Width > 0);
        var t1 = await iris.WaitProcessedAsync(app, "t1");
        Assert.Equal(StatusCode.InputSuccess, t1.Status.Code);
        Assert.Equal("a train at a station", t1.Data.Text.Raw);
    }

    [Fact]
    public async Task A_concept_without_value_is_0_over_gRPC_and_1_over_JSON_and_metadata_and_geo_are_kept()
    {
        var app = await iris.CreateAppAsync("values");
        var grpc = ImageBytes("g", FixtureImages.Metro);
        grpc.Data.Concepts.Add(new Concept { Id = "dog" });
        grpc.Data.Metadata = new Struct { Fields = { ["key1"] = Value.ForNumber(123) } };
        grpc.Data.Geo = new Geo { GeoPoint = new GeoPoint { Longitude = -30, Latitude = 40 } };
        Assert.Equal(StatusCode.Success, (await PostAsync(app, grpc)).Status.Code);
        var json = """{"inputs":[{"id":"j","data":{"text":{"raw":"hi"},"concepts":[{"id":"dog"}]}}]}""";
        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{app}/inputs", json));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(30001, body.GetProperty("inputs")[0].GetProperty("status").GetProperty("code").GetInt32());

        var g = await iris.WaitProcessedAsync(app, "g");
        Assert.Equal(0f, g.Data.Concepts.Single().Value);
        Assert.Equal("dog", g.Data.Concepts.Single().Name);
        Assert.Equal(123, g.Data.Metadata.Fields["key1"].NumberValue);
        Assert.Equal(40, g.Data.Geo.GeoPoint.Latitude);
        var (_, got, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/inputs/j"));
        Assert.Equal(1.0, got.GetProperty("input").GetProperty("data").GetProperty("concepts")[0].GetProperty("value").GetDouble());

        // The input-level annotation holds them.
        var annotations = await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app), InputIds = { "g" } }, IrisFixture.PatMetadata);
        var level = Assert.Single(annotations.Annotations);
        Assert.True(level.InputLevel);
        Assert.Equal(StatusCode.AnnotationSuccess, level.Status.Code);
        Assert.Equal("dog", level.Data.Concepts.Single().Id);
    }

    [Fact]
    public async Task JSON_booleans_as_concept_values_are_stored_as_1_and_0_like_the_legacy_client_sends_them()
    {
        var app = await iris.CreateAppAsync("booleans");
        var json = """{"inputs":[{"id":"b","data":{"text":{"raw":"hi"},"concepts":[{"id":"dog","value":true},{"id":"cat","value":false}],"metadata":{"flag":true}}}]}""";
        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{app}/inputs", json));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10000, body.GetProperty("status").GetProperty("code").GetInt32());

        var annotations = await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app), InputIds = { "b" } }, IrisFixture.PatMetadata);
        var level = Assert.Single(annotations.Annotations);
        Assert.Equal(1f, level.Data.Concepts.Single(c => c.Id == "dog").Value);
        Assert.Equal(0f, level.Data.Concepts.Single(c => c.Id == "cat").Value);
        Assert.True(level.Data.Metadata.Fields["flag"].BoolValue);

        // A boolean where the number is not a float stays a bad format.
        var (refused, error, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{app}/inputs/searches",
            """{"searches":[{"query":{"ranks":[{"annotation":{"data":{"concepts":[{"id":"dog","value":true}]}}}]}}],"pagination":{"page":true}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal(11100, error.GetProperty("status").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Duplicate_ids_fail_that_input_and_SUFFIX_renames()
    {
        var app = await iris.CreateAppAsync("dups");
        Assert.Equal(StatusCode.Success, (await PostAsync(app, ImageBytes("same", FixtureImages.Metro))).Status.Code);

        var mixed = await PostAsync(app, ImageBytes("same", FixtureImages.Metro), ImageBytes("other", FixtureImages.Metro));
        Assert.Equal(StatusCode.MixedStatus, mixed.Status.Code);
        Assert.Equal(StatusCode.InputDuplicate, mixed.Inputs[0].Status.Code);
        Assert.Equal("Input has a duplicate ID.", mixed.Inputs[0].Status.Details);
        Assert.Equal(StatusCode.InputPending, mixed.Inputs[1].Status.Code);

        var failed = await PostAsync(app, ImageBytes("same", FixtureImages.Metro));
        Assert.Equal(StatusCode.Failure, failed.Status.Code);

        var inRequest = await PostAsync(app, ImageBytes("twice", FixtureImages.Metro), ImageBytes("twice", FixtureImages.Metro));
        Assert.Equal(StatusCode.MixedStatus, inRequest.Status.Code);
        Assert.Equal("Input has a duplicate ID.", inRequest.Inputs[1].Status.Details);

        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app), InputIdConflictResolution = InputIDConflictResolution.Suffix };
        request.Inputs.Add(ImageBytes("same", FixtureImages.Metro));
        var suffixed = await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, suffixed.Status.Code);
        Assert.Equal("same-1", suffixed.Inputs[0].Id);

        var generated = await PostAsync(app, ImageBytes(string.Empty, FixtureImages.Metro));
        Assert.Matches("^[0-9a-f]{32}$", generated.Inputs[0].Id);

        // allow_duplicate_url false refuses a URL the app already has.
        var url = iris.Web.BaseUrl + "/photo/2.jpg";
        Assert.Equal(StatusCode.Success, (await PostAsync(app, ImageUrl("url-a", url))).Status.Code);
        var again = await PostAsync(app, new Input { Id = "url-b", Data = new Data { Image = new Image { Url = url } } });
        Assert.Equal(StatusCode.InputDuplicate, again.Inputs[0].Status.Code);
        Assert.Contains("duplicate URL", again.Inputs[0].Status.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_bad_input_gets_its_precise_status_and_the_server_keeps_serving()
    {
        var app = await iris.CreateAppAsync("bad");
        var web = iris.Web.BaseUrl;
        var posted = await PostAsync(app,
            ImageBytes("truncated", FixtureImages.Truncated),
            ImageBytes("corrupt", FixtureImages.CorruptPng),
            ImageBytes("not-image", "just some text, not an image"u8.ToArray()),
            ImageBytes("huge-pixels", FixtureImages.HugePng),
            ImageUrl("html", web + "/page.html"),
            ImageUrl("missing", web + "/nothing-here.jpg"),
            ImageUrl("hang", web + "/hang.jpg"),
            ImageUrl("big", web + "/big.jpg"),
            ImageUrl("ftp", "ftp://example.com/a.jpg"),
            new Input { Id = new string('a', 49), Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(FixtureImages.Metro) } } },
            new Input { Id = "bad id!", Data = new Data { Text = new Text { Raw = "x" } } },
            new Input { Id = "no-data" },
            new Input { Id = "unknown-dataset", DatasetIds = { "nope" }, Data = new Data { Text = new Text { Raw = "x" } } },
            ImageBytes("good", FixtureImages.Photos[2]));
        Assert.Equal(StatusCode.MixedStatus, posted.Status.Code);
        var byId = posted.Inputs.ToDictionary(i => i.Id);
        Assert.Equal(StatusCode.InputInvalidRequest, byId[new string('a', 49)].Status.Code);
        Assert.Equal("id must be between 1 and 48 characters long", byId[new string('a', 49)].Status.Details);
        Assert.Equal(StatusCode.InputInvalidRequest, byId["bad id!"].Status.Code);
        Assert.Equal(StatusCode.InputInvalidUrl, byId["ftp"].Status.Code);
        Assert.Equal("'ftp://example.com/a.jpg' is not an http or https URL.", byId["ftp"].Status.Details);
        Assert.Equal(StatusCode.InputInvalidArgument, byId["no-data"].Status.Code);
        Assert.Equal(StatusCode.ConnDoesNotExist, byId["unknown-dataset"].Status.Code);
        Assert.Equal($"Dataset 'nope' does not exist in app '{app}'.", byId["unknown-dataset"].Status.Details);

        async Task Expect(string id, StatusCode code, string detailsPart)
        {
            var input = await iris.WaitProcessedAsync(app, id);
            Assert.True(input.Status.Code == code, $"{id}: {input.Status.Code} {input.Status.Details}");
            Assert.Contains(detailsPart, input.Status.Details, StringComparison.Ordinal);
        }

        await Expect("truncated", StatusCode.InputFailed, "corrupt or truncated");
        await Expect("corrupt", StatusCode.InputFailed, "corrupt or truncated");
        await Expect("not-image", StatusCode.InputUnsupportedFormat, "not an image Iris decodes");
        await Expect("huge-pixels", StatusCode.InputOverLimit, "85 megapixels");
        await Expect("html", StatusCode.InputUnsupportedFormat, "The URL returned text/html content");
        await Expect("missing", StatusCode.InputFailed, "answered HTTP 404 (Not Found)");
        await Expect("hang", StatusCode.InputConnectionFailed, "did not answer within 4 s");
        await Expect("big", StatusCode.InputOverLimit, "bytes; the limit is 20971520 bytes");
        await Expect("good", StatusCode.InputSuccess, string.Empty);
        Assert.Equal("Input image format unsupported", (await iris.WaitProcessedAsync(app, "html")).Status.Description);

        // Request-level refusals.
        var tooMany = new PostInputsRequest { UserAppId = InputsFixture.App(app) };
        tooMany.Inputs.Add(Enumerable.Range(0, 129).Select(i => new Input { Data = new Data { Text = new Text { Raw = "x" } } }));
        var refused = await iris.Grpc.PostInputsAsync(tooMany, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.InputInvalidRequest, refused.Status.Code);
        Assert.Equal("At most 128 inputs per request; got 129.", refused.Status.Details);
        Assert.Empty(refused.Inputs);

        var (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{app}/inputs",
            """{"inputs":[{"data":{"image":{"base64":"%%% not base64 %%%"}}}]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11100, body.Code());
        Assert.Contains("Could not parse the request body", body.Details(), StringComparison.Ordinal);

        (status, body, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Post, $"/v2/users/me/apps/{app}/inputs",
            """{"inputs":[{"data":{"image":{"url":"https://example.com/a.jpg","crop":[0.1,0.1,0.5,0.5]}}}]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(30104, body.Code());
        Assert.Contains("image.crop is no longer supported", body.Details(), StringComparison.Ordinal);

        // Over gRPC, crop arrives as field 3 of Image (reserved since it was removed).
        var withCrop = new Image { Url = "https://example.com/a.jpg" }.ToByteArray().Concat(new byte[] { (3 << 3) | 2, 4, 1, 2, 3, 4 }).ToArray();
        var cropped = await PostAsync(app, new Input { Id = "cropped", Data = new Data { Image = Image.Parser.ParseFrom(withCrop) } });
        Assert.Equal(StatusCode.InputInvalidArgument, cropped.Inputs[0].Status.Code);
        Assert.StartsWith("image.crop is no longer supported", cropped.Inputs[0].Status.Details, StringComparison.Ordinal);

        var over = await PostAsync(app, ImageBytes("over", new byte[(20 * 1024 * 1024) + 1]));
        Assert.Equal(StatusCode.InputOverLimit, over.Inputs[0].Status.Code);

        // And everyone else is still served.
        Assert.Equal(StatusCode.Success, (await PostAsync(app, ImageBytes("after", FixtureImages.Metro))).Status.Code);
        Assert.Equal(StatusCode.InputSuccess, (await iris.WaitProcessedAsync(app, "after")).Status.Code);
        var counts = await iris.Grpc.GetInputCountAsync(new GetInputCountRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata);
        Assert.Equal(2u, counts.Counts.Processed);
        Assert.Equal(8u, counts.Counts.Errors);
        Assert.Equal(0u, counts.Counts.ToProcess + counts.Counts.Processing);
    }

    [Fact]
    public async Task Private_addresses_are_refused_unless_the_operator_allows_them()
    {
        using var fetcher = new Iris.Core.Fetching.UrlFetcher(new Iris.Core.Fetching.UrlFetcherOptions());
        var error = await Assert.ThrowsAsync<Iris.Core.Errors.IrisException>(() => fetcher.FetchAsync(new Uri(iris.Web.BaseUrl + "/photo/0.jpg"), CancellationToken.None));
        Assert.Equal(StatusCode.InputInvalidUrl, error.Code);
        Assert.Contains("IRIS_INGEST_ALLOW_PRIVATE_URLS", error.Details, StringComparison.Ordinal);
        foreach (var address in new[] { "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "fe80::1", "100.64.0.1", "0.0.0.0" })
        {
            Assert.True(Iris.Core.Fetching.AddressGuard.IsInternal(IPAddress.Parse(address)), address);
        }

        Assert.False(Iris.Core.Fetching.AddressGuard.IsInternal(IPAddress.Parse("93.184.216.34")));
        Assert.False(Iris.Core.Fetching.AddressGuard.IsInternal(IPAddress.Parse("2606:2800:220:1::1")));
    }

    [Fact]
    public async Task List_stream_count_patch_and_delete_work_as_documented()
    {
        var app = await iris.CreateAppAsync("crud");
        var inputs = Enumerable.Range(0, 5).Select(i =>
        {
            var input = new Input { Id = "in" + i, Data = new Data { Text = new Text { Raw = "text " + i } } };
            input.Data.Concepts.Add(new Concept { Id = "c" + i, Value = 1 });
            input.Data.Concepts.Add(new Concept { Id = "shared", Value = 1 });
            input.Data.Metadata = new Struct { Fields = { ["key1"] = Value.ForString("v"), ["nested"] = Value.ForStruct(new Struct { Fields = { ["a"] = Value.ForNumber(1) } }) } };
            return input;
        }).ToArray();
        await PostAsync(app, inputs);
        foreach (var input in inputs)
        {
            await iris.WaitProcessedAsync(app, input.Id);
        }

        var page1 = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = InputsFixture.App(app), Page = 1, PerPage = 2 }, IrisFixture.PatMetadata);
        var page3 = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = InputsFixture.App(app), Page = 3, PerPage = 2 }, IrisFixture.PatMetadata);
        Assert.Equal(["in4", "in3"], page1.Inputs.Select(i => i.Id));
        Assert.Equal(["in0"], page3.Inputs.Select(i => i.Id));
        var (_, beyond, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/inputs?page=1000&per_page=500"));
        Assert.Equal(JsonValueKind.Array, beyond.GetProperty("inputs").ValueKind);
        Assert.Equal(0, beyond.GetProperty("inputs").GetArrayLength());
        var filtered = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = InputsFixture.App(app), Ids = { "in1", "in2", "zzz" }, Status = new Clarifai.Api.Status.Status { Code = StatusCode.InputSuccess } }, IrisFixture.PatMetadata);
        Assert.Equal(["in2", "in1"], filtered.Inputs.Select(i => i.Id));
        var tooBig = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = InputsFixture.App(app), PerPage = 1001 }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnInvalidRequest, tooBig.Status.Code);

        var stream = await iris.Grpc.StreamInputsAsync(new StreamInputsRequest { UserAppId = InputsFixture.App(app), PerPage = 2, LastId = "in1" }, IrisFixture.PatMetadata);
        Assert.Equal(["in2", "in3"], stream.Inputs.Select(i => i.Id));
        var down = await iris.Grpc.StreamInputsAsync(new StreamInputsRequest { UserAppId = InputsFixture.App(app), PerPage = 10, LastId = "in3", Descending = true, OrderById = true }, IrisFixture.PatMetadata);
        Assert.Equal(["in2", "in1", "in0"], down.Inputs.Select(i => i.Id));

        // merge: new concept appended, metadata merged, geo replaced.
        var merge = new PatchInputsRequest { UserAppId = InputsFixture.App(app), Action = "merge" };
        merge.Inputs.Add(new Input
        {
            Id = "in0",
            Data = new Data
            {
                Concepts = { new Concept { Id = "another-positive-concept", Value = 1 } },
                Metadata = new Struct { Fields = { ["new-key"] = Value.ForString("new-value"), ["nested"] = Value.ForStruct(new Struct { Fields = { ["b"] = Value.ForNumber(2) } }) } },
                Geo = new Geo { GeoPoint = new GeoPoint { Longitude = 1, Latitude = 2 } },
            },
        });
        var merged = await iris.Grpc.PatchInputsAsync(merge, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, merged.Status.Code);
        Assert.Equal(StatusCode.InputModifySuccess, merged.Inputs[0].Status.Code);
        Assert.Equal(["c0", "shared", "another-positive-concept"], merged.Inputs[0].Data.Concepts.Select(c => c.Id));
        Assert.Equal("v", merged.Inputs[0].Data.Metadata.Fields["key1"].StringValue);
        Assert.Equal("new-value", merged.Inputs[0].Data.Metadata.Fields["new-key"].StringValue);
        Assert.Equal(2, merged.Inputs[0].Data.Metadata.Fields["nested"].StructValue.Fields.Count);
        Assert.Equal("text 0", merged.Inputs[0].Data.Text.Raw);

        // remove: concept by id, metadata key with true.
        var remove = new PatchInputsRequest { UserAppId = InputsFixture.App(app), Action = "remove" };
        remove.Inputs.Add(new Input { Id = "in0", Data = new Data { Concepts = { new Concept { Id = "shared" } }, Metadata = new Struct { Fields = { ["key1"] = Value.ForBool(true) } } } });
        var removed = await iris.Grpc.PatchInputsAsync(remove, IrisFixture.PatMetadata);
        Assert.Equal(["c0", "another-positive-concept"], removed.Inputs[0].Data.Concepts.Select(c => c.Id));
        Assert.False(removed.Inputs[0].Data.Metadata.Fields.ContainsKey("key1"));

        // overwrite: concepts replaced, text kept.
        var overwrite = new PatchInputsRequest { UserAppId = InputsFixture.App(app), Action = "overwrite" };
        overwrite.Inputs.Add(new Input { Id = "in0", Data = new Data { Concepts = { new Concept { Id = "some-new-concept", Value = 1 } } } });
        var overwritten = await iris.Grpc.PatchInputsAsync(overwrite, IrisFixture.PatMetadata);
        Assert.Equal("some-new-concept", overwritten.Inputs[0].Data.Concepts.Single().Name);
        Assert.Null(overwritten.Inputs[0].Data.Metadata);
        Assert.Equal("text 0", overwritten.Inputs[0].Data.Text.Raw);

        var badAction = await iris.Grpc.PatchInputsAsync(new PatchInputsRequest { UserAppId = InputsFixture.App(app), Action = "replace", Inputs = { new Input { Id = "in0" } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnInvalidRequest, badAction.Status.Code);
        var missing = await iris.Grpc.PatchInputsAsync(new PatchInputsRequest { UserAppId = InputsFixture.App(app), Action = "merge", Inputs = { new Input { Id = "nope" } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, missing.Status.Code);

        // Counts: all eight counters always on the wire.
        var (_, counts, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/inputs/status"));
        Assert.Equal(5, counts.GetProperty("counts").GetProperty("processed").GetInt32());
        Assert.Equal(8, counts.GetProperty("counts").EnumerateObject().Count());

        // Delete: asynchronous, then 11101; annotations go with the inputs.
        var deleted = await iris.Grpc.DeleteInputsAsync(new DeleteInputsRequest { UserAppId = InputsFixture.App(app), Ids = { "in0", "in1" } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, deleted.Status.Code);
        var (status, gone, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, $"/v2/users/me/apps/{app}/inputs/in0"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal(11101, gone.Code());
        var single = await iris.Grpc.DeleteInputAsync(new DeleteInputRequest { UserAppId = InputsFixture.App(app), InputId = "in2" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.Success, single.Status.Code);
        var again = await iris.Grpc.DeleteInputAsync(new DeleteInputRequest { UserAppId = InputsFixture.App(app), InputId = "in2" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, again.Status.Code);
        var tooMany = new DeleteInputsRequest { UserAppId = InputsFixture.App(app) };
        tooMany.Ids.Add(Enumerable.Range(0, 129).Select(i => "x" + i));
        var refused = await iris.Grpc.DeleteInputsAsync(tooMany, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnInvalidRequest, refused.Status.Code);
        Assert.Equal("At most 128 ids per DeleteInputs request; got 129.", refused.Status.Details);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await iris.Grpc.ListAnnotationsAsync(new ListAnnotationsRequest { UserAppId = InputsFixture.App(app), InputIds = { "in0", "in1", "in2" } }, IrisFixture.PatMetadata)).Annotations.Count > 0
            || (await iris.Grpc.GetConceptCountsAsync(new GetConceptCountsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata)).ConceptCounts.Single(c => c.Id == "shared").ConceptTypeCount.Positive != 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "annotations of deleted inputs were not purged");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Deleting_inputs_deletes_their_blobs_once_unreferenced()
    {
        var app = await iris.CreateAppAsync("blobs");
        var photo = FixtureImages.UniquePng(4242);
        await PostAsync(app, ImageBytes("p1", photo), ImageBytes("p2", photo));
        var p1 = await iris.WaitProcessedAsync(app, "p1");
        await iris.WaitProcessedAsync(app, "p2");
        var path = Path.Combine(iris.DataDir, "blobs", p1.Data.Image.Hosted.Suffix[..2], p1.Data.Image.Hosted.Suffix[2..4], p1.Data.Image.Hosted.Suffix);
        Assert.True(File.Exists(path));

        await iris.Grpc.DeleteInputAsync(new DeleteInputRequest { UserAppId = InputsFixture.App(app), InputId = "p1" }, IrisFixture.PatMetadata);
        var still = await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = InputsFixture.App(app), InputId = "p2" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.InputSuccess, still.Input.Status.Code);
        await iris.Grpc.DeleteInputAsync(new DeleteInputRequest { UserAppId = InputsFixture.App(app), InputId = "p2" }, IrisFixture.PatMetadata);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (File.Exists(path))
        {
            Assert.True(DateTime.UtcNow < deadline, "blob still present after both inputs were deleted");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Add_jobs_report_progress_and_can_be_cancelled()
    {
        var app = await iris.CreateAppAsync("jobs");
        var request = new PostInputsRequest { UserAppId = InputsFixture.App(app), InputsAddJobId = "job-1" };
        request.Inputs.Add(Enumerable.Range(0, 6).Select(i => ImageUrl("j" + i, iris.Web.BaseUrl + $"/photo/{i}.jpg?slow=1")));
        request.Inputs.Add(ImageUrl("j-bad", iris.Web.BaseUrl + "/nothing.jpg"));
        var posted = await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal("job-1", posted.InputsAddJob.Id);
        Assert.Equal(7ul, posted.InputsAddJob.Progress.PendingCount + posted.InputsAddJob.Progress.InProgressCount + posted.InputsAddJob.Progress.SuccessCount + posted.InputsAddJob.Progress.FailedCount);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        InputsAddJob job;
        while (true)
        {
            job = (await iris.Grpc.GetInputsAddJobAsync(new GetInputsAddJobRequest { UserAppId = InputsFixture.App(app), Id = "job-1" }, IrisFixture.PatMetadata)).InputsAddJob;
            if (job.Progress.PendingCount == 0 && job.Progress.InProgressCount == 0)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(50);
        }

        Assert.Equal(6ul, job.Progress.SuccessCount);
        Assert.Equal(1ul, job.Progress.FailedCount);
        Assert.Equal(StatusCode.JobCompleted, job.Status.Code);
        var list = await iris.Grpc.ListInputsAddJobsAsync(new ListInputsAddJobsRequest { UserAppId = InputsFixture.App(app) }, IrisFixture.PatMetadata);
        Assert.Equal("job-1", list.InputsAddJobs.Single().Id);
        var cancelled = await iris.Grpc.CancelInputsAddJobAsync(new CancelInputsAddJobRequest { UserAppId = InputsFixture.App(app), Id = "job-1" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.JobCancelled, cancelled.InputsAddJob.Status.Code);
        var unknown = await iris.Grpc.GetInputsAddJobAsync(new GetInputsAddJobRequest { UserAppId = InputsFixture.App(app), Id = "nope" }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnDoesNotExist, unknown.Status.Code);
    }
}

public sealed class InputsTestsOnSqlite(InputsFixture iris) : InputsTests<InputsFixture>(iris);

public sealed class InputsTestsOnPostgres(PostgresInputsFixture iris) : InputsTests<PostgresInputsFixture>(iris);
