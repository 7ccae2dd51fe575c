using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Clarifai.Api;
using Iris.Server.Tests.Infrastructure;

namespace Iris.Server.Tests.Hardening;

/// <summary>
/// Seeded mutations of valid request bodies, over REST (JSON) and gRPC (protobuf): whatever arrives, Iris answers a
/// 4xx or 2xx with the status envelope (gRPC: a response or INVALID_ARGUMENT), never a 5xx, and logs no error.
/// The seed is fixed, so a failure reproduces; each run is bounded in cases and in time.
/// </summary>
public sealed class FuzzTests(HardeningFixture iris) : IClassFixture<HardeningFixture>
{
    private const int Seed = 16_2026;
    private const int RestCases = 300;
    private const int GrpcCases = 200;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(90);

    private static readonly (string Path, string Body)[] RestSeeds =
    [
        (HardeningFixture.Path("inputs"), """{"inputs":[{"id":"f1","data":{"image":{"url":"http://127.0.0.1:9/a.jpg","allow_duplicate_url":true},"concepts":[{"id":"dog","value":1},{"id":"cat"}],"metadata":{"k":"v","n":1.5,"o":{"x":[1,2]}},"geo":{"geo_point":{"longitude":10,"latitude":20}}}}],"input_id_conflict_resolution":"SKIP"}"""),
        (HardeningFixture.Path("concepts"), """{"concepts":[{"id":"fuzz-c","name":"Fuzz","value":1}]}"""),
        (HardeningFixture.Path("annotations"), """{"annotations":[{"input_id":"missing","data":{"concepts":[{"id":"c","value":0.5}],"regions":[{"region_info":{"bounding_box":{"top_row":0.1,"left_col":0.1,"bottom_row":0.5,"right_col":0.5}}}]}}]}"""),
        (HardeningFixture.Path("datasets"), """{"datasets":[{"id":"fuzz-ds","description":"d"}]}"""),
        ("/v2/users/me/keys", """{"keys":[{"description":"fuzz","scopes":["All"],"apps":[{"id":"hardening","user_id":"me"}]}]}"""),
        ("/v2/users/me/apps", """{"apps":[{"id":"fuzz-app","description":"x","metadata":{"a":1}}]}"""),
        ("/v2/users/me/apps/searches", """{"app_query":{"name":"fuzz"},"pagination":{"page":1,"per_page":10}}"""),
    ];

