using System.Buffers;
using System.Collections;
using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using Clarifai.Api.Utils;
using Clarifai.Auth.Util;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Iris.Server.Rest;

/// <summary>
/// Writes V2 responses as Clarifai's REST API does (CLARIFAI_FACTS.md 1.2–1.5): original snake_case field names, enums as
/// integers, 64-bit integers as strings, RFC 3339 timestamps, standard base64 bytes, zero values omitted except fields
/// marked <c>cl_show_if_empty</c> (written with their zero value, lists as <c>[]</c>), and fields marked
/// <c>cl_private_field</c> never written. All of it is read from the descriptors and cached per message type.
/// Google.Protobuf's formatter writes the well-known types (Timestamp, Struct, …), which have fixed JSON forms.
/// </summary>
internal sealed class ProtoJsonWriter
{
    public static readonly ProtoJsonWriter Instance = new();

    private static readonly JsonFormatter WellKnownFormatter = new(
        JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatEnumsAsIntegers(true));

    private readonly ConcurrentDictionary<MessageDescriptor, FieldPlan[]> _plans = new();

    public void Write(Utf8JsonWriter writer, IMessage message)
    {
        switch (message)
        {
            case Struct structValue:
                WriteStruct(writer, structValue);
                return;
            case Value value:
                WriteValue(writer, value);
                return;
            case ListValue list:
                WriteList(writer, list);
                return;
            case Empty:
                writer.WriteStartObject();
                writer.WriteEndObject();
                return;
        }

        var descriptor = message.Descriptor;
        if (IsWellKnown(descriptor))
        {
            writer.WriteRawValue(WellKnownFormatter.Format(message), skipInputValidation: true);
            return;
        }

        writer.WriteStartObject();
        foreach (var plan in _plans.GetOrAdd(descriptor, BuildPlan))
        {
            var field = plan.Field;
            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                var map = (IDictionary)value;
                if (map.Count == 0 && !plan.ShowIfEmpty)
                {
                    continue;
                }

                writer.WritePropertyName(plan.Name);
                WriteMap(writer, field, map);
            }
            else if (field.IsRepeated)
            {
                var list = (IList)value;
                if (list.Count == 0 && !plan.ShowIfEmpty)
                {
                    continue;
                }

                writer.WritePropertyName(plan.Name);
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteSingle(writer, field, item);
                }

                writer.WriteEndArray();
            }
            else
            {
                var present = field.HasPresence ? field.Accessor.HasValue(message) : !IsZero(field, value);
                if (!present)
                {
                    if (!plan.ShowIfEmpty || field.RealContainingOneof is not null)
                    {
                        continue;
                    }

                    writer.WritePropertyName(plan.Name);
                    if (field.FieldType == FieldType.Message)
                    {
                        writer.WriteStartObject();
                        writer.WriteEndObject();
                    }
                    else
                    {
                        WriteSingle(writer, field, value);
                    }

                    continue;
                }

                writer.WritePropertyName(plan.Name);
                WriteSingle(writer, field, value);
            }
        }

        writer.WriteEndObject();
    }

    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // One buffer and writer per thread, reused: responses are copied out before the thread can be reused.
    [ThreadStatic]
    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? _scratch;

    public byte[] ToUtf8(IMessage message)
    {
        var (buffer, writer) = _scratch ??= (new ArrayBufferWriter<byte>(4096), new Utf8JsonWriter(Stream.Null, WriterOptions));
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        Write(writer, message);
        writer.Flush();
        var bytes = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 1024 * 1024)
        {
            _scratch = null; // do not pin a large predict response's buffer to the thread
        }

        return bytes;
    }

    // Struct, Value and ListValue are written here rather than by JsonFormatter, which pads empty objects as "{ }".
    private static void WriteStruct(Utf8JsonWriter writer, Struct value)
    {
        writer.WriteStartObject();
        foreach (var (key, field) in value.Fields)
        {
            writer.WritePropertyName(key);
            WriteValue(writer, field);
        }

        writer.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter writer, ListValue list)
    {
        writer.WriteStartArray();
        foreach (var item in list.Values)
        {
            WriteValue(writer, item);
        }

        writer.WriteEndArray();
    }

    private static void WriteValue(Utf8JsonWriter writer, Value value)
    {
        switch (value.KindCase)
        {
            case Value.KindOneofCase.NumberValue:
                WritePrimitive(writer, FieldType.Double, value.NumberValue);
                break;
            case Value.KindOneofCase.StringValue:
                writer.WriteStringValue(value.StringValue);
                break;
            case Value.KindOneofCase.BoolValue:
                writer.WriteBooleanValue(value.BoolValue);
                break;
            case Value.KindOneofCase.StructValue:
                WriteStruct(writer, value.StructValue);
                break;
            case Value.KindOneofCase.ListValue:
                WriteList(writer, value.ListValue);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    private void WriteMap(Utf8JsonWriter writer, FieldDescriptor field, IDictionary map)
    {
        var valueField = field.MessageType.FindFieldByNumber(2);
        writer.WriteStartObject();
        foreach (DictionaryEntry entry in map)
        {
            var key = entry.Key switch
            {
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
                _ => entry.Key.ToString() ?? string.Empty,
            };
            writer.WritePropertyName(key);
            WriteSingle(writer, valueField, entry.Value);
        }

        writer.WriteEndObject();
    }

    private void WriteSingle(Utf8JsonWriter writer, FieldDescriptor field, object? value)
    {
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        switch (field.FieldType)
        {
            case FieldType.Message or FieldType.Group:
                if (value is IMessage nested)
                {
                    Write(writer, nested);
                }
                else
                {
                    // Wrapper types (BoolValue, …) surface as nullable primitives in generated C#.
                    WritePrimitive(writer, field.MessageType.FindFieldByNumber(1).FieldType, value);
                }

                break;
            default:
                WritePrimitive(writer, field.FieldType, value);
                break;
        }
    }

    private static void WritePrimitive(Utf8JsonWriter writer, FieldType type, object value)
    {
        switch (type)
        {
            case FieldType.Bool:
                writer.WriteBooleanValue((bool)value);
                break;
            case FieldType.String:
                writer.WriteStringValue((string)value);
                break;
            case FieldType.Bytes:
                writer.WriteBase64StringValue(((ByteString)value).Span);
                break;
            case FieldType.Enum:
                writer.WriteNumberValue(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case FieldType.Float:
                var f = (float)value;
                if (float.IsFinite(f))
                {
                    writer.WriteNumberValue(f);
                }
                else
                {
                    writer.WriteStringValue(float.IsNaN(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity");
                }

                break;
            case FieldType.Double:
                var d = (double)value;
                if (double.IsFinite(d))
                {
                    writer.WriteNumberValue(d);
                }
                else
                {
                    writer.WriteStringValue(double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
                }

                break;
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                writer.WriteNumberValue((int)value);
                break;
            case FieldType.UInt32 or FieldType.Fixed32:
                writer.WriteNumberValue((uint)value);
                break;
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                writer.WriteStringValue(((long)value).ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case FieldType.UInt64 or FieldType.Fixed64:
                writer.WriteStringValue(((ulong)value).ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            default:
                throw new InvalidOperationException($"Unexpected field type {type}.");
        }
    }

    private static bool IsZero(FieldDescriptor field, object? value) => value switch
    {
        null => true,
        string s => s.Length == 0,
        ByteString b => b.IsEmpty,
        bool b => !b,
        int i => i == 0,
        uint u => u == 0,
        long l => l == 0,
        ulong ul => ul == 0,
        float f => f == 0 && !float.IsNegative(f),
        double d => d == 0 && !double.IsNegative(d),
        System.Enum e => Convert.ToInt32(e, System.Globalization.CultureInfo.InvariantCulture) == 0,
        _ => field.FieldType != FieldType.Message,
    };

    internal static bool IsWellKnown(MessageDescriptor descriptor) =>
        descriptor.File.Package == "google.protobuf" && descriptor.FullName is not "google.protobuf.FileDescriptorProto";

    private static FieldPlan[] BuildPlan(MessageDescriptor descriptor)
    {
        var plans = new List<FieldPlan>();
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            var options = field.GetOptions();
            if (options?.GetExtension(ExtensionExtensions.ClPrivateField) == true)
            {
                continue;
            }

            var showIfEmpty = options?.GetExtension(ExtensionsExtensions.ClShowIfEmpty) == true;
            plans.Add(new FieldPlan(field, JsonEncodedText.Encode(field.Name), showIfEmpty));
        }

        return [.. plans];
    }

    private sealed record FieldPlan(FieldDescriptor Field, JsonEncodedText Name, bool ShowIfEmpty);
}
