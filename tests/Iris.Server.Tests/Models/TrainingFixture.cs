using Clarifai.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Iris.Server.Identity;
using Iris.Server.Tests.Infrastructure;
using SkiaSharp;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Models;

/// <summary>
/// A models server with a second user (<c>steve</c>, no access to admin's apps) and helpers to add labelled photos,
/// wait for them to be processed, and wait for a model version to finish training.
/// </summary>
public class TrainingFixture : ModelsFixture, IAsyncLifetime
{
    public string StevePat { get; private set; } = string.Empty;

    public static Metadata Auth(string token) => new() { { "authorization", "Key " + token } };

    public static UserAppIDSet App(string appId) => new() { UserId = "admin", AppId = appId };

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await using var admin = await UserAdministration.OpenAsync(DataDir, DatabaseUrl);
        await admin.CreateUserAsync("steve", "Steve", "Stranger", string.Empty);
        StevePat = (await admin.CreateTokenAsync("steve", "test")).Secret;
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    /// <summary>An app of six labelled views each of a cat (cat), a coffee cup (coffee) and a rocket (negative for both), all processed.</summary>
    public async Task<string> PetsAppAsync(string appId)
    {
        await CreateAppAsync(appId);
        var cats = TrainingPhotos.Views("chelsea.png", 6);
        var coffee = TrainingPhotos.Views("coffee.png", 6);
        var rockets = TrainingPhotos.Views("rocket.jpg", 6);
        await AddLabelledAsync(appId, [
            .. cats.Select((b, i) => ($"cat-{i}", b, new[] { ("cat", 1f) })),
            .. coffee.Select((b, i) => ($"coffee-{i}", b, new[] { ("coffee", 1f) })),
            .. rockets.Select((b, i) => ($"rocket-{i}", b, new[] { ("cat", 0f), ("coffee", 0f) })),
        ]);
        return appId;
    }

    /// <summary>A PostModelVersions request training <paramref name="concepts"/> (enrich_dataset when given).</summary>
    public static PostModelVersionsRequest Train(string appId, string modelId, string[] concepts, string? enrich = null, bool exclusive = false)
    {
        var version = new ModelVersion { OutputInfo = new OutputInfo { Data = new Data(), OutputConfig = new OutputConfig() } };
#pragma warning disable CS0612
        version.OutputInfo.OutputConfig.ConceptsMutuallyExclusive = exclusive;
#pragma warning restore CS0612
        version.OutputInfo.Data.Concepts.AddRange(concepts.Select(c => new Concept { Id = c }));
        if (enrich is not null)
        {
            version.TrainInfo = new TrainInfo { Params = new Struct { Fields = { ["enrich_dataset"] = Value.ForString(enrich) } } };
        }

        return new PostModelVersionsRequest { UserAppId = TrainingFixture.App(appId), ModelId = modelId, ModelVersions = { version } };
    }

    /// <summary>Adds image inputs with input-level concepts (id → value) and waits until each is processed (30000).</summary>
    public async Task AddLabelledAsync(string appId, IEnumerable<(string InputId, byte[] Image, (string Concept, float Value)[] Labels)> inputs)
    {
        var request = new PostInputsRequest { UserAppId = App(appId) };
        foreach (var (id, image, labels) in inputs)
        {
            var input = new Input { Id = id, Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(image) } } };
            input.Data.Concepts.AddRange(labels.Select(l => new Concept { Id = l.Concept, Value = l.Value }));
            request.Inputs.Add(input);
        }

        var response = await Grpc.PostInputsAsync(request, PatMetadata);
        Assert.Equal(StatusCode.Success, response.Status.Code);
        foreach (var input in request.Inputs)
        {
            Assert.Equal(StatusCode.InputSuccess, (await WaitInputAsync(appId, input.Id)).Status.Code);
        }
    }

    public async Task<Input> WaitInputAsync(string appId, string inputId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await Grpc.GetInputAsync(new GetInputRequest { UserAppId = App(appId), InputId = inputId }, PatMetadata);
            Assert.Equal(StatusCode.Success, response.Status.Code);
            if (response.Input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress))
            {
                return response.Input;
            }

            Assert.True(DateTime.UtcNow < deadline, $"input {inputId} still {response.Input.Status.Code} after 60 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls GetModelVersion until the version leaves 21103 / 21101 (bound: 60 s); returns it.</summary>
    public async Task<ModelVersion> WaitTrainedAsync(string appId, string modelId, string versionId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await Grpc.GetModelVersionAsync(new GetModelVersionRequest { UserAppId = App(appId), ModelId = modelId, VersionId = versionId }, PatMetadata);
            Assert.Equal(StatusCode.Success, response.Status.Code);
            if (response.ModelVersion.Status.Code is not (StatusCode.ModelQueuedForTraining or StatusCode.ModelTraining))
            {
                return response.ModelVersion;
            }

            Assert.True(DateTime.UtcNow < deadline, $"version {versionId} still {response.ModelVersion.Status.Code} after 60 s");
            await Task.Delay(50);
        }
    }
}

public sealed class PostgresTrainingFixture : TrainingFixture
{
    protected override bool OnPostgres => true;
}

/// <summary>
/// Real photographs of distinct subjects from Debian's python3-skimage and python3-sklearn packages (unpacked by
/// tests/photos.sh into artifacts/photos), and views of each: windows of the photo at several positions and scales,
/// some mirrored, re-encoded as JPEG — distinct inputs of one subject.
/// </summary>
public static class TrainingPhotos
{
    public static string Dir
    {
        get
        {
            var dir = Path.Combine(RepoRoot.Path, "artifacts/photos");
            Assert.True(File.Exists(Path.Combine(dir, ".complete")), "The test photos are missing: run tests/photos.sh (run-tests does).");
            return dir;
        }
    }

    /// <summary><paramref name="count"/> views of <paramref name="name"/>; <paramref name="offset"/> picks other windows (held-out views).</summary>
    public static byte[][] Views(string name, int count, int offset = 0)
    {
        using var source = SKBitmap.Decode(Path.Combine(Dir, name));
        var views = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var k = i + offset;
            var fraction = 0.55 + 0.1 * (k % 4);
            var (w, h) = ((int)(source.Width * fraction), (int)(source.Height * fraction));
            var left = (int)((source.Width - w) * ((k * 37 % 11) / 10.0));
            var top = (int)((source.Height - h) * ((k * 53 % 7) / 6.0));
            using var surface = SKSurface.Create(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
            if (k % 2 == 1)
            {
                surface.Canvas.Scale(-1, 1, w / 2f, 0);
            }

            using var image = SKImage.FromBitmap(source);
            surface.Canvas.DrawImage(image, new SKRect(left, top, left + w, top + h), new SKRect(0, 0, w, h), new SKSamplingOptions(SKFilterMode.Linear), null);
            using var snapshot = surface.Snapshot();
            using var jpeg = snapshot.Encode(SKEncodedImageFormat.Jpeg, 90);
            views[i] = jpeg.ToArray();
        }

        return views;
    }
}
