using Clarifai.Api.Status;
using Clarifai.Auth.Types;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;

namespace Iris.Server.Auth;

/// <summary>
/// Turns the <c>Authorization: Key &lt;token&gt;</c> header (gRPC metadata <c>authorization</c>) into a principal,
/// with the failures of CLARIFAI_FACTS.md 1.7: missing or malformed header → 11102, a key of impossible shape → 11008,
/// an unknown key → 11009.
/// </summary>
public sealed class Authenticator(ICredentialStore credentials)
{
    public const string MalformedHeaderDetails = "Empty or malformed authorization header. Please provide an API key or session token.";

    /// <summary>Returns null for NoAuth RPCs; otherwise the caller, or throws the precise status.</summary>
    public async ValueTask<Principal?> AuthenticateAsync(RpcInfo rpc, string? authorization, CancellationToken cancellationToken)
    {
        if (rpc.AuthType == AuthType.NoAuth)
        {
            return null;
        }

        if (!TryParseHeader(authorization, out var token))
        {
            throw new IrisException(StatusCode.ConnInvalidRequest, MalformedHeaderDetails);
        }

        if (!Tokens.HasValidFormat(token))
        {
            throw new IrisException(StatusCode.ConnKeyInvalid, "Invalid format of key.");
        }

        return await credentials.FindAsync(token, cancellationToken).ConfigureAwait(false)
            ?? throw new IrisException(StatusCode.ConnKeyNotFound, "No API key or personal access token matches the key provided.");
    }

    /// <summary>Exactly two space-separated parts, the first being <c>Key</c> (case-sensitive, as the official clients send it).</summary>
    internal static bool TryParseHeader(string? header, out string token)
    {
        token = string.Empty;
        if (string.IsNullOrEmpty(header) || !header.StartsWith("Key ", StringComparison.Ordinal))
        {
            return false;
        }

        var rest = header.AsSpan(4);
        if (rest.IsEmpty || rest.Contains(' '))
        {
            return false;
        }

        token = rest.ToString();
        return true;
    }
}
