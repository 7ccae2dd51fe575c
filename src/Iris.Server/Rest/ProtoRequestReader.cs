using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Clarifai.Api.Utils;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Errors;

namespace Iris.Server.Rest;

/// <summary>
/// Builds a request message from REST input (CLARIFAI_FACTS.md 1.1–1.5): the JSON body (snake_case or lowerCamelCase
/// names, enum names — every alias — or integers, unknown fields ignored), the query string for GET (dotted names,
/// repeated keys) and the path variables, which win. Fields marked <c>cl_default_float</c> get their default when a
/// JSON request leaves them out (a concept without <c>value</c> is 1.0 in JSON, 0.0 over binary gRPC).
/// </summary>
internal sealed class ProtoRequestReader
{
    public static readonly ProtoRequestReader Instance = new();

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private readonly ConcurrentDictionary<MessageDescriptor, bool> _needsDefaults = new();

    public IMessage ParseBody(MessageDescriptor type, ReadOnlySpan<byte> body)
    {
        if (IsBlank(body))
        {
            return type.Parser.ParseFrom(ByteString.Empty);
        }

        try
        {
            if (!NeedsDefaults(type))
            {
                return Parser.Parse(System.Text.Encoding.UTF8.GetString(body), type);
            }

            var node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
            if (node is JsonObject obj)
            {
                ApplyDefaults(obj, type);
            }

            return Parser.Parse(node?.ToJsonString() ?? "{}", type);
        }
        catch (Exception e) when (e is InvalidJsonException or InvalidProtocolBufferException or JsonException or FormatException or InvalidOperationException)
        {
            throw IrisException.BadFormat($"Could not parse the request body as JSON for {type.Name}: {e.Message}");
        }
    }

