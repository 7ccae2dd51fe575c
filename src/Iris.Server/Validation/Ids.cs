using Clarifai.Api.Status;
using Iris.Core.Errors;

namespace Iris.Server.Validation;

/// <summary>Which id rule applies: every resource id, or the stricter one of users and apps (they appear in URLs as owners).</summary>
internal enum IdKind
{
    /// <summary>Inputs, annotations, datasets, add-jobs…: 1 to 48 of A–Z, a–z, 0–9, <c>_</c> and <c>-</c>.</summary>
    Resource,

    /// <summary>Users and apps: the resource rule, starting with a letter or digit, and never <c>me</c> (the caller's alias).</summary>
    Owner,
}

/// <summary>
/// The one id validator (CLARIFAI_FACTS.md 3.6: "id must be between 1 and 48 characters long"; the SDK's sanitiser
/// keeps letters, digits, <c>_</c> and <c>-</c>). Handlers ask it for the problem and raise their family's status.
/// </summary>
internal static class Ids
{
    public const int MaxLength = 48;

    public static bool IsValid(string? id, IdKind kind = IdKind.Resource) => Problem(id, kind) is null;

    /// <summary>What is wrong with <paramref name="id"/> as a sentence completing "id …", or null when it is valid.</summary>
    public static string? Problem(string? id, IdKind kind = IdKind.Resource)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength)
        {
            return "must be between 1 and 48 characters long";
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return "may contain only letters, digits, '_' and '-'";
            }
        }

        if (kind == IdKind.Owner)
        {
            if (!char.IsAsciiLetterOrDigit(id[0]))
            {
                return "must start with a letter or digit";
            }

            if (id == "me")
            {
                return "cannot be 'me', which names the caller";
            }
        }

        return null;
    }

    /// <summary>Throws <paramref name="code"/> naming <paramref name="what"/> (e.g. "App id") when the id is invalid.</summary>
    public static void Require(string what, string? id, IdKind kind, StatusCode code)
    {
        if (Problem(id, kind) is { } problem)
        {
            throw new IrisException(code, string.IsNullOrEmpty(id) ? $"{what} {problem}." : $"{what} '{id}' {problem}.");
        }
    }
}
