using System.Diagnostics;
using System.Text.RegularExpressions;
using Clarifai.Api;
using Grpc.Net.Client;

namespace Iris.Server.Tests.Infrastructure;

/// <summary>
/// A real <c>iris serve</c> process (the built CLI, <c>dotnet exec iris.dll</c>) on free loopback ports, with a gRPC client
/// and an HttpClient for its ports. <see cref="KillAsync"/> is SIGKILL: nothing of the process runs after it.
/// </summary>
public sealed partial class ServeProcess : IAsyncDisposable
{
    private ServeProcess(Process process, int httpPort, int grpcPort)
    {
        Process = process;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}", new GrpcChannelOptions { MaxSendMessageSize = 256 << 20, MaxReceiveMessageSize = 256 << 20 });
        Grpc = new V2.V2Client(Channel);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
    }

    public Process Process { get; }

    public GrpcChannel Channel { get; }

    public V2.V2Client Grpc { get; }

    /// <summary>REST client for the node's HTTP port (no credentials set).</summary>
    public HttpClient Http { get; }

    [GeneratedRegex(@"REST on http://([^:]+):(\d+) and gRPC on [^:]+:(\d+)")]
    private static partial Regex ServingLine();

    /// <summary>Starts <c>iris serve --data-dir <paramref name="dataDir"/></c> with <paramref name="args"/> and <paramref name="environment"/>; returns once it serves.</summary>
    public static async Task<ServeProcess> StartAsync(string dataDir, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0/
        var dll = Path.Combine(RepoRoot.Path, "src/Iris.Cli/bin", configuration, "net10.0/iris.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build src/Iris.Cli first.");
        var start = new ProcessStartInfo("dotnet", ["exec", dll, "serve", "--data-dir", dataDir, "--host", "127.0.0.1", "--http-port", "0", "--grpc-port", "0", .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    await process.WaitForExitAsync(timeout.Token);
                    lock (errors)
                    {
                        throw new InvalidOperationException($"iris serve exited ({process.ExitCode}) before serving: {errors}");
                    }
                }

                var match = ServingLine().Match(line);
                if (match.Success)
                {
                    // Keep draining stdout so the child never blocks on a full pipe.
                    _ = Task.Run(async () =>
                    {
                        while (await process.StandardOutput.ReadLineAsync() is not null)
                        {
                        }
                    });
                    return new ServeProcess(process, int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture),
                        int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL, and waits until the process is gone.</summary>
    public async Task KillAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }

        await Process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Http.Dispose();
        Channel.Dispose();
        Process.Dispose();
    }
}