    /// <summary>Sets one (possibly dotted) field from path or query text; repeated fields take every value.</summary>
    public static void SetField(IMessage root, string path, IReadOnlyList<string?> values, bool ignoreUnknown)
    {
        var message = root;
        var names = path.Split('.');
        for (var i = 0; i < names.Length; i++)
        {
            var field = FindField(message.Descriptor, names[i]);
            if (field is null)
            {
                if (ignoreUnknown)
                {
                    return;
                }

                throw IrisException.BadFormat($"Unknown field '{path}' for {root.Descriptor.Name}.");
            }

            var last = i == names.Length - 1;
            if (!last)
            {
                if (field.FieldType != FieldType.Message || field.IsRepeated || IsWrapper(field.MessageType))
                {
                    throw IrisException.BadFormat($"Field '{path}' cannot be set from the URL.");
                }

                var child = field.Accessor.GetValue(message) as IMessage;
                if (child is null)
                {
                    child = field.MessageType.Parser.ParseFrom(ByteString.Empty);
                    field.Accessor.SetValue(message, child);
                }

                message = child;
                continue;
            }

            if (field.IsMap)
            {
                throw IrisException.BadFormat($"Map field '{path}' cannot be set from the URL.");
            }

            if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                foreach (var value in values)
                {
                    list.Add(Convert(field, value ?? string.Empty, path));
                }
            }
            else if (values.Count > 0)
            {
                field.Accessor.SetValue(message, Convert(field, values[^1] ?? string.Empty, path));
            }
        }
    }

    private static object Convert(FieldDescriptor field, string text, string path)
    {
        var type = field.FieldType;
        if (type == FieldType.Message)
        {
            if (IsWrapper(field.MessageType))
            {
                type = field.MessageType.FindFieldByNumber(1).FieldType;
            }
            else if (field.MessageType.ClrType == typeof(Timestamp))
            {
                return Parse(() => Timestamp.FromDateTimeOffset(DateTimeOffset.Parse(text, CultureInfo.InvariantCulture)), text, path);
            }
            else
            {
                throw IrisException.BadFormat($"Field '{path}' cannot be set from the URL.");
            }
        }

        return type switch
        {
            FieldType.String => text,
            FieldType.Bool => text switch
            {
                "true" or "True" or "1" => true,
                "false" or "False" or "0" => false,
                _ => throw IrisException.BadFormat($"Invalid value '{text}' for boolean field '{path}'."),
            },
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => Parse(() => int.Parse(text, CultureInfo.InvariantCulture), text, path),
            FieldType.UInt32 or FieldType.Fixed32 => Parse(() => uint.Parse(text, CultureInfo.InvariantCulture), text, path),
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => Parse(() => long.Parse(text, CultureInfo.InvariantCulture), text, path),
            FieldType.UInt64 or FieldType.Fixed64 => Parse(() => ulong.Parse(text, CultureInfo.InvariantCulture), text, path),
            FieldType.Float => Parse(() => float.Parse(text, CultureInfo.InvariantCulture), text, path),
            FieldType.Double => Parse(() => double.Parse(text, CultureInfo.InvariantCulture), text, path),
            FieldType.Bytes => Parse(() => ByteString.FromBase64(text), text, path),
            FieldType.Enum => ParseEnum(field, text, path),
            _ => throw IrisException.BadFormat($"Field '{path}' cannot be set from the URL."),
        };
    }

    private static object ParseEnum(FieldDescriptor field, string text, string path)
    {
        var value = field.EnumType.FindValueByName(text);
        int number;
        if (value is not null)
        {
            number = value.Number;
        }
        else if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out number))
        {
            throw IrisException.BadFormat($"Invalid value '{text}' for enum field '{path}' ({field.EnumType.Name}).");
        }

        return System.Enum.ToObject(field.EnumType.ClrType, number);
    }

    private static T Parse<T>(Func<T> parse, string text, string path)
    {
        try
        {
            return parse();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw IrisException.BadFormat($"Invalid value '{text}' for field '{path}'.");
        }
    }

    private static FieldDescriptor? FindField(MessageDescriptor descriptor, string name)
    {
        var field = descriptor.FindFieldByName(name);
        if (field is not null)
        {
            return field;
        }

        foreach (var candidate in descriptor.Fields.InDeclarationOrder())
        {
            if (string.Equals(candidate.JsonName, name, StringComparison.Ordinal))
            {
                return candidate;
            }
        }

        return null;
    }

    private static bool IsWrapper(MessageDescriptor descriptor) =>
        descriptor.File.Package == "google.protobuf" && descriptor.Name.EndsWith("Value", StringComparison.Ordinal)
        && descriptor.Name is not "Value" and not "ListValue";

    private static bool IsBlank(ReadOnlySpan<byte> body)
    {
        foreach (var b in body)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="type"/> reaches, through message fields, a field with <c>cl_default_float</c>.</summary>
    private bool NeedsDefaults(MessageDescriptor type) => _needsDefaults.GetOrAdd(type, t => Reaches(t, []));

    private static bool Reaches(MessageDescriptor type, HashSet<MessageDescriptor> seen)
    {
        if (!seen.Add(type) || Rest.ProtoJsonWriter.IsWellKnown(type))
        {
            return false;
        }

        foreach (var field in type.Fields.InDeclarationOrder())
        {
            if (field.FieldType == FieldType.Float && field.GetOptions()?.HasExtension(ExtensionsExtensions.ClDefaultFloat) == true)
            {
                return true;
            }

            if (field.FieldType == FieldType.Message && Reaches(field.MessageType, seen))
            {
                return true;
            }
        }

        return false;
    }

    private static void ApplyDefaults(JsonObject obj, MessageDescriptor type)
    {
        if (Rest.ProtoJsonWriter.IsWellKnown(type))
        {
            return;
        }

        // image.crop (field 3, now reserved) is dropped by lenient parsing; refuse it rather than ignore a crop the user asked for.
        if (type == Clarifai.Api.Image.Descriptor && obj.ContainsKey("crop"))
        {
            throw new IrisException(Clarifai.Api.Status.StatusCode.InputInvalidArgument, Inputs.InputMapper.CropRefused);
        }

        foreach (var field in type.Fields.InDeclarationOrder())
        {
            var key = obj.ContainsKey(field.Name) ? field.Name : obj.ContainsKey(field.JsonName) ? field.JsonName : null;
            if (key is null)
            {
                if (field.FieldType == FieldType.Float && !field.IsRepeated
                    && field.GetOptions()?.HasExtension(ExtensionsExtensions.ClDefaultFloat) == true)
                {
                    obj[field.Name] = field.GetOptions().GetExtension(ExtensionsExtensions.ClDefaultFloat);
                }

                continue;
            }

            if (field.FieldType != FieldType.Message)
            {
                continue;
            }

            var node = obj[key];
            if (field.IsMap)
            {
                var valueField = field.MessageType.FindFieldByNumber(2);
                if (node is JsonObject map && valueField.FieldType == FieldType.Message)
                {
                    foreach (var (_, value) in map)
                    {
                        if (value is JsonObject o)
                        {
                            ApplyDefaults(o, valueField.MessageType);
                        }
                    }
                }
            }
            else if (field.IsRepeated)
            {
                if (node is JsonArray array)
                {
                    foreach (var item in array)
                    {
                        if (item is JsonObject o)
                        {
                            ApplyDefaults(o, field.MessageType);
                        }
                    }
                }
            }
            else if (node is JsonObject child)
            {
                ApplyDefaults(child, field.MessageType);
            }
        }
    }
}
