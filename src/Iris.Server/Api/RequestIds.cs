namespace Iris.Server.Api;

/// <summary>
/// Request ids: 32 lowercase hex characters, optionally after a client-chosen prefix. They only need to be unique,
/// not secret, so the shared PRNG is used: the OS CSPRNG costs ~2 µs per call (a third of the gRPC pipeline).
/// </summary>
internal static class RequestIds
{
    /// <summary>The official clients may send <c>X-Clarifai-Request-ID-Prefix</c>; it is kept when short and plain.</summary>
    public static string New(string? prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        var id = Convert.ToHexStringLower(bytes);
        if (string.IsNullOrEmpty(prefix) || prefix.Length > 64 || !IsPlain(prefix))
        {
            return id;
        }

        return prefix + "-" + id;
    }

    private static bool IsPlain(string s)
    {
        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
