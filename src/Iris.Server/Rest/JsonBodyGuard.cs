using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Clarifai.Api.Utils;
using Google.Protobuf.Reflection;
using Iris.Core.Errors;

namespace Iris.Server.Rest;

/// <summary>
/// One pass over a JSON request body, guided by the request's descriptor, before the protobuf JSON parser sees it.
/// It refuses (11100, naming the field) what that parser would otherwise take silently or wrongly: a key given twice
/// (also as its snake_case and lowerCamelCase names), text that is not UTF-8 (including escaped lone surrogates), and
/// an enum name or number the enum does not define. It also notes where a <c>cl_default_float</c> field is absent, so
/// the reader can give it its default after parsing (a JSON concept without <c>value</c> is 1.0), and where a float or
/// double field holds a JSON boolean, which Clarifai takes as 1/0 (the legacy JS client sends concept values as
/// <c>true</c>/<c>false</c>, CLARIFAI_FACTS.md Appendix D) and the protobuf parser would refuse.
/// Unknown fields are still ignored (CLARIFAI_FACTS.md 1.2), but their contents are checked for the same defects.
/// </summary>
internal ref struct JsonBodyGuard
{
    private Utf8JsonReader _reader;
    private readonly List<Step> _path;
    private readonly MessageDescriptor _root;
    private List<DefaultedField>? _defaults;
    private List<BooleanNumber>? _booleans;

    private JsonBodyGuard(ReadOnlySpan<byte> body, MessageDescriptor root)
    {
        _root = root;
        _reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256, CommentHandling = JsonCommentHandling.Disallow });
        _path = new List<Step>(8);
    }

    /// <summary>A step from a message to a field of it: the field, and the list index or map key when it is one.</summary>
    public readonly record struct Step(FieldDescriptor? Field, string Name, int Index = -1, string? Key = null);

    /// <summary>A <c>cl_default_float</c> field the JSON left out, reached from the root by <paramref name="Path"/>.</summary>
    public readonly record struct DefaultedField(Step[] Path, FieldDescriptor Field, float Value);

    /// <summary>A JSON <c>true</c>/<c>false</c> token in a float or double field, at byte <paramref name="Start"/> of the body.</summary>
    public readonly record struct BooleanNumber(int Start, bool Value)
    {
        public int Length => Value ? 4 : 5;
    }

    /// <summary>
    /// Checks <paramref name="body"/>; returns the defaulted fields to set after parsing (empty when none), and in
    /// <paramref name="booleans"/> the JSON booleans in float/double fields, in body order, to be read as 1/0.
    /// </summary>
    public static IReadOnlyList<DefaultedField> Check(ReadOnlySpan<byte> body, MessageDescriptor type, out IReadOnlyList<BooleanNumber> booleans)
    {
        booleans = [];
        var guard = new JsonBodyGuard(body, type);
        try
        {
            if (!guard._reader.Read())
            {
                return [];
            }

            if (guard._reader.TokenType != JsonTokenType.StartObject)
            {
                throw IrisException.BadFormat($"The request body must be a JSON object ({type.Name}).");
            }

            guard.ReadMessage(type);
            if (guard._reader.Read())
            {
                throw IrisException.BadFormat("The request body has content after its JSON object.");
            }
        }
        catch (JsonException e)
        {
            throw IrisException.BadFormat($"Could not parse the request body as JSON for {type.Name}: {e.Message}");
        }

        booleans = (IReadOnlyList<BooleanNumber>?)guard._booleans ?? [];
        return (IReadOnlyList<DefaultedField>?)guard._defaults ?? [];
    }

    private void ReadMessage(MessageDescriptor type)
    {
        if (IsWellKnown(type))
        {
            ReadAny();
            return;
        }

        Span<ulong> seenSmall = stackalloc ulong[4];
        HashSet<int>? seenLarge = null;
        HashSet<string>? unknown = null;
        while (Next() != JsonTokenType.EndObject)
        {
            var name = PropertyName();
            var field = type.FindFieldByName(name) ?? FindByJsonName(type, name);
            if (field is null)
            {
                unknown ??= new HashSet<string>(StringComparer.Ordinal);
                if (!unknown.Add(name))
                {
                    throw Duplicate(name);
                }

                // image.crop (field 3, now reserved) would be dropped by lenient parsing; refuse a crop the user asked for.
                if (type == Clarifai.Api.Image.Descriptor && name == "crop")
                {
                    throw new IrisException(Clarifai.Api.Status.StatusCode.InputInvalidArgument, Inputs.InputMapper.CropRefused);
                }

                _path.Add(new Step(null, name));
                Next();
                ReadAny();
                _path.RemoveAt(_path.Count - 1);
                continue;
            }

            var number = field.FieldNumber;
            var fresh = number < 256 ? MarkSmall(seenSmall, number) : (seenLarge ??= []).Add(number);
            if (!fresh)
            {
                throw Duplicate(field.Name);
            }

            _path.Add(new Step(field, field.Name));
            Next();
            ReadField(field);
            _path.RemoveAt(_path.Count - 1);
        }

        AddDefaults(type, seenSmall, seenLarge);
    }

    private void ReadField(FieldDescriptor field)
    {
        if (_reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (field.IsMap)
        {
            Expect(JsonTokenType.StartObject, field);
            var valueField = field.MessageType.FindFieldByNumber(2);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (Next() != JsonTokenType.EndObject)
            {
                var key = PropertyName();
                if (!keys.Add(key))
                {
                    throw Duplicate(key);
                }

                var last = _path[^1];
                _path[^1] = last with { Key = key };
                Next();
                ReadSingle(valueField);
                _path[^1] = last;
            }

            return;
        }

        if (field.IsRepeated)
        {
            Expect(JsonTokenType.StartArray, field);
            var index = 0;
            var last = _path[^1];
            while (Next() != JsonTokenType.EndArray)
            {
                _path[^1] = last with { Index = index++ };
                ReadSingle(field);
            }

            _path[^1] = last;
            return;
        }

        ReadSingle(field);
    }

    private void ReadSingle(FieldDescriptor field)
    {
        switch (field.FieldType)
        {
            case FieldType.Message when _reader.TokenType == JsonTokenType.StartObject:
                ReadMessage(field.MessageType);
                return;
            case FieldType.Enum:
                CheckEnum(field);
                return;
            case FieldType.Float or FieldType.Double when _reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                (_booleans ??= []).Add(new BooleanNumber(checked((int)_reader.TokenStartIndex), _reader.TokenType == JsonTokenType.True));
                return;
            default:
                ReadAny();
                return;
        }
    }

    private void CheckEnum(FieldDescriptor field)
    {
        var enumType = field.EnumType;
        switch (_reader.TokenType)
        {
            case JsonTokenType.String:
                CheckText(isName: false);
                var name = _reader.GetString()!;
                if (enumType.FindValueByName(name) is null)
                {
                    throw IrisException.BadFormat($"Invalid value '{name}' for enum field '{PathText()}' ({enumType.Name}).");
                }

                return;
            case JsonTokenType.Number:
                if (!_reader.TryGetInt32(out var number) || enumType.FindValueByNumber(number) is null)
                {
                    throw IrisException.BadFormat($"Invalid value {Encoding.UTF8.GetString(_reader.ValueSpan)} for enum field '{PathText()}' ({enumType.Name}).");
                }

                return;
            case JsonTokenType.Null:
                return;
            default:
                throw IrisException.BadFormat($"Field '{PathText()}' must be an enum name or number ({enumType.Name}).");
        }
    }

    /// <summary>Reads any JSON value (the reader on its first token), checking strings and keys only.</summary>
    private void ReadAny()
    {
        switch (_reader.TokenType)
        {
            case JsonTokenType.String:
                StringValue();
                return;
            case JsonTokenType.StartObject:
                var keys = new HashSet<string>(StringComparer.Ordinal);
                while (Next() != JsonTokenType.EndObject)
                {
                    var key = PropertyName();
                    if (!keys.Add(key))
                    {
                        throw Duplicate(key);
                    }

                    _path.Add(new Step(null, key));
                    Next();
                    ReadAny();
                    _path.RemoveAt(_path.Count - 1);
                }

                return;
            case JsonTokenType.StartArray:
                while (Next() != JsonTokenType.EndArray)
                {
                    ReadAny();
                }

                return;
        }
    }

    private JsonTokenType Next()
    {
        if (!_reader.Read())
        {
            throw IrisException.BadFormat("The request body ends inside a JSON value.");
        }

        return _reader.TokenType;
    }

    private string PropertyName()
    {
        CheckText(isName: true);
        return _reader.GetString()!;
    }

    private void StringValue() => CheckText(isName: false);

    /// <summary>
    /// The reader does not check UTF-8 itself: raw bytes are checked here, and escapes are decoded, which refuses a
    /// lone surrogate (<c>"\ud800"</c>).
    /// </summary>
    private void CheckText(bool isName)
    {
        var valid = Utf8.IsValid(_reader.ValueSpan);
        if (valid && _reader.ValueIsEscaped)
        {
            try
            {
                _ = _reader.GetString();
            }
            catch (InvalidOperationException)
            {
                valid = false;
            }
        }

        if (!valid)
        {
            var where = PathText();
            throw IrisException.BadFormat(isName
                ? $"A field name{(where.Length > 0 ? $" in '{where}'" : string.Empty)} is not valid UTF-8 text."
                : $"Field '{where}' is not valid UTF-8 text.");
        }
    }

    private void Expect(JsonTokenType token, FieldDescriptor field)
    {
        if (_reader.TokenType != token)
        {
            throw IrisException.BadFormat(
                $"Could not parse the request body as JSON for {_root.Name}: field '{PathText()}' must be a JSON {(token == JsonTokenType.StartArray ? "array" : "object")}.");
        }
    }

    private IrisException Duplicate(string name)
    {
        var where = PathText();
        return IrisException.BadFormat($"Field '{(where.Length > 0 ? where + "." : string.Empty)}{name}' appears more than once in the JSON body.");
    }

    private void AddDefaults(MessageDescriptor type, scoped ReadOnlySpan<ulong> seenSmall, HashSet<int>? seenLarge)
    {
        foreach (var field in DefaultFloats(type))
        {
            var number = field.FieldNumber;
            var seen = number < 256 ? (seenSmall[number >> 6] & (1UL << (number & 63))) != 0 : seenLarge?.Contains(number) == true;
            if (!seen)
            {
                _defaults ??= [];
                _defaults.Add(new DefaultedField([.. _path], field, field.GetOptions().GetExtension(ExtensionsExtensions.ClDefaultFloat)));
            }
        }
    }

    private static bool MarkSmall(Span<ulong> seen, int number)
    {
        ref var word = ref seen[number >> 6];
        var bit = 1UL << (number & 63);
        if ((word & bit) != 0)
        {
            return false;
        }

        word |= bit;
        return true;
    }

    private string PathText()
    {
        var text = new StringBuilder();
        foreach (var step in _path)
        {
            if (text.Length > 0)
            {
                text.Append('.');
            }

            text.Append(step.Name);
            if (step.Index >= 0)
            {
                text.Append('[').Append(step.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
            }
            else if (step.Key is not null)
            {
                text.Append('[').Append(step.Key).Append(']');
            }
        }

        return text.ToString();
    }

    private static FieldDescriptor? FindByJsonName(MessageDescriptor type, string name)
    {
        foreach (var candidate in type.Fields.InDeclarationOrder())
        {
            if (string.Equals(candidate.JsonName, name, StringComparison.Ordinal))
            {
                return candidate;
            }
        }

        return null;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MessageDescriptor, FieldDescriptor[]> DefaultFloatCache = new();

    private static FieldDescriptor[] DefaultFloats(MessageDescriptor type) => DefaultFloatCache.GetOrAdd(type, static t =>
        [.. t.Fields.InDeclarationOrder().Where(f => f.FieldType == FieldType.Float && !f.IsRepeated
            && f.GetOptions()?.HasExtension(ExtensionsExtensions.ClDefaultFloat) == true)]);

    /// <summary>Types whose JSON form is not an object of their fields (Struct, Value, wrappers, Timestamp, …).</summary>
    private static bool IsWellKnown(MessageDescriptor type) => type.File.Package == "google.protobuf";
}
