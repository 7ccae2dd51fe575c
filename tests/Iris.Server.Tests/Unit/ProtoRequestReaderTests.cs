using System.Text;
using Clarifai.Api;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Server.Rest;

namespace Iris.Server.Tests.Unit;

/// <summary>Binding of JSON bodies and URL values into request messages.</summary>
public sealed class ProtoRequestReaderTests
{
    private static T Parse<T>(string json)
        where T : Google.Protobuf.IMessage<T>, new() =>
        (T)ProtoRequestReader.Instance.ParseBody(new T().Descriptor, Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Concept_value_defaults_to_one_in_JSON_at_any_depth()
    {
        var request = Parse<PostAnnotationsRequest>("""
            {"annotations":[{"data":{"concepts":[{"id":"a"}],"regions":[{"data":{"concepts":[{"id":"b"},{"id":"c","value":0.25}]}}]}}]}
            """);
        Assert.Equal(1f, request.Annotations[0].Data.Concepts[0].Value);
        Assert.Equal(1f, request.Annotations[0].Data.Regions[0].Data.Concepts[0].Value);
        Assert.Equal(0.25f, request.Annotations[0].Data.Regions[0].Data.Concepts[1].Value);
    }

    [Fact]
    public void An_empty_body_is_an_empty_request() =>
        Assert.Equal(new PostInputsRequest(), Parse<PostInputsRequest>("  \n"));

    [Fact]
    public void Unknown_enum_names_and_numbers_and_wrong_types_are_a_bad_format()
    {
        // Taking an unknown enum value as the default would silently change what the caller asked for (issue 16).
        var unknown = Assert.Throws<IrisException>(() => Parse<PostInputsRequest>("""{"inputs":[{"status":{"code":"NOPE"}}]}"""));
        Assert.Equal(StatusCode.ConnBadRequestFormat, unknown.Code);
        Assert.Contains("'inputs[0].status.code'", unknown.Details, StringComparison.Ordinal);
        var number = Assert.Throws<IrisException>(() => Parse<PostInputsRequest>("""{"input_id_conflict_resolution":7}"""));
        Assert.Contains("'input_id_conflict_resolution'", number.Details, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InputSuccess, Parse<PostInputsRequest>("""{"inputs":[{"status":{"code":"INPUT_DOWNLOAD_SUCCESS"}}]}""").Inputs[0].Status.Code);

        var error = Assert.Throws<IrisException>(() => Parse<PostInputsRequest>("""{"inputs":{"id":"not-a-list"}}"""));
        Assert.Equal(StatusCode.ConnBadRequestFormat, error.Code);
        Assert.StartsWith("Could not parse the request body as JSON for PostInputsRequest:", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void URL_values_set_nested_repeated_and_enum_fields()
    {
        var request = new ListInputsRequest();
        ProtoRequestReader.SetField(request, "user_app_id.app_id", ["a1"], ignoreUnknown: false);
        ProtoRequestReader.SetField(request, "ids", ["x", "y"], ignoreUnknown: false);
        ProtoRequestReader.SetField(request, "perPage", ["5"], ignoreUnknown: false);
        ProtoRequestReader.SetField(request, "status.code", ["INPUT_DOWNLOAD_PENDING"], ignoreUnknown: false);
        ProtoRequestReader.SetField(request, "nope.nothing", ["1"], ignoreUnknown: true);

        Assert.Equal("a1", request.UserAppId.AppId);
        Assert.Equal(["x", "y"], request.Ids);
        Assert.Equal(5u, request.PerPage);
        Assert.Equal(StatusCode.InputPending, request.Status.Code);
    }

    [Fact]
    public void JSON_booleans_in_float_and_double_fields_are_1_and_0_and_refused_elsewhere()
    {
        // The legacy JS client (clarifai 2.9.1) sends concept values as booleans; Clarifai takes them as 1/0.
        var inputs = Parse<PostInputsRequest>("""
            {"inputs":[{"data":{"concepts":[{"id":"a","value":true},{"id":"b","value":false}],"metadata":{"x":true,"y":"true"},
              "regions":[{"data":{"concepts":[{"id":"é","value" : true}]}}]}}]}
            """);
        Assert.Equal(1f, inputs.Inputs[0].Data.Concepts[0].Value);
        Assert.Equal(0f, inputs.Inputs[0].Data.Concepts[1].Value);
        Assert.Equal(1f, inputs.Inputs[0].Data.Regions[0].Data.Concepts[0].Value);
        Assert.Equal("é", inputs.Inputs[0].Data.Regions[0].Data.Concepts[0].Id);
        Assert.True(inputs.Inputs[0].Data.Metadata.Fields["x"].BoolValue);
        Assert.Equal("true", inputs.Inputs[0].Data.Metadata.Fields["y"].StringValue);

        var patch = Parse<PatchInputsRequest>("""{"action":"merge","inputs":[{"id":"i","data":{"concepts":[{"id":"a","value":false}]}}]}""");
        Assert.Equal(0f, patch.Inputs[0].Data.Concepts[0].Value);

        // In a search: the ranked concept and a float outside concepts (Search.min_value).
        var searches = Parse<PostInputsSearchesRequest>("""{"searches":[{"query":{"ranks":[{"annotation":{"data":{"concepts":[{"name":"t","value":true}]}}}]},"min_value":true}]}""");
        Assert.Equal(1f, searches.Searches[0].Query.Ranks[0].Annotation.Data.Concepts[0].Value);
        Assert.Equal(1f, searches.Searches[0].MinValue);

        // Everywhere else a boolean stays a bad format: an integer, a string, a message, a string "true" in a float.
        foreach (var json in new[]
        {
            """{"pagination":{"per_page":true}}""",
            """{"searches":[{"id":true}]}""",
            """{"searches":[{"query":true}]}""",
            """{"searches":[{"query":{"ranks":[{"annotation":{"data":{"concepts":[{"id":"a","value":"yes"}]}}}]}}]}""",
        })
        {
            var error = Assert.Throws<IrisException>(() => Parse<PostInputsSearchesRequest>(json));
            Assert.Equal(StatusCode.ConnBadRequestFormat, error.Code);
        }
    }
}
