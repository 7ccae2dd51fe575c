using Iris.Core.Errors;

namespace Iris.Server.Api;

/// <summary>
/// The one paging rule of every List RPC (CLARIFAI_FACTS.md 4.4, Clarifai's pagination page: "<c>page</c> defaults to
/// 1, <c>per_page</c> defaults to 128; you can get up to 1,000 results per page"): <c>page</c> 0 means 1,
/// <c>per_page</c> 0 means the RPC's default, and a <c>per_page</c> over 1,000 is refused with 11102 rather than
/// silently shortened, so a client paging by its own page size never skips results.
/// </summary>
internal static class Paging
{
    public const int DefaultPerPage = 128;

    public const int MaxPerPage = 1000;

    /// <summary>The page asked for; throws 11102 when <paramref name="perPage"/> is over <see cref="MaxPerPage"/>.</summary>
    public static Page Read(uint page, uint perPage, int defaultPerPage = DefaultPerPage)
    {
        if (perPage > MaxPerPage)
        {
            throw IrisException.InvalidRequest($"per_page must be at most {MaxPerPage}; got {perPage}.");
        }

        return new Page((int)Math.Clamp(page, 1u, int.MaxValue), perPage == 0 ? defaultPerPage : (int)perPage);
    }
}

/// <summary>One page: its 1-based number and size.</summary>
internal readonly record struct Page(int Number, int Size)
{
    /// <summary>Items before this page.</summary>
    public long Offset => (long)(Number - 1) * Size;

    /// <summary>This page of an in-memory sequence.</summary>
    public IEnumerable<T> Of<T>(IEnumerable<T> items) => Offset > int.MaxValue ? [] : items.Skip((int)Offset).Take(Size);
}
