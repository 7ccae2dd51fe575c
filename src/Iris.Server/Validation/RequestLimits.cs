namespace Iris.Server.Validation;

/// <summary>
/// Per-field limits every request passes before its handler, on both transports (docs/limits.md lists them with their
/// statuses). Clarifai documents none of these; they bound what one call can make Iris store or hold in memory.
/// </summary>
internal static class RequestLimits
{
    /// <summary>
    /// Largest <c>google.protobuf.Struct</c> (e.g. <c>data.metadata</c>), as its binary size in bytes: 64 KiB. Metadata
    /// is stored with each input and returned by every read, so a 10 MB object would be copied on every ListInputs.
    /// </summary>
    public const int MaxStructBytes = 64 * 1024;

    /// <summary>Keys in one Struct, counting the keys of nested objects: 1,000.</summary>
    public const int MaxStructKeys = 1000;

    /// <summary>Nesting of objects and lists inside one Struct: 16 levels (protobuf's own parse limit is 100 messages, ~33 levels).</summary>
    public const int MaxStructDepth = 16;

    /// <summary>Characters in <c>text.raw</c>: 128 Ki (UTF-16 code units).</summary>
    public const int MaxTextChars = 128 * 1024;

    /// <summary>Concepts in one <c>concepts</c> list (an input's labels, a PostConcepts call, a model's output info): 1,000.</summary>
    public const int MaxConceptsPerList = 1000;

    /// <summary>Bytes of an unauthenticated request body (NoAuth RPCs), read before anything else: 64 KiB.</summary>
    public const int MaxUnauthenticatedBodyBytes = 64 * 1024;
}

/// <summary>
/// Limits on the request line and headers, checked by Iris so their refusals carry the status envelope. Kestrel's own
/// limits (<see cref="KestrelRequestLineBytes"/>, <see cref="KestrelHeaderBytes"/>) sit above them: only a request over
/// those is refused by Kestrel itself, before Iris sees it, with a bare HTTP status and no body.
/// </summary>
internal static class TransportLimits
{
    /// <summary>Path and query of a REST request, in bytes: 8 KiB (Kestrel's default request-line limit). Over it: 11102, HTTP 414.</summary>
    public const int MaxTargetBytes = 8 * 1024;

    /// <summary>All header names and values of a request, in bytes: 32 KiB (Kestrel's default). Over it: 11102, HTTP 431.</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>Kestrel's request-line limit: 64 KiB. Memory Kestrel may hold per connection while parsing.</summary>
    public const int KestrelRequestLineBytes = 64 * 1024;

    /// <summary>Kestrel's header limit: 256 KiB. Memory Kestrel may hold per request while parsing headers.</summary>
    public const int KestrelHeaderBytes = 256 * 1024;

    /// <summary>The total size of the request's header names and values.</summary>
    public static long HeaderBytes(Microsoft.AspNetCore.Http.IHeaderDictionary headers)
    {
        long total = 0;
        foreach (var (name, values) in headers)
        {
            total += name.Length;
            foreach (var value in values)
            {
                total += value?.Length ?? 0;
            }
        }

        return total;
    }
}
