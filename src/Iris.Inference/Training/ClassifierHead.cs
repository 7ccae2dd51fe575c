using System.Numerics.Tensors;

namespace Iris.Inference.Training;

/// <summary>How a head turns its class scores into concept values.</summary>
public enum HeadKind
{
    /// <summary>One logistic regression per concept (concepts not mutually exclusive): each value is its own sigmoid.</summary>
    OneVsRest = 1,

    /// <summary>One multinomial regression (concepts mutually exclusive): softmax over the concepts and, when the training had negatives, a background class that is not reported.</summary>
    Softmax = 2,
}

/// <summary>
/// A trained linear classifier over one embedder's vectors: <see cref="Classes"/> rows of <see cref="Dimensions"/>
/// weights and a bias (feature standardization already folded in), the first <see cref="ConceptIds"/>.Length of which
/// are the model's concepts. Scoring one vector costs Classes dot products of Dimensions floats (~13 µs for 10 × 1280).
/// </summary>
public sealed class ClassifierHead
{
    private const int Magic = 0x44484349; // "ICHD"
    private const int FormatVersion = 1;

    public ClassifierHead(HeadKind kind, int dimensions, IReadOnlyList<string> conceptIds, int classes, float[] weights, float[] bias)
    {
        if (classes < conceptIds.Count || weights.Length != classes * dimensions || bias.Length != classes)
        {
            throw new ArgumentException("The head's shape does not match its weights.");
        }

        Kind = kind;
        Dimensions = dimensions;
        ConceptIds = conceptIds;
        Classes = classes;
        Weights = weights;
        Bias = bias;
    }

    public HeadKind Kind { get; }

    public int Dimensions { get; }

    public IReadOnlyList<string> ConceptIds { get; }

    /// <summary>Rows of weights: the concepts, then (softmax with negatives) the background class.</summary>
    public int Classes { get; }

    public float[] Weights { get; }

    public float[] Bias { get; }

    /// <summary>Writes each concept's value in [0, 1] for <paramref name="vector"/> into <paramref name="values"/> (length: the concept count).</summary>
    public void Score(ReadOnlySpan<float> vector, Span<float> values)
    {
        if (vector.Length != Dimensions)
        {
            throw new ArgumentException($"The head takes {Dimensions}-dimensional vectors; got {vector.Length}.", nameof(vector));
        }

        Span<float> logits = Classes <= 256 ? stackalloc float[Classes] : new float[Classes];
        for (var c = 0; c < Classes; c++)
        {
            logits[c] = TensorPrimitives.Dot(Weights.AsSpan(c * Dimensions, Dimensions), vector) + Bias[c];
        }

        if (Kind == HeadKind.Softmax)
        {
            TensorPrimitives.SoftMax(logits, logits);
        }
        else
        {
            TensorPrimitives.Sigmoid(logits, logits);
        }

        logits[..ConceptIds.Count].CopyTo(values);
    }

    public byte[] Encode()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write((int)Kind);
            writer.Write(Dimensions);
            writer.Write(Classes);
            writer.Write(ConceptIds.Count);
            foreach (var id in ConceptIds)
            {
                writer.Write(id);
            }

            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Weights.AsSpan()));
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Bias.AsSpan()));
        }

        return stream.ToArray();
    }

    public static ClassifierHead Decode(byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        if (reader.ReadInt32() != Magic || reader.ReadInt32() != FormatVersion)
        {
            throw new InvalidDataException("Not a classifier head of this format.");
        }

        var kind = (HeadKind)reader.ReadInt32();
        var dimensions = reader.ReadInt32();
        var classes = reader.ReadInt32();
        var concepts = new string[reader.ReadInt32()];
        for (var i = 0; i < concepts.Length; i++)
        {
            concepts[i] = reader.ReadString();
        }

        var weights = new float[classes * dimensions];
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan()));
        var bias = new float[classes];
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bias.AsSpan()));
        return new ClassifierHead(kind, dimensions, concepts, classes, weights, bias);
    }
}
