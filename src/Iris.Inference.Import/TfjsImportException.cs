namespace Iris.Inference.Import;

/// <summary>
/// Raised when a TensorFlow.js model cannot be converted: malformed files, missing weights, or an op or
/// layer the importer does not support. The message names the op or layer and the node it was found at.
/// Nothing is written to the output path when this is thrown.
/// </summary>
public sealed class TfjsImportException : Exception
{
    public TfjsImportException(string message)
        : base(message)
    {
    }

    public TfjsImportException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The unsupported op type or layer class, when that is the reason for the failure.</summary>
    public string? UnsupportedOp { get; init; }

    /// <summary>The graph node or layer name the failure was found at, when known.</summary>
    public string? NodeName { get; init; }

    internal static TfjsImportException Unsupported(string kind, string op, string node, string? detail = null) =>
        new(detail is null
            ? $"Unsupported {kind} '{op}' at node '{node}'"
            : $"Unsupported {kind} '{op}' at node '{node}': {detail}")
        {
            UnsupportedOp = op,
            NodeName = node,
        };
}
