using System.CommandLine;
using Clarifai.Api;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Spectre.Console;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Cli;

/// <summary>
/// The options every client command takes (<c>--pat</c>, <c>--api-base</c>, <c>--user-id</c>, <c>--no-color</c>) and
/// what they resolve to, as the Clarifai SDKs do: the PAT from <c>CLARIFAI_PAT</c>, the base from
/// <c>CLARIFAI_API_BASE</c> (default the local gRPC port), the user from <c>CLARIFAI_USER_ID</c> or <c>me</c> (the PAT's
/// own user, as Iris resolves it).
/// </summary>
internal sealed class ClientOptions
{
    public const string DefaultApiBase = "http://127.0.0.1:18080";

    public Option<string?> Pat { get; } = new("--pat") { Description = "Personal access token (default: $CLARIFAI_PAT)", HelpName = "PAT" };

    public Option<string?> ApiBase { get; } = new("--api-base")
    {
        Description = $"gRPC endpoint of Iris: http://host:port (plaintext) or https://host:port (TLS) (default: $CLARIFAI_API_BASE, else {DefaultApiBase})",
        HelpName = "URL",
    };

    public Option<string?> UserId { get; } = new("--user-id") { Description = "User the apps belong to (default: $CLARIFAI_USER_ID, else the PAT's own user)", HelpName = "ID" };

    public Option<bool> NoColor { get; } = new("--no-color") { Description = "Plain output: no colours, no live progress, tables as Markdown (also NO_COLOR, or when output is not a terminal)" };

    public static ClientOptions AddTo(Command command)
    {
        var options = new ClientOptions();
        command.Add(options.Pat);
        command.Add(options.ApiBase);
        command.Add(options.UserId);
        command.Add(options.NoColor);
        return options;
    }

    public ClientConnection Connect(ParseResult parsed)
    {
        var pat = parsed.GetValue(Pat) ?? Environment.GetEnvironmentVariable("CLARIFAI_PAT");
        if (string.IsNullOrWhiteSpace(pat))
        {
            throw new UsageException("no personal access token: pass --pat or set CLARIFAI_PAT (`iris users token <user>` makes one).");
        }

        var apiBase = parsed.GetValue(ApiBase) ?? Environment.GetEnvironmentVariable("CLARIFAI_API_BASE");
        var userId = parsed.GetValue(UserId) ?? Environment.GetEnvironmentVariable("CLARIFAI_USER_ID");
        return new ClientConnection(ToAddress(string.IsNullOrWhiteSpace(apiBase) ? DefaultApiBase : apiBase), pat.Trim(),
            string.IsNullOrWhiteSpace(userId) ? "me" : userId.Trim(), CliConsole.Create(parsed.GetValue(NoColor)));
    }

    /// <summary>http:// and https:// are kept; a bare host[:port] means https, as in the SDKs (api.clarifai.com).</summary>
    internal static Uri ToAddress(string apiBase)
    {
        var text = apiBase.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "https://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"--api-base / CLARIFAI_API_BASE '{apiBase}' is not an http:// or https:// address.");
        }

        return new Uri(uri.GetLeftPart(UriPartial.Authority));
    }
}

/// <summary>A gRPC channel to Iris with the caller's PAT, and the one place that turns an answer's status into an error.</summary>
internal sealed class ClientConnection : IDisposable
{
    private readonly GrpcChannel _channel;

    public ClientConnection(Uri address, string pat, string userId, IAnsiConsole console)
    {
        Address = address;
        UserId = userId;
        Console = console;
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxSendMessageSize = 128 << 20, MaxReceiveMessageSize = 128 << 20 });
        Client = new V2.V2Client(_channel);
        Headers = new Metadata { { "authorization", "Key " + pat } };
    }

    public Uri Address { get; }

    public string UserId { get; }

    public IAnsiConsole Console { get; }

    public V2.V2Client Client { get; }

    public Metadata Headers { get; }

    public UserAppIDSet App(string appId) => new() { UserId = UserId, AppId = appId };

    /// <summary>Calls <paramref name="call"/> and returns its answer when its status is one of <paramref name="accepted"/> (default: success).</summary>
    public async Task<T> CallAsync<T>(string what, Func<V2.V2Client, Metadata, CancellationToken, AsyncUnaryCall<T>> call, CancellationToken ct, params StatusCode[] accepted)
        where T : class, IMessage
    {
        T answer;
        try
        {
            answer = await call(Client, Headers, ct).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.Cancelled && ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        catch (RpcException e)
        {
            throw new InvalidOperationException($"{what}: cannot reach Iris at {Address} ({e.StatusCode}: {e.Status.Detail})", e);
        }

        var status = StatusOf(answer);
        if (status.Code == StatusCode.Success || accepted.Contains(status.Code))
        {
            return answer;
        }

        throw new ClarifaiStatusException(what, status);
    }

    /// <summary>Every Clarifai answer has its status in field <c>status</c>.</summary>
    private static Clarifai.Api.Status.Status StatusOf<T>(T answer)
        where T : class, IMessage =>
        answer.Descriptor.FindFieldByName("status")?.Accessor.GetValue(answer) as Clarifai.Api.Status.Status ?? new Clarifai.Api.Status.Status();

    public void Dispose() => _channel.Dispose();
}

/// <summary>A Clarifai status other than success, as the server answered it: printed as code, description and details.</summary>
internal sealed class ClarifaiStatusException(string what, Clarifai.Api.Status.Status status)
    : Exception($"{what} failed: {Format(status)}")
{
    public Clarifai.Api.Status.Status Status { get; } = status;

    public static string Format(Clarifai.Api.Status.Status status) =>
        $"{(int)status.Code} {status.Description}" + (string.IsNullOrEmpty(status.Details) ? string.Empty : $" ({status.Details})");
}

/// <summary>The console of the client commands: Spectre with colours and live progress on a terminal; plain otherwise.</summary>
internal static class CliConsole
{
    public static IAnsiConsole Create(bool noColor)
    {
        var plain = noColor || System.Console.IsOutputRedirected || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(System.Console.Out),
        });
        if (plain)
        {
            console.Profile.Width = 4096; // never wrap a row: scripts and tests read it
        }

        return console;
    }

    public static bool IsPlain(this IAnsiConsole console) => !console.Profile.Capabilities.Interactive;

    /// <summary>A table: rounded on a terminal, Markdown (one row a line, cells between '|') otherwise.</summary>
    public static Table NewTable(this IAnsiConsole console, params string[] columns)
    {
        var table = new Table { Border = console.IsPlain() ? TableBorder.Markdown : TableBorder.Rounded };
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(column) { NoWrap = console.IsPlain() });
        }

        return table;
    }

    public static void AddPlainRow(this Table table, params string?[] cells) =>
        table.AddRow([.. cells.Select(c => (Spectre.Console.Rendering.IRenderable)new Spectre.Console.Text(c ?? string.Empty))]);
}
