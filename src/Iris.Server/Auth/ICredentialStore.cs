namespace Iris.Server.Auth;

/// <summary>
/// Resolves a presented key to its principal. The seam the identity work builds on: today the only
/// implementation knows the bootstrap personal access token.
/// </summary>
public interface ICredentialStore
{
    /// <summary>Returns the principal of <paramref name="token"/>, or null when no live credential has that secret.</summary>
    ValueTask<Principal?> FindAsync(string token, CancellationToken cancellationToken);
}
