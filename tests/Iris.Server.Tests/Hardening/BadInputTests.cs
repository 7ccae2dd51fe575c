using System.Net;
using System.Text;
using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Iris.Server.Tests.Infrastructure;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Hardening;

/// <summary>
/// Issue 16's defects, each over REST and gRPC: a bad body gets a precise Clarifai status naming the field, the
/// envelope, a 4xx HTTP status, and nothing is stored; no error is logged.
/// </summary>
public sealed class BadInputTests(HardeningFixture iris) : IClassFixture<HardeningFixture>, IDisposable
{
    private const string Url = "http://127.0.0.1:9/photo.jpg";

    public void Dispose()
    {
        Assert.Empty(iris.Logs.Errors);
        Assert.Empty(iris.Logs.WithExceptions);
    }

    public static TheoryData<string, string, string> DuplicateKeys => new()
    {
        { "inputs", """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"},"concepts":[{"id":"dog","value":1,"value":0}]}}]}""".Replace("@Url@", Url, StringComparison.Ordinal), "inputs[0].data.concepts[0].value" },
        { "inputs", """{"inputs":[{"id":"in1","id":"in2","data":{"image":{"url":"@Url@"}}}]}""".Replace("@Url@", Url, StringComparison.Ordinal), "inputs[0].id" },
        { "inputs", """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"},"metadata":{"a":1,"a":2}}}]}""".Replace("@Url@", Url, StringComparison.Ordinal), "inputs[0].data.metadata.a" },
        { "inputs", """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@","allow_duplicate_url":true,"allowDuplicateUrl":false}}}]}""".Replace("@Url@", Url, StringComparison.Ordinal), "inputs[0].data.image.allow_duplicate_url" },
        { "concepts", """{"concepts":[{"id":"cat","value":1,"value":1}]}""", "concepts[0].value" },
        { "annotations", """{"annotations":[{"input_id":"x","data":{"concepts":[{"id":"c"}]},"data":{}}]}""", "annotations[0].data" },
    };

