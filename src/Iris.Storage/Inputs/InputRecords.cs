namespace Iris.Storage.Inputs;

/// <summary>Input status codes the store reasons about (clarifai.api.status codes, kept as ints in the store).</summary>
public static class InputStates
{
    public const int Success = 30000;
    public const int Pending = 30001;
    public const int Failed = 30002;
    public const int InProgress = 30003;
}

/// <summary>A stored input. <see cref="Media"/> is the serialized media part of its data (image url, text), opaque here.</summary>
public sealed record InputRow(
    string Id,
    long Seq,
    string Kind,
    byte[] Media,
    string? Url,
    string? SourceBlob,
    string? BlobKey,
    string? ThumbKey,
    int? Width,
    int? Height,
    string? Format,
    string? ColorMode,
    int StatusCode,
    string StatusDetails,
    string? AddJobId,
    DateTimeOffset CreatedAt,
    DateTimeOffset ModifiedAt);

/// <summary>A concept mentioned by an annotation: its id, the name to create it with when new, its value (1 positive, 0 negative).</summary>
public sealed record ConceptMention(string Id, string Name, float Value);

/// <summary>
/// The fields of an annotation that search filters on, kept in their own columns (not only inside the serialized data):
/// the metadata as canonical JSON and the geo point in degrees. Null when the annotation has none.
/// </summary>
public sealed record QueryableFields(string? MetadataJson, double? Longitude, double? Latitude)
{
    public static QueryableFields None { get; } = new(null, null, null);
}

/// <summary>An annotation to write; <see cref="Data"/> is serialized annotation data, opaque here.</summary>
public sealed record NewAnnotation(string Id, string InputId, byte[] Data, bool InputLevel, string Author, IReadOnlyList<ConceptMention> Concepts, QueryableFields? Queryable = null);

/// <summary>What to do when an input id is taken.</summary>
public enum IdConflictPolicy
{
    /// <summary>Fail that input as a duplicate.</summary>
    Skip,

    /// <summary>Try <c>id-1</c> … <c>id-9</c>, then <c>id-</c> and 8 random hex digits.</summary>
    Suffix,
}

/// <summary>An input to add; <see cref="SourceBytes"/> are the uploaded bytes stored as blob <see cref="SourceBlob"/>.</summary>
public sealed record NewInput(
    string Id,
    string Kind,
    byte[] Media,
    string? Url,
    bool AllowDuplicateUrl,
    string? SourceBlob,
    ReadOnlyMemory<byte> SourceBytes,
    byte[] AnnotationData,
    string AnnotationId,
    IReadOnlyList<ConceptMention> Concepts,
    IReadOnlyList<string> DatasetIds,
    IdConflictPolicy Conflicts,
    QueryableFields? Queryable = null);

public enum AddOutcome
{
    Added,
    DuplicateId,
    DuplicateUrl,
    UnknownDataset,
}

/// <summary>What happened to one input of an add: its final id (after suffixing) and, for an unknown dataset, which.</summary>
public sealed record AddResult(AddOutcome Outcome, string Id, DateTimeOffset CreatedAt, string? Detail = null);

/// <summary>
/// A stored annotation, or (with <see cref="Model"/> set) a model annotation derived from the base-workflow index: then
/// <see cref="Data"/> is empty, <see cref="Author"/> empty, and the output is in <see cref="Model"/>.
/// </summary>
public sealed record AnnotationRow(string Id, string InputId, byte[] Data, bool InputLevel, string Author, int StatusCode, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt,
    ModelOutputRow? Model = null);

/// <summary>
/// Filters of ListAnnotations; empty lists do not filter. <see cref="Ids"/>, <see cref="InputIds"/> and
/// <see cref="Statuses"/> apply to both kinds; <see cref="Authors"/> to user annotations only.
/// </summary>
public sealed record AnnotationQuery(IReadOnlyList<string> Ids, IReadOnlyList<string> InputIds, IReadOnlyList<string> Authors, IReadOnlyList<int> Statuses)
{
    /// <summary>Whether user annotations (the stored ones, by <see cref="Authors"/>) are listed.</summary>
    public bool Users { get; init; } = true;

    /// <summary>Model annotations listed as well: null none, empty every model version's, otherwise these versions'.</summary>
    public IReadOnlyList<string>? ModelVersions { get; init; }

    /// <summary>Read each listed model annotation's output (<see cref="ModelOutputRow.Vector"/>, <see cref="ModelOutputRow.Concepts"/>).</summary>
    public bool WithOutput { get; init; }
}

public sealed record ConceptRow(string Id, string Name, string Language, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt);

public sealed record ConceptCountRow(string Id, string Name, long Positive, long Negative);

/// <summary>A dataset; <see cref="Body"/> is its serialized descriptive fields (description, notes, metadata), opaque here.</summary>
public sealed record DatasetRow(string Id, byte[] Body, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt);

public sealed record DatasetInputRow(string InputId, DateTimeOffset CreatedAt);

public sealed record DatasetVersionRow(string DatasetId, string Id, byte[] Body, int StatusCode, string StatusDetails, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt);

/// <summary>An inputs add-job with the progress of its inputs.</summary>
public sealed record AddJobRow(string Id, bool Cancelled, DateTimeOffset CreatedAt, DateTimeOffset ModifiedAt, long Pending, long InProgress, long Succeeded, long Failed);

/// <summary>Counts of an app's inputs by status code.</summary>
public sealed record InputCounts(long Processed, long ToProcess, long Processing, long Errors);

/// <summary>A snapshot row of a dataset version: one input and its annotations, serialized at the edge.</summary>
public sealed record VersionItem(string InputId, byte[] Input, byte[] Annotations);
