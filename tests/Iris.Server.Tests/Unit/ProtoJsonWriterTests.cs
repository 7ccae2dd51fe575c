using System.Text;
using System.Text.Json;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Iris.Server.Rest;

namespace Iris.Server.Tests.Unit;

/// <summary>The REST writer follows the descriptors: show-if-empty fields, private fields, proto3 JSON mapping of scalars.</summary>
public sealed class ProtoJsonWriterTests
{
    private static JsonElement Write(IMessage message)
    {
        using var doc = JsonDocument.Parse(ProtoJsonWriter.Instance.ToUtf8(message));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Fields_marked_cl_show_if_empty_are_written_with_their_zero_value()
    {
        var json = Write(new Region { RegionInfo = new RegionInfo { BoundingBox = new BoundingBox() }, Data = new Data { Concepts = { new Concept { Id = "dog" } } } });

        var box = json.GetProperty("region_info").GetProperty("bounding_box");
        Assert.Equal("""{"top_row":0,"left_col":0,"bottom_row":0,"right_col":0}""", box.GetRawText());
        Assert.Equal("""{"id":"dog","value":0}""", json.GetProperty("data").GetProperty("concepts")[0].GetRawText());
    }

    [Fact]
    public void Empty_payload_lists_of_responses_are_written_as_empty_arrays()
    {
        Assert.Equal("""{"status":{"code":10000},"inputs":[]}""", Encoding.UTF8.GetString(ProtoJsonWriter.Instance.ToUtf8(
            new MultiInputResponse { Status = new Status { Code = StatusCode.Success } })));
        Assert.Equal("""{"models":[]}""", Write(new MultiModelResponse()).GetRawText());
    }

    [Fact]
    public void Private_fields_are_never_written()
    {
        var status = new Status { Code = StatusCode.InternalServerIssue, InternalDetails = "secret", StackTrace = { "at x" }, Details = "d" };
        Assert.Equal("""{"code":98004,"details":"d"}""", Write(status).GetRawText());
    }

    [Fact]
    public void Scalars_follow_the_proto3_JSON_mapping()
    {
        var json = Write(new Model
        {
            Id = "m",
            CreatedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2016, 3, 9, 17, 11, 39, TimeSpan.Zero).AddTicks(6088450)),
            Visibility = new Visibility { Gettable = Visibility.Types.Gettable.Public },
            Metadata = new Struct(),
            ModelVersion = new ModelVersion { Id = "v", TotalInputCount = 3 },
        });

        Assert.Equal("2016-03-09T17:11:39.608845Z", json.GetProperty("created_at").GetString());
        Assert.Equal(50, json.GetProperty("visibility").GetProperty("gettable").GetInt32());
        Assert.Equal("{}", json.GetProperty("metadata").GetRawText());
        Assert.Equal(3, json.GetProperty("model_version").GetProperty("total_input_count").GetInt32());
        Assert.Equal(string.Empty, json.GetProperty("app_id").GetString());
    }

    [Fact]
    public void Sixty_four_bit_integers_are_strings_bytes_are_base64_and_floats_are_shortest()
    {
        var json = Write(new InputsAddJobProgress { PendingCount = 12345678901234 });
        Assert.Equal("12345678901234", json.GetProperty("pending_count").GetString());

        Assert.Equal("AAEC/w==", Write(new Image { Base64 = ByteString.CopyFrom(0, 1, 2, 255) }).GetProperty("base64").GetString());
        Assert.Equal("0.99960595", Write(new Concept { Value = 0.99960595f }).GetProperty("value").GetRawText());
        Assert.Equal("\"NaN\"", Write(new Concept { Value = float.NaN }).GetProperty("value").GetRawText());
    }
}