    private static readonly string[] Fragments =
    [
        "\"NaN\"", "\"Infinity\"", "-1e309", "1e309", "null", "true", "[]", "{}", "\"\"", "-0.5", "2", "\"\\ud800\"",
        "\"NOPE\"", "99", "{\"a\":1,\"a\":2}", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]", "\"x\"", "18446744073709551616",
    ];

    [Fact]
    public async Task Mutated_JSON_bodies_never_answer_5xx_or_lose_the_envelope()
    {
        var random = new Random(Seed);
        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        for (var i = 0; i < RestCases && clock.Elapsed < Budget; i++)
        {
            var (path, seed) = RestSeeds[random.Next(RestSeeds.Length)];
            var body = Mutate(random, Encoding.UTF8.GetBytes(seed));
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Key", IrisFixture.Pat);
            using var response = await iris.Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode >= 500 || !HasEnvelope(text))
            {
                failures.Add($"case {i} {path}: HTTP {(int)response.StatusCode} {Truncate(text)} for body {Truncate(Encoding.UTF8.GetString(body))}");
            }
        }

        Assert.Empty(failures);
        Assert.Empty(iris.Logs.Errors);
    }

    [Fact]
    public async Task Mutated_protobuf_messages_never_answer_an_internal_error()
    {
        var seeds = new (string Rpc, IMessage Message)[]
        {
            ("PostInputs", HardeningFixture.OneInput(i => i.Data.Metadata = new Google.Protobuf.WellKnownTypes.Struct { Fields = { ["k"] = Google.Protobuf.WellKnownTypes.Value.ForString("v") } })),
            ("PostConcepts", new PostConceptsRequest { UserAppId = HardeningFixture.App, Concepts = { new Concept { Id = "g", Name = "G", Value = 1 } } }),
            ("PostAnnotations", new PostAnnotationsRequest { UserAppId = HardeningFixture.App, Annotations = { new Annotation { InputId = "missing", Data = new Data { Concepts = { new Concept { Id = "c", Value = 1 } } } } } }),
            ("ListInputs", new ListInputsRequest { UserAppId = HardeningFixture.App, PerPage = 5 }),
        };
        var random = new Random(Seed + 1);
        var clock = Stopwatch.StartNew();
        var failures = new List<string>();
        for (var i = 0; i < GrpcCases && clock.Elapsed < Budget; i++)
        {
            var (rpc, message) = seeds[random.Next(seeds.Length)];
            var body = MutateBinary(random, message.ToByteArray());
            var (response, error) = await iris.CallRawAsync(rpc, body);
            if (error is not null && error.StatusCode != global::Grpc.Core.StatusCode.InvalidArgument)
            {
                failures.Add($"case {i} {rpc}: {error.StatusCode} {error.Status.Detail} for {Convert.ToHexString(body)}");
            }
            else if (error is null && !HasStatus(response!))
            {
                failures.Add($"case {i} {rpc}: a response without status for {Convert.ToHexString(body)}");
            }
        }

        Assert.Empty(failures);
        Assert.Empty(iris.Logs.Errors);
        Assert.Empty(iris.Logs.WithExceptions);
    }

    private static byte[] Mutate(Random random, byte[] body)
    {
        var text = new List<byte>(body);
        var edits = 1 + random.Next(3);
        for (var e = 0; e < edits; e++)
        {
            switch (random.Next(7))
            {
                case 0 when text.Count > 0:
                    text[random.Next(text.Count)] = (byte)random.Next(256);
                    break;
                case 1 when text.Count > 0:
                    text.RemoveRange(random.Next(text.Count), 1);
                    break;
                case 2:
                    text = text.Take(random.Next(text.Count + 1)).ToList();
                    break;
                case 3:
                    // Replace a value (after a colon) by a fragment.
                    var colons = Enumerable.Range(0, text.Count).Where(k => text[k] == (byte)':').ToArray();
                    if (colons.Length > 0)
                    {
                        var at = colons[random.Next(colons.Length)] + 1;
                        var end = at;
                        while (end < text.Count && text[end] is not ((byte)',' or (byte)'}' or (byte)']'))
                        {
                            end++;
                        }

                        text.RemoveRange(at, end - at);
                        text.InsertRange(at, Encoding.UTF8.GetBytes(Fragments[random.Next(Fragments.Length)]));
                    }

                    break;
                case 4:
                    // Duplicate a key-value pair inside its object.
                    var source = Encoding.UTF8.GetString([.. text]);
                    var quote = source.IndexOf("{\"", random.Next(Math.Max(1, source.Length)), StringComparison.Ordinal);
                    if (quote < 0)
                    {
                        quote = source.IndexOf("{\"", StringComparison.Ordinal);
                    }

                    if (quote >= 0)
                    {
                        var comma = source.IndexOfAny([',', '}'], quote + 1);
                        if (comma > quote + 1)
                        {
                            var pair = source[(quote + 1)..comma];
                            text = [.. Encoding.UTF8.GetBytes(source.Insert(comma, "," + pair))];
                        }
                    }

                    break;
                case 5:
                    text.Insert(random.Next(text.Count + 1), (byte)(0x80 + random.Next(0x80)));
                    break;
                default:
                    text.InsertRange(random.Next(text.Count + 1), Encoding.UTF8.GetBytes(Fragments[random.Next(Fragments.Length)]));
                    break;
            }
        }

        return [.. text];
    }

    private static byte[] MutateBinary(Random random, byte[] body)
    {
        var bytes = new List<byte>(body);
        var edits = 1 + random.Next(3);
        for (var e = 0; e < edits; e++)
        {
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                    break;
                case 1 when bytes.Count > 0:
                    bytes.RemoveAt(random.Next(bytes.Count));
                    break;
                case 2:
                    bytes = bytes.Take(random.Next(bytes.Count + 1)).ToList();
                    break;
                case 3:
                    var at = random.Next(bytes.Count + 1);
                    var extra = new byte[1 + random.Next(8)];
                    random.NextBytes(extra);
                    bytes.InsertRange(at, extra);
                    break;
                default:
                    // A float field set to NaN or a huge value (field 5 of Concept is value: tag 0x15 + 4 bytes).
                    bytes.AddRange([0x15, .. BitConverter.GetBytes(random.Next(2) == 0 ? float.NaN : float.MaxValue)]);
                    break;
            }
        }

        return [.. bytes];
    }

    private static bool HasEnvelope(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.TryGetProperty("status", out var status) && status.TryGetProperty("code", out var code)
                && code.GetInt32() > 0 && status.TryGetProperty("req_id", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool HasStatus(byte[] response)
    {
        // Field 1 of every V2 response is status; a status with a code is enough.
        var status = BaseResponseParser.ParseFrom(response).Status;
        return status is not null && status.Code != 0;
    }

    private static readonly MessageParser<Clarifai.Api.Status.BaseResponse> BaseResponseParser = Clarifai.Api.Status.BaseResponse.Parser;

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
