using System.Globalization;
using System.Text;
using Clarifai.Api;
using Google.Protobuf;
using Iris.Server.Tests.Infrastructure;
using Iris.Server.Tests.Inputs;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Cli;

/// <summary>
/// The <c>iris</c> client commands as a user runs them: the built CLI as a process against a real <c>iris serve</c> on
/// loopback, its printed tables compared with what the server stores and answers over gRPC.
/// </summary>
public abstract class CliTests<TFixture>(TFixture iris) : IClassFixture<TFixture>
    where TFixture : CliFixture
{
    /// <summary>Real photographs (tests/photos.sh unpacks them from Debian packages into artifacts/photos).</summary>
    private static readonly string[] PhotoNames =
    [
        "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "china.jpg", "flower.jpg", "motorcycle_left.png", "motorcycle_right.png",
        "horse.png", "camera.png", "coins.png", "brick.png", "grass.png", "gravel.png", "moon.png", "retina.jpg", "hubble_deep_field.jpg",
        "page.png", "text.png", "clock_motion.png", "cell.png", "color.png", "logo.png", "ihc.png",
    ];

    private static string Photo(string name)
    {
        var path = Path.Combine(RepoRoot.Path, "artifacts/photos", name);
        Assert.True(File.Exists(path), $"{path} is missing: run tests/photos.sh");
        return path;
    }

    private static UserAppIDSet App(string appId) => new() { UserId = "me", AppId = appId };

    /// <summary>Copies photos into <c>folder/&lt;subfolder&gt;/&lt;name&gt;</c>.</summary>
    private static void Place(string folder, string subfolder, params string[] names)
    {
        var target = Directory.CreateDirectory(Path.Combine(folder, subfolder)).FullName;
        foreach (var name in names)
        {
            File.Copy(Photo(name), Path.Combine(target, name));
        }
    }

    private async Task<List<Input>> InputsAsync(string appId)
    {
        var answer = await iris.Server.Grpc.ListInputsAsync(new ListInputsRequest { UserAppId = App(appId), Page = 1, PerPage = 1000 }, CliFixture.Auth);
        Assert.Equal(StatusCode.Success, answer.Status.Code);
        return [.. answer.Inputs];
    }

    [Fact]
    public async Task Upload_of_a_folder_with_a_corrupt_file_names_it_in_the_failures_table_and_the_rest_succeed()
    {
        await iris.CreateAppAsync("upload");
        var folder = iris.Scratch("upload");
        Place(folder, "cats", "chelsea.png");
        Place(folder, "things", "coffee.png", "rocket.jpg", "astronaut.png", "china.jpg");
        await File.WriteAllBytesAsync(Path.Combine(folder, "things", "broken.jpg"), FixtureImages.Truncated);

        var run = await iris.RunAsync("upload", folder, "--app", "upload", "--concepts-from-folders", "--batch", "2", "--no-color");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(": 6 added, 0 already present, 0 refused; 0 batch retries.", run.Output, StringComparison.Ordinal);
        Assert.Contains("5 of 6 inputs processed successfully; 1 failed.", run.Output, StringComparison.Ordinal);
        var inputs = await InputsAsync("upload");
        Assert.Equal(6, inputs.Count);
        var broken = Assert.Single(inputs, i => i.Status.Code != StatusCode.InputSuccess);
        Assert.Equal(StatusCode.InputFailed, broken.Status.Code);
        var row = Assert.Single(run.Rows("File"));
        Assert.Equal(["things/broken.jpg", broken.Id, "30002", broken.Status.Description, broken.Status.Details], row);
        Assert.Equal("The image is corrupt or truncated: its pixels could not be decoded.", broken.Status.Details);
        Assert.StartsWith("things-broken-jpg-", broken.Id, StringComparison.Ordinal);

        // Labels from the folder names, ids from the relative paths.
        var cat = Assert.Single(inputs, i => i.Id.StartsWith("cats-chelsea-png-", StringComparison.Ordinal));
        Assert.Equal(["cats"], cat.Data.Concepts.Select(c => c.Id));
        Assert.Equal(5, inputs.Count(i => i.Id.StartsWith("things-", StringComparison.Ordinal) && i.Data.Concepts.Single().Id == "things"));

        // Running it again uploads nothing twice: every input is already there; the corrupt one is still reported.
        var again = await iris.RunAsync("upload", folder, "--app", "upload", "--concepts-from-folders", "--no-color");
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.Contains(": 0 added, 6 already present, 0 refused; 0 batch retries.", again.Output, StringComparison.Ordinal);
        Assert.Equal(["things/broken.jpg", broken.Id, "30002", broken.Status.Description, broken.Status.Details], Assert.Single(again.Rows("File")));
        Assert.Equal(6, (await InputsAsync("upload")).Count);
    }

    [Fact]
    public async Task Upload_interrupted_with_ctrl_c_is_finished_by_a_rerun_with_every_input_present_once()
    {
        await iris.CreateAppAsync("resume");
        var folder = iris.Scratch("resume");
        Place(folder, "a", PhotoNames[..12]);
        Place(folder, "b", PhotoNames[12..]);
        var args = new[] { "upload", folder, "--app", "resume", "--batch", "1", "--no-color" };

        var (output, errors) = (new StringBuilder(), new StringBuilder());
        var interrupted = 0;
        using (var first = iris.Start(args, output, errors, (process, line) =>
        {
            // The first progress line comes after 10 % (3 of 24 inputs): interrupt there, mid-upload.
            if (line.StartsWith("Uploading: ", StringComparison.Ordinal) && Interlocked.Exchange(ref interrupted, 1) == 0)
            {
                CliFixture.Interrupt(process);
            }
        }))
        {
            var run = await CliFixture.FinishAsync(first, output, errors);
            Assert.True(run.ExitCode == 130, run.ToString());
            Assert.Contains("Interrupted after ", run.Output, StringComparison.Ordinal);
            Assert.Contains(" of 24 inputs. Run the same command again to finish", run.Output, StringComparison.Ordinal);
        }

        var partial = await InputsAsync("resume");
        Assert.InRange(partial.Count, 3, 23);

        var rerun = await iris.RunAsync(args);
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains($": {24 - partial.Count} added, {partial.Count} already present, 0 refused; 0 batch retries.", rerun.Output, StringComparison.Ordinal);
        Assert.Contains("24 of 24 inputs processed successfully; 0 failed.", rerun.Output, StringComparison.Ordinal);
        Assert.Empty(rerun.Rows("File"));
        var inputs = await InputsAsync("resume");
        Assert.Equal(24, inputs.Count);
        Assert.Equal(24, inputs.Select(i => i.Id).Distinct().Count());
        Assert.All(inputs, i => Assert.Equal(StatusCode.InputSuccess, i.Status.Code));
        Assert.Equal(PhotoNames[..12].Select(n => "a-" + n.Replace('.', '-')).Concat(PhotoNames[12..].Select(n => "b-" + n.Replace('.', '-'))).Order(StringComparer.Ordinal),
            inputs.Select(i => i.Id[..^17]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Upload_of_a_csv_file_in_the_sdk_format_sends_ids_labels_metadata_and_geo()
    {
        await iris.CreateAppAsync("csv");
        var folder = iris.Scratch("csv");
        Place(folder, "things", "coffee.png");
        Place(folder, string.Empty, "rocket.jpg");
        var csv = Path.Combine(folder, "inputs.csv");
        await File.WriteAllTextAsync(csv, "inputid,input,concepts,metadata,geopoints\r\n" +
            "coffee-cup,things/coffee.png,\"cup,drink\",\"{\"\"room\"\": \"\"kitchen\"\"}\",\"-73.98,40.75\"\r\n" +
            ",rocket.jpg,rocket,,\r\n");

        var run = await iris.RunAsync("upload", csv, "--app", "csv", "--no-color");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("2 of 2 inputs processed successfully; 0 failed.", run.Output, StringComparison.Ordinal);

        var cup = (await iris.Server.Grpc.GetInputAsync(new GetInputRequest { UserAppId = App("csv"), InputId = "coffee-cup" }, CliFixture.Auth)).Input;
        Assert.Equal(StatusCode.InputSuccess, cup.Status.Code);
        Assert.Equal(["cup", "drink"], cup.Data.Concepts.Select(c => c.Id).Order(StringComparer.Ordinal));
        Assert.All(cup.Data.Concepts, c => Assert.Equal(1f, c.Value));
        Assert.Equal("kitchen", cup.Data.Metadata.Fields["room"].StringValue);
        Assert.Equal(-73.98f, cup.Data.Geo.GeoPoint.Longitude, 0.001f);
        Assert.Equal(40.75f, cup.Data.Geo.GeoPoint.Latitude, 0.001f);

        // Without an inputid: the slug of the path and 16 hex digits of SHA-256(path + "\n" + SHA-256 of the content), as docs/cli.md says.
        var contentHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(Photo("rocket.jpg"))));
        var id = "rocket-jpg-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("rocket.jpg\n" + contentHash)))[..16];
        var rocket = (await iris.Server.Grpc.GetInputAsync(new GetInputRequest { UserAppId = App("csv"), InputId = id }, CliFixture.Auth)).Input;
        Assert.Equal(StatusCode.InputSuccess, rocket.Status.Code);
        Assert.Equal(["rocket"], rocket.Data.Concepts.Select(c => c.Id));

        // A column the SDKs do not have is refused before anything is sent.
        await File.WriteAllTextAsync(csv, "input,label\nrocket.jpg,rocket\n");
        var bad = await iris.RunAsync("upload", csv, "--app", "csv");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("iris: inputs.csv: the header must name 'input' and may name only inputid, input, concepts, metadata, geopoints; it has 'label'.", bad.Errors.Split('\n')[0].Replace(csv, "inputs.csv", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Predict_prints_the_concepts_the_server_answers()
    {
        var run = await iris.RunAsync("predict", "general-image-recognition", Photo("chelsea.png"), "--no-color");
        Assert.True(run.ExitCode == 0, run.ToString());

        var request = new PostModelOutputsRequest { UserAppId = new UserAppIDSet { UserId = "clarifai", AppId = "main" }, ModelId = "general-image-recognition" };
        request.Inputs.Add(new Input { Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(await File.ReadAllBytesAsync(Photo("chelsea.png"))) } } });
        var answer = await iris.Server.Grpc.PostModelOutputsAsync(request, CliFixture.Auth);
        var concepts = answer.Outputs.Single().Data.Concepts;
        Assert.Equal("cat", concepts[0].Name);
        Assert.True(concepts[0].Value >= 0.4f, $"cat {concepts[0].Value}");
        Assert.Equal(concepts.Select(c => new[] { c.Name, c.Id, c.Value.ToString("F4", CultureInfo.InvariantCulture) }), run.Rows("Concept"));
        Assert.Contains($"Model general-image-recognition version {answer.Outputs.Single().Model.ModelVersion.Id}: 10000 Ok", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_train_and_list_on_an_uploaded_folder()
    {
        await iris.CreateAppAsync("pets");
        var folder = iris.Scratch("pets");
        Place(folder, "cat", "chelsea.png");
        Place(folder, "thing", "coffee.png", "rocket.jpg", "astronaut.png");
        var upload = await iris.RunAsync("upload", folder, "--app", "pets", "--concepts-from-folders", "--no-color");
        Assert.True(upload.ExitCode == 0, upload.ToString());
        var chelsea = (await InputsAsync("pets")).Single(i => i.Id.StartsWith("cat-chelsea-png-", StringComparison.Ordinal)).Id;

        // By image: the photo itself first, at a score of 1.
        var byImage = await iris.RunAsync("search", "pets", "--image", Photo("chelsea.png"), "--top", "3", "--no-color");
        Assert.True(byImage.ExitCode == 0, byImage.ToString());
        var hits = byImage.Rows("Rank");
        Assert.Equal(3, hits.Count);
        Assert.Equal(["1", chelsea, "1.0000", "cat"], hits[0]);
        Assert.Equal(["2", "3"], hits.Skip(1).Select(h => h[0]));
        Assert.All(hits.Skip(1), h => Assert.InRange(double.Parse(h[2], CultureInfo.InvariantCulture), 0.5, 0.9999));

        // By predicted concept: the same order and scores as the server's own answer.
        var byConcept = await iris.RunAsync("search", "pets", "--concept", "cat", "--top", "4", "--no-color");
        Assert.True(byConcept.ExitCode == 0, byConcept.ToString());
        var data = new Data();
        data.Concepts.Add(new Concept { Name = "cat", Value = 1 });
        var search = new PostInputsSearchesRequest { UserAppId = App("pets"), Pagination = new Pagination { Page = 1, PerPage = 4 } };
        search.Searches.Add(new Clarifai.Api.Search { Query = new Query { Ranks = { new Rank { Annotation = new Annotation { Data = data } } } } });
        var expected = await iris.Server.Grpc.PostInputsSearchesAsync(search, CliFixture.Auth);
        Assert.Equal(chelsea, expected.Hits[0].Input.Id);
        Assert.True(expected.Hits[0].Score >= 0.4f, $"cat {expected.Hits[0].Score}");
        Assert.Equal(expected.Hits.Select(h => (h.Input.Id, h.Score.ToString("F4", CultureInfo.InvariantCulture))), byConcept.Rows("Rank").Select(r => (r[1], r[2])));

        // By label: only the input labelled "cat".
        var byLabel = await iris.RunAsync("search", "pets", "--label", "cat", "--no-color");
        Assert.Equal(["1", chelsea, "1.0000", "cat"], Assert.Single(byLabel.Rows("Rank")));

        // Train: creates the model, a version, waits for 21100.
        var train = await iris.RunAsync("train", "pets", "pet-classifier", "--concepts", "cat,thing", "--wait", "--no-color");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("Created model 'pet-classifier' (embedding-classifier).", train.Output, StringComparison.Ordinal);
        var model = (await iris.Server.Grpc.GetModelAsync(new GetModelRequest { UserAppId = App("pets"), ModelId = "pet-classifier" }, CliFixture.Auth)).Model;
        Assert.Equal(StatusCode.ModelTrained, model.ModelVersion.Status.Code);
        Assert.Contains($"Version {model.ModelVersion.Id} of model 'pet-classifier': 21103 Model queued for training", train.Output, StringComparison.Ordinal);
        Assert.Contains($"Version {model.ModelVersion.Id} of model 'pet-classifier': 21100 Model is trained and ready for deployment ({model.ModelVersion.Status.Details})", train.Output, StringComparison.Ordinal);
        Assert.Equal([["cat", "cat"], ["thing", "thing"]], train.Rows("Concept"));

        // Predict with the trained model of the app.
        var predict = await iris.RunAsync("predict", "pet-classifier", Photo("chelsea.png"), "--app", "pets", "--no-color");
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var concepts = predict.Rows("Concept");
        Assert.Equal("cat", concepts[0][0]);
        Assert.True(double.Parse(concepts[0][2], CultureInfo.InvariantCulture) >= 0.5, predict.Output);

        // Lists.
        var models = await iris.RunAsync("models", "list", "--app", "pets", "--no-color");
        Assert.True(models.ExitCode == 0, models.ToString());
        Assert.Contains(["pet-classifier", "embedding-classifier", model.ModelVersion.Id, "21100 Model is trained and ready for deployment" + $" ({model.ModelVersion.Status.Details})", "admin/pets"], models.Rows("Model"));
        Assert.Contains(models.Rows("Model"), r => r[0] == "general-image-recognition" && r[4] == "clarifai/main");

        var apps = await iris.RunAsync("apps", "list", "--no-color");
        Assert.True(apps.ExitCode == 0, apps.ToString());
        Assert.Contains(apps.Rows("App"), r => r[0] == "pets" && r[2] == "General");

        var keys = await iris.RunAsync("keys", "list", "--no-color");
        Assert.True(keys.ExitCode == 0, keys.ToString());
        var key = Assert.Single(keys.Rows("Key"));
        Assert.Equal(["bootstrap", "personal_access_token"], key[..2]);
    }

    [Fact]
    public async Task Errors_print_the_clarifai_status_and_exit_non_zero()
    {
        var missingApp = await iris.RunAsync("search", "no-such-app", "--label", "cat");
        Assert.Equal(1, missingApp.ExitCode);
        Assert.Equal("iris: PostInputsSearches failed: 11101 Resource does not exist (App 'no-such-app' of user 'admin' does not exist.)", missingApp.Errors.Trim());

        var badPat = await iris.RunAsync(["apps", "list"], new Dictionary<string, string?> { ["CLARIFAI_PAT"] = "not-a-real-token-0000000000000000" });
        Assert.Equal(1, badPat.ExitCode);
        Assert.StartsWith("iris: ListApps failed: 11009 ", badPat.Errors, StringComparison.Ordinal);

        var noPat = await iris.RunAsync(["apps", "list"], new Dictionary<string, string?> { ["CLARIFAI_PAT"] = null });
        Assert.Equal(2, noPat.ExitCode);
        Assert.Contains("no personal access token: pass --pat or set CLARIFAI_PAT", noPat.Errors, StringComparison.Ordinal);

        var unknownOption = await iris.RunAsync("upload", "--bogus");
        Assert.Equal(2, unknownOption.ExitCode);
    }
}

public sealed class CliTestsOnSqlite(CliFixture iris) : CliTests<CliFixture>(iris);

public sealed class CliTestsOnPostgres(CliFixtureOnPostgres iris) : CliTests<CliFixtureOnPostgres>(iris);