    [Theory]
    [MemberData(nameof(DuplicateKeys))]
    public async Task A_duplicate_JSON_key_answers_11100_naming_the_field(string resource, string body, string field)
    {
        var (status, json) = await iris.SendJsonAsync(HttpMethod.Post, HardeningFixture.Path(resource), body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11100, json.Code());
        Assert.Equal("Bad request format", json.Description());
        Assert.Contains($"'{field}'", json.Details(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(json.GetProperty("status").GetProperty("req_id").GetString()));
        Assert.Equal(0, await iris.StoredInputsAsync());
        Assert.Equal(0, await iris.StoredConceptsAsync());
    }

    [Fact]
    public async Task Duplicate_keys_in_PostKeys_and_PostApps_answer_11100_not_500()
    {
        var (keys, keysJson) = await iris.SendJsonAsync(HttpMethod.Post, "/v2/users/me/keys", """{"keys":[{"description":"a","description":"b","scopes":["All"]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, keys);
        Assert.Equal(11100, keysJson.Code());
        Assert.Contains("'keys[0].description'", keysJson.Details(), StringComparison.Ordinal);

        var (apps, appsJson) = await iris.SendJsonAsync(HttpMethod.Post, "/v2/users/me/apps", """{"apps":[{"id":"dup1","id":"dup2"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, apps);
        Assert.Equal(11100, appsJson.Code());
        var list = await iris.Grpc.ListAppsAsync(new ListAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } }, IrisFixture.PatMetadata);
        Assert.DoesNotContain(list.Apps, a => a.Id is "dup1" or "dup2");
    }

    public static TheoryData<string, float> BadConceptValues => new()
    {
        { "\"NaN\"", float.NaN },
        { "\"Infinity\"", float.PositiveInfinity },
        { "\"-Infinity\"", float.NegativeInfinity },
        { "-0.5", -0.5f },
        { "1.5", 1.5f },
    };

    [Theory]
    [MemberData(nameof(BadConceptValues))]
    public async Task A_concept_value_outside_0_to_1_or_not_finite_answers_30104_over_REST(string json, float value)
    {
        _ = value;
        var (status, body) = await iris.SendJsonAsync(HttpMethod.Post, HardeningFixture.Path("inputs"),
            """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"},"concepts":[{"id":"dog","value":@json@}]}}]}""".Replace("@Url@", Url, StringComparison.Ordinal).Replace("@json@", json, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal((int)StatusCode.InputInvalidArgument, body.Code());
        Assert.Contains("'inputs[0].data.concepts[0].value'", body.Details(), StringComparison.Ordinal);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Theory]
    [MemberData(nameof(BadConceptValues))]
    public async Task A_concept_value_outside_0_to_1_or_not_finite_answers_30104_over_gRPC(string json, float value)
    {
        _ = json;
        var response = await iris.Grpc.PostInputsAsync(HardeningFixture.OneInput(i => i.Data.Concepts[0].Value = value), IrisFixture.PatMetadata);

        Assert.Equal(StatusCode.InputInvalidArgument, response.Status.Code);
        Assert.Contains("'inputs[0].data.concepts[0].value'", response.Status.Details, StringComparison.Ordinal);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task A_NaN_concept_value_in_PostConcepts_and_PostAnnotations_answers_the_familys_code()
    {
        var concepts = await iris.Grpc.PostConceptsAsync(new PostConceptsRequest { UserAppId = HardeningFixture.App, Concepts = { new Concept { Id = "c", Value = float.NaN } } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConceptsInvalidRequest, concepts.Status.Code);
        var annotation = new Annotation { InputId = "x", Data = new Data { Concepts = { new Concept { Id = "c", Value = float.NaN } } } };
        var annotations = await iris.Grpc.PostAnnotationsAsync(new PostAnnotationsRequest { UserAppId = HardeningFixture.App, Annotations = { annotation } }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.AnnotationInvalidArgument, annotations.Status.Code);
        Assert.Contains("'annotations[0].data.concepts[0].value'", annotations.Status.Details, StringComparison.Ordinal);
        Assert.Equal(0, await iris.StoredConceptsAsync());
    }

    public static TheoryData<string, string, float, float> BadGeo => new()
    {
        { "\"NaN\"", "0", float.NaN, 0 },
        { "0", "\"Infinity\"", 0, float.PositiveInfinity },
        { "0", "91", 0, 91 },
        { "-181", "0", -181, 0 },
    };

    [Theory]
    [MemberData(nameof(BadGeo))]
    public async Task Geo_points_must_be_finite_and_within_range(string longitudeJson, string latitudeJson, float longitude, float latitude)
    {
        var field = longitudeJson == "0" ? "latitude" : "longitude";
        var (status, body) = await iris.SendJsonAsync(HttpMethod.Post, HardeningFixture.Path("inputs"),
            """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"},"geo":{"geo_point":{"longitude":@longitudeJson@,"latitude":@latitudeJson@}}}}]}""".Replace("@Url@", Url, StringComparison.Ordinal).Replace("@latitudeJson@", latitudeJson, StringComparison.Ordinal).Replace("@longitudeJson@", longitudeJson, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal((int)StatusCode.InputInvalidArgument, body.Code());
        Assert.Contains($"'inputs[0].data.geo.geo_point.{field}'", body.Details(), StringComparison.Ordinal);

        var response = await iris.Grpc.PostInputsAsync(
            HardeningFixture.OneInput(i => i.Data.Geo = new Geo { GeoPoint = new GeoPoint { Longitude = longitude, Latitude = latitude } }), IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.InputInvalidArgument, response.Status.Code);
        Assert.Contains($"'inputs[0].data.geo.geo_point.{field}'", response.Status.Details, StringComparison.Ordinal);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task Invalid_UTF8_in_REST_JSON_answers_11100_naming_the_field()
    {
        var body = Encoding.UTF8.GetBytes("""{"inputs":[{"id":"in@","data":{"image":{"url":"@Url@"}}}]}""".Replace("@Url@", Url, StringComparison.Ordinal));
        body[Array.IndexOf(body, (byte)'@')] = 0xFF;
        var (status, json) = await iris.SendRawAsync(HttpMethod.Post, HardeningFixture.Path("inputs"), body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11100, json.Code());
        Assert.Contains("'inputs[0].id'", json.Details(), StringComparison.Ordinal);

        // An escaped lone surrogate decodes to no valid text either.
        var (surrogate, surrogateJson) = await iris.SendJsonAsync(HttpMethod.Post, HardeningFixture.Path("inputs"),
            """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"},"metadata":{"k":"\ud800"}}}]}""".Replace("@Url@", Url, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, surrogate);
        Assert.Equal(11100, surrogateJson.Code());
        Assert.Contains("'inputs[0].data.metadata.k'", surrogateJson.Details(), StringComparison.Ordinal);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task Invalid_UTF8_over_gRPC_answers_INVALID_ARGUMENT_with_the_Clarifai_status_in_the_trailers()
    {
        var bytes = HardeningFixture.Bytes(HardeningFixture.OneInput(i => i.Id = "in@"));
        bytes[Array.IndexOf(bytes, (byte)'@')] = 0xFF;

        var (_, error) = await iris.CallRawAsync("PostInputs", bytes);

        AssertMalformed(error);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task Unknown_enum_names_and_numbers_answer_11100_over_REST_and_gRPC()
    {
        foreach (var value in new[] { "\"NOPE\"", "42" })
        {
            var (status, json) = await iris.SendJsonAsync(HttpMethod.Post, HardeningFixture.Path("inputs"),
                """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"}}}],"input_id_conflict_resolution":@value@}""".Replace("@Url@", Url, StringComparison.Ordinal).Replace("@value@", value, StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal(11100, json.Code());
            Assert.Contains("'input_id_conflict_resolution'", json.Details(), StringComparison.Ordinal);
        }

        var request = HardeningFixture.OneInput();
        request.InputIdConflictResolution = (InputIDConflictResolution)42;
        var response = await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConnBadRequestFormat, response.Status.Code);
        Assert.Contains("'input_id_conflict_resolution'", response.Status.Details, StringComparison.Ordinal);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task Metadata_text_and_concept_lists_over_their_limits_are_refused()
    {
        var big = new Struct();
        big.Fields["blob"] = Value.ForString(new string('x', 70 * 1024));
        var many = new Struct();
        for (var i = 0; i < 1001; i++)
        {
            many.Fields["k" + i] = Value.ForNumber(i);
        }

        foreach (var metadata in new[] { big, many })
        {
            var response = await iris.Grpc.PostInputsAsync(HardeningFixture.OneInput(i => i.Data.Metadata = metadata), IrisFixture.PatMetadata);
            Assert.Equal(StatusCode.InputInvalidArgument, response.Status.Code);
            Assert.Contains("'inputs[0].data.metadata'", response.Status.Details, StringComparison.Ordinal);
        }

        var manyKeysJson = "{" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $"\"k{i}\":{i}")) + "}";
        var (status, json) = await iris.SendJsonAsync(HttpMethod.Post, HardeningFixture.Path("inputs"),
            """{"inputs":[{"id":"in1","data":{"image":{"url":"@Url@"},"metadata":@manyKeysJson@}}]}""".Replace("@Url@", Url, StringComparison.Ordinal).Replace("@manyKeysJson@", manyKeysJson, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal((int)StatusCode.InputInvalidArgument, json.Code());

        var text = await iris.Grpc.PostInputsAsync(new PostInputsRequest
        {
            UserAppId = HardeningFixture.App,
            Inputs = { new Input { Id = "t1", Data = new Data { Text = new Text { Raw = new string('a', 128 * 1024 + 1) } } } },
        }, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.InputInvalidArgument, text.Status.Code);
        Assert.Contains("'inputs[0].data.text.raw'", text.Status.Details, StringComparison.Ordinal);

        var concepts = new PostConceptsRequest { UserAppId = HardeningFixture.App };
        concepts.Concepts.AddRange(Enumerable.Range(0, 1001).Select(i => new Concept { Id = "c" + i }));
        var conceptsResponse = await iris.Grpc.PostConceptsAsync(concepts, IrisFixture.PatMetadata);
        Assert.Equal(StatusCode.ConceptsInvalidRequest, conceptsResponse.Status.Code);
        Assert.Contains("'concepts'", conceptsResponse.Status.Details, StringComparison.Ordinal);

        Assert.Equal(0, await iris.StoredInputsAsync());
        Assert.Equal(0, await iris.StoredConceptsAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_REST_body_over_the_limit_answers_40033_with_the_envelope_chunked_or_not(bool chunked)
    {
        var body = new byte[HardeningFixture.MaxMessageBytes + 1024];
        Array.Fill(body, (byte)' ');
        HttpContent content = chunked ? new StreamContent(new NoLengthStream(body)) : new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var request = IrisFixture.Authorized(HttpMethod.Post, HardeningFixture.Path("inputs"));
        request.Content = content;

        // As curl does for large bodies: the refusal comes before the body is sent, so no race with the connection close
        // that follows a body Kestrel will not drain.
        request.Headers.ExpectContinue = !chunked;

        var (status, json, response) = await Json.SendAsync(iris.Http, request);

        Assert.Equal(chunked, response.RequestMessage!.Headers.TransferEncodingChunked == true || content.Headers.ContentLength is null);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal((int)StatusCode.RpcMaxMessageSizeExceeded, json.Code());
        Assert.Contains("limit", json.Details(), StringComparison.Ordinal);
        Assert.Equal(0, json.GetProperty("inputs").GetArrayLength());
    }

    [Fact]
    public async Task Credentials_are_checked_before_the_body_is_read()
    {
        // An unparsable body without a key answers the credentials failure: the body was never parsed.
        var request = new HttpRequestMessage(HttpMethod.Post, HardeningFixture.Path("inputs")) { Content = new StringContent("{not json", Encoding.UTF8, "application/json") };
        var (status, json, _) = await Json.SendAsync(iris.Http, request);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(11102, json.Code());

        var unknownKey = new HttpRequestMessage(HttpMethod.Post, HardeningFixture.Path("inputs")) { Content = new ByteArrayContent(new byte[HardeningFixture.MaxMessageBytes - 1024]) };
        unknownKey.Headers.TryAddWithoutValidation("Authorization", "Key 0123456789abcdef0123456789abcdef");
        var (unknownStatus, unknownJson, _) = await Json.SendAsync(iris.Http, unknownKey);
        Assert.Equal(HttpStatusCode.Unauthorized, unknownStatus);
        Assert.Equal(11009, unknownJson.Code());

        // gRPC alike: a malformed message without a key answers 11102 in the response, not INVALID_ARGUMENT.
        var (grpcResponse, grpcError) = await iris.CallRawAsync("PostInputs", [0x0a, 0xff, 0xff], new Metadata());
        Assert.Null(grpcError);
        Assert.Equal(StatusCode.ConnInvalidRequest, MultiInputResponse.Parser.ParseFrom(grpcResponse).Status.Code);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task A_gRPC_message_over_the_limit_answers_40033_before_it_is_read()
    {
        var request = HardeningFixture.OneInput(i => i.Data.Image = new Image { Base64 = ByteString.CopyFrom(new byte[HardeningFixture.MaxMessageBytes]) });
        var (bytes, error) = await iris.CallRawAsync("PostInputs", HardeningFixture.Bytes(request));
        Assert.Null(error);
        var response = MultiInputResponse.Parser.ParseFrom(bytes);
        Assert.Equal(StatusCode.RpcMaxMessageSizeExceeded, response.Status.Code);
        Assert.False(string.IsNullOrEmpty(response.Status.ReqId));

        // NoAuth RPCs take small messages only: anyone may send them.
        var padded = new ListStatusCodesRequest();
        var filler = new byte[100 * 1024];
        var (statusBytes, statusError) = await iris.CallRawAsync("ListStatusCodes", [.. padded.ToByteArray(), .. UnknownField(filler)], new Metadata());
        Assert.Null(statusError);
        Assert.Equal(StatusCode.RpcMaxMessageSizeExceeded, MultiStatusCodeResponse.Parser.ParseFrom(statusBytes).Status.Code);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task Malformed_gRPC_messages_answer_INVALID_ARGUMENT_and_log_one_warning_without_a_stack_trace()
    {
        var valid = HardeningFixture.Bytes(HardeningFixture.OneInput());
        var truncated = valid[..(valid.Length - 3)];
        var deep = DeepStruct(45);

        for (var i = 0; i < 10; i++)
        {
            foreach (var body in new[] { truncated, deep })
            {
                var (_, error) = await iris.CallRawAsync("PostInputs", body);
                AssertMalformed(error);
            }
        }

        var warnings = iris.Logs.Messages.Count(m => m.StartsWith("Refused an unparsable gRPC message", StringComparison.Ordinal));
        Assert.InRange(warnings, 0, 1);
        Assert.Equal(0, await iris.StoredInputsAsync());
    }

    [Fact]
    public async Task Transport_level_refusals_carry_the_envelope()
    {
        // A raw or encoded NUL is refused by Kestrel itself, before any application code (docs/limits.md); other control
        // characters reach Iris, which refuses them with the envelope.
        var (nul, nulJson, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/users/me/apps/a%01b/inputs"));
        Assert.Equal(HttpStatusCode.BadRequest, nul);
        Assert.Equal(11102, nulJson.Code());

        var (longPath, longJson, _) = await Json.SendAsync(iris.Http, IrisFixture.Authorized(HttpMethod.Get, "/v2/inputs/" + new string('a', 10 * 1024)));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, longPath);
        Assert.Equal(11102, longJson.Code());

        var headers = IrisFixture.Authorized(HttpMethod.Get, HardeningFixture.Path("inputs"));
        headers.Headers.TryAddWithoutValidation("X-Padding", new string('p', 100 * 1024));
        var (big, bigJson, _) = await Json.SendAsync(iris.Http, headers);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, big);
        Assert.Equal(11102, bigJson.Code());
        Assert.False(string.IsNullOrEmpty(bigJson.GetProperty("status").GetProperty("req_id").GetString()));
    }

    [Fact]
    public async Task An_unknown_gRPC_method_answers_UNIMPLEMENTED_with_the_Clarifai_status_in_the_trailers()
    {
        var (_, error) = await iris.CallRawAsync("PostNothing", []);

        Assert.NotNull(error);
        Assert.Equal(global::Grpc.Core.StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal("40036", error.Trailers.GetValue("x-clarifai-status-code"));
        var status = Clarifai.Api.Status.Status.Parser.ParseFrom(error.Trailers.GetValueBytes("x-clarifai-status-bin"));
        Assert.Equal(StatusCode.RpcUnknownMethod, status.Code);
        Assert.Contains("PostNothing", status.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Large_gRPC_headers_answer_11102_in_the_response()
    {
        var metadata = IrisFixture.PatMetadata;
        for (var i = 0; i < 4; i++)
        {
            metadata.Add($"x-padding-{i}", new string('p', 10 * 1024));
        }

        var response = await iris.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = HardeningFixture.App }, metadata);

        Assert.Equal(StatusCode.ConnInvalidRequest, response.Status.Code);
        Assert.Contains("headers", response.Status.Details, StringComparison.Ordinal);
    }

    private static void AssertMalformed(RpcException? error)
    {
        Assert.NotNull(error);
        Assert.Equal(global::Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("11100", error.Trailers.GetValue("x-clarifai-status-code"));
        var status = Clarifai.Api.Status.Status.Parser.ParseFrom(error.Trailers.GetValueBytes("x-clarifai-status-bin"));
        Assert.Equal(StatusCode.ConnBadRequestFormat, status.Code);
        Assert.False(string.IsNullOrEmpty(status.ReqId));
    }

    /// <summary>A PostInputsRequest whose first input's metadata nests <paramref name="levels"/> Structs.</summary>
    private static byte[] DeepStruct(int levels)
    {
        var value = Value.ForString("leaf");
        for (var i = 0; i < levels; i++)
        {
            var s = new Struct();
            s.Fields["k"] = value;
            value = Value.ForStruct(s);
        }

        return HardeningFixture.Bytes(HardeningFixture.OneInput(i => i.Data.Metadata = value.StructValue));
    }

    /// <summary>An unknown length-delimited field 15000 holding <paramref name="payload"/>.</summary>
    private static byte[] UnknownField(byte[] payload)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(15000, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(payload));
        output.Flush();
        return stream.ToArray();
    }

    /// <summary>A stream that hides its length, so HttpClient sends it chunked.</summary>
    private sealed class NoLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
