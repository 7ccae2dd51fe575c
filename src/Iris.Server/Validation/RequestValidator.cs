using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;

namespace Iris.Server.Validation;

/// <summary>
/// The field-level checks every request message passes after authentication and before its handler, whatever the
/// transport (the invoker calls it, so REST and gRPC cannot differ): every float and double finite, concept values in
/// [0, 1], latitudes in [-90, 90] and longitudes in [-180, 180], enum numbers the enum defines (11100, as the JSON
/// reader answers), and the limits of <see cref="RequestLimits"/>.
/// A refusal names the field by its path (<c>inputs[0].data.concepts[1].value</c>) and carries the invalid-argument
/// code of the RPC's resource family (<see cref="CodeFor"/>), HTTP 400.
/// </summary>
internal static class RequestValidator
{
    private static readonly ConcurrentDictionary<MessageDescriptor, FieldDescriptor[]> Interesting = new();

    public static void Validate(RpcInfo rpc, IMessage request)
    {
        var path = new List<string>(8);
        Visit(rpc, request, path);
    }

    /// <summary>
    /// The status a field-level refusal carries: the resource family's own invalid-argument code where
    /// status_code.proto has one, else 11102 CONN_INVALID_REQUEST.
    /// </summary>
    public static StatusCode CodeFor(string rpcName)
    {
        if (rpcName.Contains("Searches", StringComparison.Ordinal))
        {
            return StatusCode.SearchInvalidRequest;
        }

        if (rpcName.Contains("ModelOutputs", StringComparison.Ordinal))
        {
            return StatusCode.PredictInvalidRequest;
        }

        if (rpcName.Contains("Annotation", StringComparison.Ordinal))
        {
            return StatusCode.AnnotationInvalidArgument;
        }

        if (rpcName.Contains("Dataset", StringComparison.Ordinal))
        {
            return StatusCode.ConnInvalidRequest;
        }

        if (rpcName.Contains("Input", StringComparison.Ordinal))
        {
            return StatusCode.InputInvalidArgument;
        }

        if (rpcName.Contains("Concept", StringComparison.Ordinal))
        {
            return StatusCode.ConceptsInvalidRequest;
        }

        if (rpcName.Contains("Workflow", StringComparison.Ordinal))
        {
            return StatusCode.WorkflowInvalidArgument;
        }

        if (rpcName.Contains("Model", StringComparison.Ordinal))
        {
            return StatusCode.ModelInvalidArgument;
        }

        return StatusCode.ConnInvalidRequest;
    }

