namespace Iris.Inference.Predict;

/// <summary>Where one predict input's image comes from; the transport maps each wire input to one of these.</summary>
public abstract record ImageSource
{
    private ImageSource()
    {
    }

    /// <summary>Encoded image bytes sent with the request (shared with the request, not copied).</summary>
    public sealed record Bytes(ReadOnlyMemory<byte> Encoded) : ImageSource;

    /// <summary>A URL to download through the <see cref="Core.Fetching.UrlFetcher"/> (its policy, limits and statuses).</summary>
    public sealed record Url(string Address) : ImageSource;

    /// <summary>An input stored in the app the predict runs in, by id (30102 when there is none).</summary>
    public sealed record Stored(string InputId) : ImageSource;

    /// <summary>The input carries no image; <paramref name="Details"/> say what is wrong (30104).</summary>
    public sealed record Missing(string Details) : ImageSource;
}
