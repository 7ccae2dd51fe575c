using Iris.Storage.Identity;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Clarifai.Api.Status;
using Clarifai.Auth.Scope;
using Iris.Core.Errors;
using Iris.Server.Auth;

namespace Iris.Server.Identity;

/// <summary>
/// Resolves a presented key through the identity store on every request (an indexed look-up, served from the store's
/// read cache while the database is unchanged), so tokens created, patched or deleted by the API or by
/// <c>iris users</c> in another process take effect at once. Secrets are stored
/// only as SHA-256 hashes: they are 128-bit random values, so a fast hash is enough, and the hash is compared in
/// constant time.
/// </summary>
internal sealed class DbCredentialStore(IIdentityStore store, TimeProvider time) : ICredentialStore
{
    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public async ValueTask<Principal?> FindAsync(string token, CancellationToken cancellationToken)
    {
        var hash = Hash(token);
        var found = await store.FindKeyByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (found is not { } match || !CryptographicOperations.FixedTimeEquals(hash, match.StoredHash))
        {
            return null;
        }

        var key = match.Key;
        if (key.ExpiresAt is { } expires && expires <= time.GetUtcNow())
        {
            throw new IrisException(StatusCode.ConnKeyInvalid,
                $"The key expired at {expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}.");
        }

        return ToPrincipal(key);
    }

    public static Principal ToPrincipal(KeyRecord key)
    {
        if (key.Type == KeyTypes.PersonalAccessToken)
        {
            return new Principal(key.UserId, CredentialKind.PersonalAccessToken) { KeyId = key.Id };
        }

        var scopes = new HashSet<S>();
        foreach (var name in key.Scopes)
        {
            if (ScopeCatalog.TryParse(name, out var scope))
            {
                scopes.Add(scope);
            }
        }

        return new Principal(key.UserId, CredentialKind.ApiKey, key.AppId)
        {
            KeyId = key.Id,
            Scopes = scopes,
            Endpoints = key.Endpoints.ToHashSet(StringComparer.Ordinal),
        };
    }
}
