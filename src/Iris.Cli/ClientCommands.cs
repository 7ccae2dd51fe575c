using System.CommandLine;
using System.Globalization;
using Clarifai.Api;
using Google.Protobuf;
using Spectre.Console;
using StatusCode = Clarifai.Api.Status.StatusCode;
using Task = System.Threading.Tasks.Task;

namespace Iris.Cli;

/// <summary>
/// The commands that talk to a running Iris over gRPC (upload, predict, search, train, apps / keys / models list), each
/// printing a table; a Clarifai error is printed as code, description and details with exit code 1.
/// </summary>
internal static class ClientCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static IEnumerable<Command> Build() =>
        [UploadCommand.Build(), BuildPredict(), BuildSearch(), BuildTrain(), BuildList("apps", "Lists your apps.", ListAppsAsync), BuildList("keys", "Lists your keys (a PAT is needed).", ListKeysAsync)];

    /// <summary><c>iris models list [--app A]</c>, added under <c>iris models</c>.</summary>
    public static Command BuildModelsList()
    {
        var app = new Option<string?>("--app") { Description = "An app's models (with the built-ins); default the built-ins of clarifai/main", HelpName = "APP" };
        var list = new Command("list", "Lists models: an app's (with the built-ins it can use) or clarifai/main's.") { app };
        var client = ClientOptions.AddTo(list);
        list.SetAction(async (parsed, ct) =>
        {
            using var connection = client.Connect(parsed);
            var appId = parsed.GetValue(app);
            var scope = appId is null ? new UserAppIDSet { UserId = "clarifai", AppId = "main" } : connection.App(appId);
            var table = connection.Console.NewTable("Model", "Type", "Version", "Status", "App");
            await foreach (var model in PagesAsync<Model>(async (page, t) =>
                (await connection.CallAsync("ListModels", (c, h, tt) => c.ListModelsAsync(new ListModelsRequest { UserAppId = scope, Page = page, PerPage = 500 }, h, cancellationToken: tt), t).ConfigureAwait(false)).Models, ct).ConfigureAwait(false))
            {
                table.AddPlainRow(model.Id, model.ModelTypeId, model.ModelVersion?.Id, model.ModelVersion?.Status is { } s ? Code(s) : null, $"{model.UserId}/{model.AppId}");
            }

            connection.Console.Write(table);
            return 0;
        });
        return list;
    }

    private static Command BuildList(string noun, string description, Func<ClientConnection, CancellationToken, Task<Table>> list)
    {
        var command = new Command("list", description);
        var client = ClientOptions.AddTo(command);
        command.SetAction(async (parsed, ct) =>
        {
            using var connection = client.Connect(parsed);
            connection.Console.Write(await list(connection, ct).ConfigureAwait(false));
            return 0;
        });
        return new Command(noun, description) { command };
    }

    private static async Task<Table> ListAppsAsync(ClientConnection connection, CancellationToken ct)
    {
        var table = connection.Console.NewTable("App", "Name", "Base workflow", "Created");
        var user = new UserAppIDSet { UserId = connection.UserId };
        await foreach (var app in PagesAsync<App>(async (page, t) =>
            (await connection.CallAsync("ListApps", (c, h, tt) => c.ListAppsAsync(new ListAppsRequest { UserAppId = user, Page = page, PerPage = 500 }, h, cancellationToken: tt), t).ConfigureAwait(false)).Apps, ct).ConfigureAwait(false))
        {
            table.AddPlainRow(app.Id, app.Name, app.DefaultWorkflow?.Id, Time(app.CreatedAt));
        }

        return table;
    }

    private static async Task<Table> ListKeysAsync(ClientConnection connection, CancellationToken ct)
    {
        var table = connection.Console.NewTable("Key", "Type", "Description", "Scopes", "Apps", "Expires");
        var user = new UserAppIDSet { UserId = connection.UserId };
        await foreach (var key in PagesAsync<Key>(async (page, t) =>
            (await connection.CallAsync("ListKeys", (c, h, tt) => c.ListKeysAsync(new ListKeysRequest { UserAppId = user, Page = page, PerPage = 500 }, h, cancellationToken: tt), t).ConfigureAwait(false)).Keys, ct).ConfigureAwait(false))
        {
            table.AddPlainRow(key.Id, key.Type, key.Description, string.Join(' ', key.Scopes), string.Join(' ', key.Apps.Select(a => a.Id)), key.ExpiresAt is null ? "never" : Time(key.ExpiresAt));
        }

        return table;
    }

    private static Command BuildPredict()
    {
        var model = new Argument<string>("model") { Description = "Model id (a built-in of clarifai/main, or a model of --app)" };
        var target = new Argument<string>("file|url") { Description = "An image file or an http(s) URL" };
        var app = new Option<string?>("--app") { Description = "App whose model (or whose access to the built-ins) to use; default clarifai/main", HelpName = "APP" };
        var version = new Option<string?>("--version") { Description = "Model version (default the latest trained)", HelpName = "VERSION" };
        var command = new Command("predict", "Predicts on one image: concepts, regions, embeddings.") { model, target, app, version };
        var client = ClientOptions.AddTo(command);
        command.SetAction(async (parsed, ct) =>
        {
            using var connection = client.Connect(parsed);
            var appId = parsed.GetValue(app);
            var request = new PostModelOutputsRequest
            {
                UserAppId = appId is null ? new UserAppIDSet { UserId = "clarifai", AppId = "main" } : connection.App(appId),
                ModelId = parsed.GetRequiredValue(model),
                VersionId = parsed.GetValue(version) ?? string.Empty,
            };
            request.Inputs.Add(new Input { Data = new Data { Image = ImageOf(parsed.GetRequiredValue(target)) } });
            var answer = await connection.CallAsync("PostModelOutputs", (c, h, t) => c.PostModelOutputsAsync(request, h, cancellationToken: t), ct).ConfigureAwait(false);
            var output = answer.Outputs.Single();
            var console = connection.Console;
            console.WriteLine($"Model {output.Model?.Id} version {output.Model?.ModelVersion?.Id}: {Code(output.Status)}");
            if (output.Data.Concepts.Count > 0)
            {
                var table = console.NewTable("Concept", "Id", "Value");
                foreach (var concept in output.Data.Concepts)
                {
                    table.AddPlainRow(concept.Name, concept.Id, concept.Value.ToString("F4", Invariant));
                }

                console.Write(table);
            }

            if (output.Data.Regions.Count > 0)
            {
                var table = console.NewTable("Region", "Box (top, left, bottom, right)", "Concepts", "Text");
                foreach (var region in output.Data.Regions)
                {
                    var box = region.RegionInfo?.BoundingBox;
                    table.AddPlainRow(region.Id, box is null ? null : string.Create(Invariant, $"{box.TopRow:F3}, {box.LeftCol:F3}, {box.BottomRow:F3}, {box.RightCol:F3}"),
                        string.Join(", ", region.Data?.Concepts.Select(c => string.Create(Invariant, $"{c.Name} {c.Value:F4}")) ?? []), region.Data?.Text?.Raw);
                }

                console.Write(table);
            }

            foreach (var embedding in output.Data.Embeddings)
            {
                console.WriteLine(string.Create(Invariant, $"Embedding: {embedding.Vector.Count} dimensions, first values {string.Join(", ", embedding.Vector.Take(4).Select(v => v.ToString("F4", Invariant)))}"));
            }

            if (output.Data.Concepts.Count == 0 && output.Data.Regions.Count == 0 && output.Data.Embeddings.Count == 0)
            {
                console.WriteLine("No concepts, regions or embeddings in the output.");
            }

            return 0;
        });
        return command;
    }

    private static Command BuildSearch()
    {
        var app = new Argument<string>("app");
        var image = new Option<string?>("--image") { Description = "Ranks the app's inputs by similarity to this image (file or URL)", HelpName = "FILE|URL" };
        var concept = new Option<string?>("--concept") { Description = "Ranks the app's inputs by this predicted concept: a concept name of the base workflow's concept model (e.g. cat)", HelpName = "NAME" };
        var label = new Option<string?>("--label") { Description = "Keeps only inputs labelled with this concept id (your annotations)", HelpName = "CONCEPT_ID" };
        var top = new Option<int>("--top") { Description = "How many hits (1–1000)", DefaultValueFactory = _ => 10, HelpName = "N" };
        var command = new Command("search", "Searches an app's inputs by image, by predicted concept, by label (combined with AND).") { app, image, concept, label, top };
        var client = ClientOptions.AddTo(command);
        command.SetAction(async (parsed, ct) =>
        {
            var (imageValue, conceptValue, labelValue, topValue) = (parsed.GetValue(image), parsed.GetValue(concept), parsed.GetValue(label), parsed.GetValue(top));
            if (imageValue is null && conceptValue is null && labelValue is null)
            {
                throw new UsageException("search needs --image, --concept or --label.");
            }

            if (topValue is < 1 or > 1000)
            {
                throw new UsageException("--top must be between 1 and 1000.");
            }

            using var connection = client.Connect(parsed);
            var query = new Query();
            if (imageValue is not null)
            {
                query.Ranks.Add(new Rank { Annotation = new Annotation { Data = new Data { Image = ImageOf(imageValue) } } });
            }

            if (conceptValue is not null)
            {
                var data = new Data();
                data.Concepts.Add(new Concept { Name = conceptValue, Value = 1 });
                query.Ranks.Add(new Rank { Annotation = new Annotation { Data = data } });
            }

            if (labelValue is not null)
            {
                var data = new Data();
                data.Concepts.Add(new Concept { Id = labelValue, Value = 1 });
                query.Filters.Add(new Filter { Annotation = new Annotation { Data = data } });
            }

            var request = new PostInputsSearchesRequest { UserAppId = connection.App(parsed.GetRequiredValue(app)), Pagination = new Pagination { Page = 1, PerPage = (uint)topValue } };
            request.Searches.Add(new Clarifai.Api.Search { Query = query });
            var answer = await connection.CallAsync("PostInputsSearches", (c, h, t) => c.PostInputsSearchesAsync(request, h, cancellationToken: t), ct).ConfigureAwait(false);
            var table = connection.Console.NewTable("Rank", "Input", "Score", "Labels");
            var rank = 0;
            foreach (var hit in answer.Hits)
            {
                table.AddPlainRow((++rank).ToString(Invariant), hit.Input?.Id, hit.Score.ToString("F4", Invariant),
                    string.Join(", ", hit.Input?.Data?.Concepts.Where(c => c.Value > 0).Select(c => c.Id) ?? []));
            }

            connection.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static Command BuildTrain()
    {
        var app = new Argument<string>("app");
        var modelId = new Argument<string>("model-id");
        var concepts = new Option<string>("--concepts") { Description = "Comma-separated concept ids to train on", Required = true, HelpName = "A,B" };
        var wait = new Option<bool>("--wait") { Description = "Wait until training ends; exit 1 when it failed" };
        var command = new Command("train", "Trains an embedding-classifier on the app's labelled inputs (creates the model when missing, then a version).") { app, modelId, concepts, wait };
        var client = ClientOptions.AddTo(command);
        command.SetAction(async (parsed, ct) =>
        {
            var conceptIds = parsed.GetRequiredValue(concepts).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (conceptIds.Length == 0)
            {
                throw new UsageException("--concepts needs at least one concept id.");
            }

            using var connection = client.Connect(parsed);
            var console = connection.Console;
            var scope = connection.App(parsed.GetRequiredValue(app));
            var id = parsed.GetRequiredValue(modelId);
            var existing = await connection.CallAsync("GetModel", (c, h, t) => c.GetModelAsync(new GetModelRequest { UserAppId = scope, ModelId = id }, h, cancellationToken: t),
                ct, StatusCode.ModelDoesNotExist, StatusCode.ConnDoesNotExist).ConfigureAwait(false);
            if (existing.Status.Code is StatusCode.ModelDoesNotExist or StatusCode.ConnDoesNotExist)
            {
                var create = new PostModelsRequest { UserAppId = scope };
                create.Models.Add(new Model { Id = id, ModelTypeId = "embedding-classifier" });
                await connection.CallAsync("PostModels", (c, h, t) => c.PostModelsAsync(create, h, cancellationToken: t), ct).ConfigureAwait(false);
                console.WriteLine($"Created model '{id}' (embedding-classifier).");
            }

            var data = new Data();
            data.Concepts.Add(conceptIds.Select(c => new Concept { Id = c, Value = 1 }));
            var versionRequest = new PostModelVersionsRequest { UserAppId = scope, ModelId = id };
            versionRequest.ModelVersions.Add(new ModelVersion { OutputInfo = new OutputInfo { Data = data } });
            var created = await connection.CallAsync("PostModelVersions", (c, h, t) => c.PostModelVersionsAsync(versionRequest, h, cancellationToken: t), ct).ConfigureAwait(false);
            var version = created.Model.ModelVersion;
            console.WriteLine($"Version {version.Id} of model '{id}': {Code(version.Status)}");
            if (!parsed.GetValue(wait))
            {
                return 0;
            }

            while (version.Status.Code is StatusCode.ModelQueuedForTraining or StatusCode.ModelTraining)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), ct).ConfigureAwait(false);
                var versionId = version.Id;
                version = (await connection.CallAsync("GetModelVersion", (c, h, t) =>
                    c.GetModelVersionAsync(new GetModelVersionRequest { UserAppId = scope, ModelId = id, VersionId = versionId }, h, cancellationToken: t), ct).ConfigureAwait(false)).ModelVersion;
            }

            console.WriteLine($"Version {version.Id} of model '{id}': {Code(version.Status)}");
            var table = console.NewTable("Concept", "Name");
            foreach (var concept in version.OutputInfo?.Data?.Concepts ?? [])
            {
                table.AddPlainRow(concept.Id, concept.Name);
            }

            console.Write(table);
            return version.Status.Code == StatusCode.ModelTrained ? 0 : 1;
        });
        return command;
    }

    /// <summary>A file's bytes, or an http(s) URL for the server to fetch.</summary>
    private static Image ImageOf(string fileOrUrl) =>
        fileOrUrl.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || fileOrUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? new Image { Url = fileOrUrl }
            : File.Exists(fileOrUrl)
                ? new Image { Base64 = ByteString.CopyFrom(File.ReadAllBytes(fileOrUrl)) }
                : throw new UsageException($"'{fileOrUrl}' is neither a file nor an http(s) URL.");

    private static string Code(Clarifai.Api.Status.Status status) => ClarifaiStatusException.Format(status);

    private static string Time(Google.Protobuf.WellKnownTypes.Timestamp? time) =>
        time is null ? string.Empty : time.ToDateTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Invariant);

    /// <summary>Pages through a list (page 1, 2, …) until a page comes back shorter than asked (500).</summary>
    private static async IAsyncEnumerable<T> PagesAsync<T>(Func<uint, CancellationToken, Task<Google.Protobuf.Collections.RepeatedField<T>>> page,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        for (uint number = 1; ; number++)
        {
            var items = await page(number, ct).ConfigureAwait(false);
            foreach (var item in items)
            {
                yield return item;
            }

            if (items.Count < 500)
            {
                yield break;
            }
        }
    }
}
