namespace Iris.Storage.Searches;

/// <summary>
/// A filter clause of a search that the store answers (CLARIFAI_FACTS.md 7.1). Clauses combine with AND;
/// <see cref="Negate"/> inverts one. Metadata and geo clauses are answered by the planner from the queryable columns
/// each candidate carries (<see cref="Candidate"/>), since containment and distances are not one SQL text on both dialects.
/// </summary>
public abstract record InputCondition(bool Negate)
{
    /// <summary>A user label: an annotation of the input names the concept (by id, or by name when the id is empty) with a positive (value &gt; 0) or negative (0) value.</summary>
    public sealed record Label(string Id, string Name, bool Positive, bool Negate) : InputCondition(Negate);

    /// <summary>The input holds one of these kinds (<c>image</c>, <c>text</c>, …; several are OR-ed).</summary>
    public sealed record Kinds(IReadOnlyList<string> Values, bool Negate) : InputCondition(Negate);

    /// <summary>The input's status code.</summary>
    public sealed record Status(int Code, bool Negate) : InputCondition(Negate);

    /// <summary>The input belongs to one of these datasets (OR).</summary>
    public sealed record Datasets(IReadOnlyList<string> Ids, bool Negate) : InputCondition(Negate);

    /// <summary>The input was added from this URL.</summary>
    public sealed record Url(string Value, bool Negate) : InputCondition(Negate);

    /// <summary>The input is one of these.</summary>
    public sealed record InputIds(IReadOnlyList<string> Ids, bool Negate) : InputCondition(Negate);

    /// <summary>Some annotation of the input matches every given field (null = any).</summary>
    public sealed record Annotation(string? Id, bool? InputLevel, string? UserId, int? StatusCode, bool Negate) : InputCondition(Negate);

    /// <summary>
    /// The app's base workflow ran this model version on the input and its output is stored: the input's embedding, or
    /// the concepts the model predicted (Clarifai keeps these as the input's model annotations, CLARIFAI_FACTS.md 8.3).
    /// With <paramref name="AnnotationId"/>, that output's model annotation has this id (<c>ModelAnnotations.IdOf</c>).
    /// </summary>
    public sealed record ModelOutput(string ModelVersionId, bool Negate, string? AnnotationId = null) : InputCondition(Negate);

    /// <summary>Every part holds (a filter of several fields, negated as a whole).</summary>
    public sealed record All(IReadOnlyList<InputCondition> Parts, bool Negate) : InputCondition(Negate);

    /// <summary>The input was last modified in [<paramref name="FromMicros"/>, <paramref name="ToMicros"/>] (unix µs; null = open).</summary>
    public sealed record UpdatedBetween(long? FromMicros, long? ToMicros, bool Negate) : InputCondition(Negate);
}

/// <summary>An input that passed the store's conditions, newest first, with its input-level annotation's queryable fields.</summary>
public sealed record Candidate(string InputId, long Seq, string? MetadataJson, double? Longitude, double? Latitude);
