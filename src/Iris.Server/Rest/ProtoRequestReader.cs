using System.Collections;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Errors;

namespace Iris.Server.Rest;

/// <summary>
/// Builds a request message from REST input (CLARIFAI_FACTS.md 1.1–1.5): the JSON body (snake_case or lowerCamelCase
/// names, enum names — every alias — or integers, unknown fields ignored), the query string for GET (dotted names,
/// repeated keys) and the path variables, which win. Fields marked <c>cl_default_float</c> get their default when a
/// JSON request leaves them out (a concept without <c>value</c> is 1.0 in JSON, 0.0 over binary gRPC); a JSON boolean in
/// a float or double field is read as 1/0, as Clarifai does (only there: a boolean anywhere else is still refused).
/// </summary>
internal sealed class ProtoRequestReader
{
    public static readonly ProtoRequestReader Instance = new();

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public IMessage ParseBody(MessageDescriptor type, ReadOnlySpan<byte> body)
    {
        if (IsBlank(body))
        {
            return type.Parser.ParseFrom(ByteString.Empty);
        }

        var defaults = JsonBodyGuard.Check(body, type, out var booleans);
        IMessage message;
        try
        {
            message = Parser.Parse(booleans.Count == 0 ? System.Text.Encoding.UTF8.GetString(body) : WithNumbers(body, booleans), type);
        }
        catch (Exception e) when (e is InvalidJsonException or InvalidProtocolBufferException or JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw IrisException.BadFormat($"Could not parse the request body as JSON for {type.Name}: {e.Message}");
        }

        foreach (var defaulted in defaults)
        {
            ApplyDefault(message, defaulted);
        }

        return message;
    }

    /// <summary>The body as text with each JSON boolean the guard found in a float/double field written as 1 or 0.</summary>
    private static string WithNumbers(ReadOnlySpan<byte> body, IReadOnlyList<JsonBodyGuard.BooleanNumber> booleans)
    {
        var text = new System.Text.StringBuilder(body.Length);
        var at = 0;
        foreach (var boolean in booleans)
        {
            text.Append(System.Text.Encoding.UTF8.GetString(body[at..boolean.Start])).Append(boolean.Value ? '1' : '0');
            at = boolean.Start + boolean.Length;
        }

        return text.Append(System.Text.Encoding.UTF8.GetString(body[at..])).ToString();
    }

    /// <summary>Sets a <c>cl_default_float</c> field the JSON left out, following the guard's path to its message.</summary>
    private static void ApplyDefault(IMessage root, JsonBodyGuard.DefaultedField defaulted)
    {
        var current = root;
        foreach (var step in defaulted.Path)
        {
            var value = step.Field!.Accessor.GetValue(current);
            object? next = value;
            if (step.Index >= 0)
            {
                var list = (IList)value;
                next = step.Index < list.Count ? list[step.Index] : null;
            }
            else if (step.Key is not null)
            {
                next = null;
                foreach (DictionaryEntry entry in (IDictionary)value)
                {
                    if (string.Equals(System.Convert.ToString(entry.Key, CultureInfo.InvariantCulture), step.Key, StringComparison.Ordinal))
                    {
                        next = entry.Value;
                        break;
                    }
                }
            }

            if (next is not IMessage child)
            {
                return;
            }

            current = child;
        }

        defaulted.Field.Accessor.SetValue(current, defaulted.Value);
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
}