    private static void Visit(RpcInfo rpc, IMessage message, List<string> path)
    {
        var descriptor = message.Descriptor;
        if (descriptor == Struct.Descriptor)
        {
            CheckStruct(rpc, (Struct)message, path);
            return;
        }

        foreach (var field in Interesting.GetOrAdd(descriptor, Select))
        {
            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                foreach (DictionaryEntry entry in (IDictionary)value)
                {
                    if (entry.Value is IMessage child)
                    {
                        path.Add($"{field.Name}[{entry.Key}]");
                        Visit(rpc, child, path);
                        path.RemoveAt(path.Count - 1);
                    }
                }

                continue;
            }

            if (field.IsRepeated)
            {
                var list = (IList)value;
                if (field.FieldType == FieldType.Message && field.MessageType == Concept.Descriptor && list.Count > RequestLimits.MaxConceptsPerList)
                {
                    throw Refuse(rpc, path, field.Name, $"holds {list.Count} concepts; the limit is {RequestLimits.MaxConceptsPerList.ToString(CultureInfo.InvariantCulture)} per list.");
                }

                for (var i = 0; i < list.Count; i++)
                {
                    CheckValue(rpc, field, list[i], path, $"{field.Name}[{i.ToString(CultureInfo.InvariantCulture)}]");
                }

                continue;
            }

            CheckValue(rpc, field, value, path, field.Name);
        }
    }

    private static void CheckValue(RpcInfo rpc, FieldDescriptor field, object? value, List<string> path, string name)
    {
        switch (value)
        {
            case null:
                return;
            case float f:
                CheckNumber(rpc, field, f, path, name);
                return;
            case double d:
                CheckNumber(rpc, field, d, path, name);
                return;
            case string s:
                if (s.Length > RequestLimits.MaxTextChars)
                {
                    throw Refuse(rpc, path, name, $"is {s.Length} characters long; the limit is {RequestLimits.MaxTextChars.ToString(CultureInfo.InvariantCulture)}.");
                }

                return;
            case System.Enum when field.FieldType == FieldType.Enum:
                var number = Convert.ToInt32(value, CultureInfo.InvariantCulture);
                if (field.EnumType.FindValueByNumber(number) is null)
                {
                    // Over gRPC an unknown number reaches the handler as is (proto3 enums are open); JSON refuses it too.
                    throw new IrisException(StatusCode.ConnBadRequestFormat,
                        $"Field '{PathOf(path, name)}' has the value {number}, which {field.EnumType.Name} does not define.");
                }

                return;
            case IMessage child:
                path.Add(name);
                Visit(rpc, child, path);
                path.RemoveAt(path.Count - 1);
                return;
        }
    }

    private static void CheckNumber(RpcInfo rpc, FieldDescriptor field, double value, List<string> path, string name)
    {
        if (!double.IsFinite(value))
        {
            throw Refuse(rpc, path, name, $"must be a finite number, not {value.ToString(CultureInfo.InvariantCulture)}.");
        }

        var owner = field.ContainingType;
        if (owner == Concept.Descriptor && field.FieldNumber == Concept.ValueFieldNumber && value is < 0 or > 1)
        {
            throw Refuse(rpc, path, name, $"must be between 0 and 1; got {value.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (owner == GeoPoint.Descriptor)
        {
            var limit = field.FieldNumber == GeoPoint.LatitudeFieldNumber ? 90 : 180;
            if (Math.Abs(value) > limit)
            {
                throw Refuse(rpc, path, name, $"must be between -{limit} and {limit}; got {value.ToString(CultureInfo.InvariantCulture)}.");
            }
        }
    }

    private static void CheckStruct(RpcInfo rpc, Struct value, List<string> path)
    {
        var size = value.CalculateSize();
        if (size > RequestLimits.MaxStructBytes)
        {
            throw Refuse(rpc, path, null, $"is {size} bytes; the limit is {RequestLimits.MaxStructBytes.ToString(CultureInfo.InvariantCulture)} bytes.");
        }

        var keys = 0;
        CountStruct(rpc, value, path, 1, ref keys);
    }

    private static void CountStruct(RpcInfo rpc, Struct value, List<string> path, int depth, ref int keys)
    {
        keys += value.Fields.Count;
        if (keys > RequestLimits.MaxStructKeys)
        {
            throw Refuse(rpc, path, null, $"has more than {RequestLimits.MaxStructKeys.ToString(CultureInfo.InvariantCulture)} keys (nested objects included).");
        }

        foreach (var (_, field) in value.Fields)
        {
            CountValue(rpc, field, path, depth, ref keys);
        }
    }

    private static void CountValue(RpcInfo rpc, Value value, List<string> path, int depth, ref int keys)
    {
        if (value.KindCase is not (Value.KindOneofCase.StructValue or Value.KindOneofCase.ListValue))
        {
            if (value.KindCase == Value.KindOneofCase.NumberValue && !double.IsFinite(value.NumberValue))
            {
                throw Refuse(rpc, path, null, "holds a number that is not finite.");
            }

            return;
        }

        if (depth >= RequestLimits.MaxStructDepth)
        {
            throw Refuse(rpc, path, null, $"nests objects and lists deeper than {RequestLimits.MaxStructDepth.ToString(CultureInfo.InvariantCulture)} levels.");
        }

        if (value.KindCase == Value.KindOneofCase.StructValue)
        {
            CountStruct(rpc, value.StructValue, path, depth + 1, ref keys);
            return;
        }

        foreach (var item in value.ListValue.Values)
        {
            CountValue(rpc, item, path, depth + 1, ref keys);
        }
    }

    private static IrisException Refuse(RpcInfo rpc, List<string> path, string? name, string problem) =>
        new(CodeFor(rpc.Name), $"Field '{PathOf(path, name)}' {problem}");

    private static string PathOf(List<string> path, string? name)
    {
        var text = new StringBuilder();
        foreach (var part in path)
        {
            if (text.Length > 0 && part[0] != '[')
            {
                text.Append('.');
            }

            text.Append(part);
        }

        if (name is not null)
        {
            if (text.Length > 0)
            {
                text.Append('.');
            }

            text.Append(name);
        }

        return text.ToString();
    }

    /// <summary>
    /// The fields worth visiting: floats and doubles, messages (except well-known scalars and timestamps), and the
    /// strings whose length is limited. Strings in general are bounded by the message size.
    /// </summary>
    private static FieldDescriptor[] Select(MessageDescriptor descriptor)
    {
        var fields = new List<FieldDescriptor>();
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            var keep = field.FieldType switch
            {
                FieldType.Float or FieldType.Double => true,
                FieldType.Message => field.MessageType != Timestamp.Descriptor && field.MessageType != Duration.Descriptor
                    && field.MessageType != FieldMask.Descriptor && field.MessageType != Any.Descriptor,
                FieldType.String => descriptor == Text.Descriptor && field.FieldNumber == Text.RawFieldNumber,
                FieldType.Enum => true,
                _ => false,
            };
            if (keep)
            {
                fields.Add(field);
            }
        }

        return [.. fields];
    }
}
