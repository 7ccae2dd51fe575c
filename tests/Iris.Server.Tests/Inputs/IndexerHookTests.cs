using System.Collections.Concurrent;
using Clarifai.Api;
using Google.Protobuf;
using Iris.Core.Apps;
using Iris.Core.Errors;
using Iris.Core.Ingestion;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Inputs;

/// <summary>
/// The base-workflow hook: every registered <see cref="IInputIndexer"/> sees each processed image, upright and decoded,
/// before the input reaches 30000; an indexer's <see cref="IrisException"/> fails the input with that status; deleting
/// inputs calls <see cref="IInputIndexer.RemoveAsync"/>.
/// </summary>
public sealed class IndexerHookTests(IndexerHookTests.Fixture iris) : IClassFixture<IndexerHookTests.Fixture>, IDisposable
{
    public void Dispose() => Assert.Empty(iris.Logs.Errors);

    /// <summary>A small real indexer: the mean colour of each image, refusing images under 32 pixels wide.</summary>
    public sealed class MeanColourIndexer : IInputIndexer
    {
        public ConcurrentDictionary<(AppRef, string), (int Width, int Height, double MeanRed)> Indexed { get; } = new();

        public ValueTask IndexAsync(IndexedInput input, CancellationToken cancellationToken)
        {
            if (input.Image.Width < 32)
            {
                throw new IrisException(StatusCode.InputInvalidArgument, "Images under 32 pixels wide cannot be indexed.");
            }

            var pixels = input.Image.Bitmap.GetPixelSpan();
            double red = 0;
            for (var i = 0; i < pixels.Length; i += 4)
            {
                red += pixels[i];
            }

            Indexed[(input.App, input.InputId)] = (input.Image.Width, input.Image.Height, red / (pixels.Length / 4));
            return ValueTask.CompletedTask;
        }

        public ValueTask RemoveAsync(AppRef app, IReadOnlyCollection<string> inputIds, CancellationToken cancellationToken)
        {
            foreach (var id in inputIds)
            {
                Indexed.TryRemove((app, id), out _);
            }

            return ValueTask.CompletedTask;
        }
    }

    public sealed class Fixture : IrisFixture
    {
        public MeanColourIndexer Indexer { get; } = new();

        protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IInputIndexer>(Indexer);
    }

    private static bool Done(Input input) => input.Status.Code is not (StatusCode.InputPending or StatusCode.InputInProgress);

    [Fact]
    public async Task Indexers_run_before_success_fail_inputs_precisely_and_forget_deleted_ones()
    {
        var app = await iris.CreateAppAsync("indexed");
        var ids = new UserAppIDSet { UserId = "me", AppId = app };
        var request = new PostInputsRequest { UserAppId = ids };
        request.Inputs.Add(new Input { Id = "photo", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(FixtureImages.Metro) } } });
        request.Inputs.Add(new Input { Id = "tiny", Data = new Data { Image = new Image { Base64 = ByteString.CopyFrom(FixtureImages.UniquePng(7)) } } });
        await iris.Grpc.PostInputsAsync(request, IrisFixture.PatMetadata);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        Input photo, tiny;
        while (true)
        {
            photo = (await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = ids, InputId = "photo" }, IrisFixture.PatMetadata)).Input;
            tiny = (await iris.Grpc.GetInputAsync(new GetInputRequest { UserAppId = ids, InputId = "tiny" }, IrisFixture.PatMetadata)).Input;
            if (Done(photo) && Done(tiny))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(50);
        }

        Assert.Equal(StatusCode.InputSuccess, photo.Status.Code);
        var key = (new AppRef("admin", app), "photo");
        var indexed = iris.Indexer.Indexed[key];
        Assert.Equal((512, 384), (indexed.Width, indexed.Height));
        Assert.InRange(indexed.MeanRed, 20, 235);
        Assert.Equal(StatusCode.InputInvalidArgument, tiny.Status.Code);
        Assert.Equal("Images under 32 pixels wide cannot be indexed.", tiny.Status.Details);

        await iris.Grpc.DeleteInputAsync(new DeleteInputRequest { UserAppId = ids, InputId = "photo" }, IrisFixture.PatMetadata);
        while (iris.Indexer.Indexed.ContainsKey(key))
        {
            Assert.True(DateTime.UtcNow < deadline, "RemoveAsync was not called for the deleted input");
            await Task.Delay(50);
        }
    }
}
