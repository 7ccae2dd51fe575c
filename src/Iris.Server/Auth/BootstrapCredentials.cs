using System.Security.Cryptography;
using System.Text;
using Iris.Server.Hosting;

namespace Iris.Server.Auth;

/// <summary>
/// The bootstrap personal access token of the bootstrap user: from <c>IRIS_BOOTSTRAP_PAT</c> when set, else read from
/// <c>&lt;data-dir&gt;/bootstrap-pat</c>, else generated on first start and written there with mode 0600.
/// Compared in constant time.
/// </summary>
public sealed class BootstrapCredentials : ICredentialStore
{
    public const string FileName = "bootstrap-pat";

    private readonly byte[] _secret;
    private readonly Principal _principal;

    private BootstrapCredentials(string userId, string token, bool generated)
    {
        UserId = userId;
        Token = token;
        Generated = generated;
        _secret = Encoding.UTF8.GetBytes(token);
        _principal = new Principal(userId, CredentialKind.PersonalAccessToken);
    }

    public string UserId { get; }

    /// <summary>The secret itself; shown once, when <see cref="Generated"/>.</summary>
    public string Token { get; }

    /// <summary>True when this start created the token (so the host prints it once).</summary>
    public bool Generated { get; }

    public static BootstrapCredentials Load(IrisServerOptions options)
    {
        if (!string.IsNullOrEmpty(options.BootstrapPat))
        {
            if (!Tokens.HasValidFormat(options.BootstrapPat))
            {
                throw new InvalidOperationException("IRIS_BOOTSTRAP_PAT must be 16 to 256 characters from [A-Za-z0-9_-].");
            }

            return new BootstrapCredentials(options.BootstrapUser, options.BootstrapPat, generated: false);
        }

        var path = Path.Combine(options.DataDir, FileName);
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (Tokens.HasValidFormat(existing))
            {
                return new BootstrapCredentials(options.BootstrapUser, existing, generated: false);
            }
        }

        var token = Tokens.NewSecret();
        var tmp = path + ".tmp";
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(tmp, fileOptions))
        {
            stream.Write(Encoding.UTF8.GetBytes(token + "\n"));
        }

        File.Move(tmp, path, overwrite: true);
        return new BootstrapCredentials(options.BootstrapUser, token, generated: true);
    }

    public ValueTask<Principal?> FindAsync(string token, CancellationToken cancellationToken)
    {
        var presented = Encoding.UTF8.GetBytes(token);
        var match = CryptographicOperations.FixedTimeEquals(presented, _secret);
        return ValueTask.FromResult(match ? _principal : null);
    }
}
