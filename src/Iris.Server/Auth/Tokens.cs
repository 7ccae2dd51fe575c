using System.Security.Cryptography;

namespace Iris.Server.Auth;

/// <summary>Token syntax and generation. Secrets are 32 lowercase hex characters, like Clarifai's.</summary>
public static class Tokens
{
    public static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>What a key may look like at all; anything else is refused as malformed (11008) before any look-up.</summary>
    public static bool HasValidFormat(string token)
    {
        if (token.Length is < 16 or > 256)
        {
            return false;
        }

        foreach (var c in token)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
