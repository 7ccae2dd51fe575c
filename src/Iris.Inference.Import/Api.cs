using Iris.Inference.Import.Onnx;

namespace Iris.Inference.Import;

/// <summary>Options for <see cref="TfjsImporter.ImportAsync"/>.</summary>
public sealed record ImportOptions
{
    /// <summary>
    /// Extra graph outputs besides the model's own: layer names for layers models (for instance a
    /// classifier's pooling layer, to use it as an embedding model), tensor or node names for graph models.
    /// Each becomes an ONNX output of the same name, in TensorFlow (NHWC) axis order.
    /// </summary>
    public IReadOnlyList<string> IntermediateOutputs { get; init; } = [];

    /// <summary>When set, conversions are cached by content hash and reused.</summary>
    public ImportCache? Cache { get; init; }
}

/// <summary>One input or output of the converted model.</summary>
/// <param name="OnnxName">Name in the ONNX graph.</param>
/// <param name="SourceName">The TensorFlow.js tensor (graph models) or layer (layers models) it comes from.</param>
/// <param name="Shape">Static shape where known (-1 for a dynamic dimension), in TensorFlow axis order.</param>
/// <param name="DataType">Element type: float32, int32, int64 or bool.</param>
public sealed record TensorInfo(string OnnxName, string SourceName, IReadOnlyList<long>? Shape, string DataType);

/// <summary>What an import produced.</summary>
public sealed record ImportResult
{
    public required string OutputPath { get; init; }

    /// <summary>"graph-model" or "layers-model".</summary>
    public required string SourceFormat { get; init; }

    public required IReadOnlyList<TensorInfo> Inputs { get; init; }

    public required IReadOnlyList<TensorInfo> Outputs { get; init; }

    /// <summary>SHA-256 (hex) of the converter version, the options and every model and weight file byte.</summary>
    public required string ContentHash { get; init; }

    /// <summary>True when the file was copied from <see cref="ImportOptions.Cache"/> instead of converted.</summary>
    public bool FromCache { get; init; }

    public int NodeCount { get; init; }
}

internal sealed record ConversionResult(ModelProto Model, IReadOnlyList<TensorInfo> Inputs, IReadOnlyList<TensorInfo> Outputs);
