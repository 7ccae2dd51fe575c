using System.Diagnostics;
using System.Text;
using Clarifai.Api;
using Grpc.Core;
using Iris.Server.Tests.Infrastructure;
using Iris.Testing;

namespace Iris.Server.Tests.Cli;

/// <summary>
/// A real <c>iris serve</c> process on loopback and the built CLI (<c>dotnet exec iris.dll</c>) run against it as a
/// separate process, with <c>CLARIFAI_PAT</c> and <c>CLARIFAI_API_BASE</c> set as a user would.
/// </summary>
public class CliFixture : IAsyncLifetime
{
    public const string Pat = "clitest0pat000000000000000000001";

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("iris-cli-");

    public ServeProcess Server { get; private set; } = null!;

    public string ApiBase { get; private set; } = string.Empty;

    public static Metadata Auth => new() { { "authorization", "Key " + Pat } };

    public static string Dll
    {
        get
        {
            var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0/
            return Path.Combine(RepoRoot.Path, "src/Iris.Cli/bin", configuration, "net10.0/iris.dll");
        }
    }

    /// <summary>A fresh scratch directory (deleted with the fixture).</summary>
    public string Scratch(string name) => Directory.CreateDirectory(Path.Combine(_root.FullName, "scratch", name)).FullName;

    protected virtual Task<IReadOnlyList<string>> ServeArgumentsAsync() => Task.FromResult<IReadOnlyList<string>>([]);

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(Dll), $"{Dll} is missing: build src/Iris.Cli first.");
        var dataDir = Directory.CreateDirectory(Path.Combine(_root.FullName, "data")).FullName;
        Server = await ServeProcess.StartAsync(dataDir, await ServeArgumentsAsync(), new Dictionary<string, string>
        {
            ["IRIS_BOOTSTRAP_PAT"] = Pat,
            // Converted models are shared by every test run on the machine, as in ModelsFixture.
            ["IRIS_MODELS_DIR"] = Environment.GetEnvironmentVariable("IRIS_MODELS_DIR") is { Length: > 0 } models ? models : Path.Combine(Path.GetTempPath(), "iris-test-models"),
        });
        ApiBase = "http://" + Server.Channel.Target;
    }

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        _root.Delete(recursive: true);
    }

    /// <summary>Creates an app whose base workflow is General (embedder + concept model).</summary>
    public async Task CreateAppAsync(string appId)
    {
        var request = new PostAppsRequest { UserAppId = new UserAppIDSet { UserId = "me" } };
        request.Apps.Add(new App { Id = appId, DefaultWorkflow = new Workflow { Id = "General", AppId = "main", UserId = "clarifai" } });
        var answer = await Server.Grpc.PostAppsAsync(request, Auth);
        Assert.Equal(Clarifai.Api.Status.StatusCode.Success, answer.Status.Code);
    }

    public sealed record Run(int ExitCode, string Output, string Errors)
    {
        /// <summary>The rows of the Markdown tables the CLI prints without a terminal (header and separator rows left out).</summary>
        public IReadOnlyList<string[]> Rows(string firstHeader)
        {
            var rows = new List<string[]>();
            var inTable = false;
            foreach (var line in Output.Split('\n'))
            {
                var text = line.Trim();
                if (!text.StartsWith('|'))
                {
                    inTable = false;
                    continue;
                }

                var cells = text.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
                if (cells[0] == firstHeader)
                {
                    inTable = true;
                    continue;
                }

                if (inTable && !cells[0].StartsWith("---", StringComparison.Ordinal))
                {
                    rows.Add(cells);
                }
            }

            return rows;
        }

        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Errors}";
    }

    /// <summary>Starts the CLI; <paramref name="onLine"/> sees each line of its output as it comes.</summary>
    public Process Start(IEnumerable<string> args, StringBuilder output, StringBuilder errors, Action<Process, string>? onLine = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet", ["exec", Dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CLARIFAI_PAT"] = Pat;
        start.Environment["CLARIFAI_API_BASE"] = ApiBase;
        start.Environment.Remove("CLARIFAI_USER_ID");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }

            onLine?.Invoke(process, e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (errors)
                {
                    errors.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public async Task<Run> RunAsync(params string[] args) => await RunAsync(args, null);

    public async Task<Run> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment)
    {
        var (output, errors) = (new StringBuilder(), new StringBuilder());
        using var process = Start(args, output, errors, environment: environment);
        return await FinishAsync(process, output, errors);
    }

    public static async Task<Run> FinishAsync(Process process, StringBuilder output, StringBuilder errors)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"iris did not finish within 4 minutes:\n{output}\n{errors}");
        }

        process.WaitForExit(); // drains the redirected streams
        lock (output)
        {
            lock (errors)
            {
                return new Run(process.ExitCode, output.ToString(), errors.ToString());
            }
        }
    }

    /// <summary>Ctrl+C: SIGINT to the process, with kill(1) (Process.Kill would be SIGKILL).</summary>
    public static void Interrupt(Process process)
    {
        using var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}

/// <summary>The same, on PostgreSQL (the shared test cluster).</summary>
public sealed class CliFixtureOnPostgres : CliFixture
{
    protected override async Task<IReadOnlyList<string>> ServeArgumentsAsync()
    {
        var cluster = await PostgresCluster.SharedAsync();
        return ["--database", cluster.UrlOf(await cluster.CreateDatabaseAsync("cli"))];
    }
}
