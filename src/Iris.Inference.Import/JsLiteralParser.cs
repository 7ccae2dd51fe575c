using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Iris.Inference.Import;

/// <summary>
/// Reads the value literal out of a browserify-wrapped model file (the <c>model.min.js</c> and
/// <c>group1-shardNofM.min.js</c> bundles nsfwjs ships): the bundle's single module assigns one
/// JavaScript literal to <c>exports</c>. Only literal syntax is accepted (objects, arrays, strings,
/// numbers, <c>!0</c>/<c>!1</c>, true/false/null); no code is ever evaluated.
/// </summary>
internal sealed class JsLiteralParser
{
    private readonly string _text;
    private int _pos;

    private JsLiteralParser(string text, int pos)
    {
        _text = text;
        _pos = pos;
    }

    /// <summary>Finds the first <c>.exports=</c> assignment inside the bundle's module table and parses its value.</summary>
    public static JsonNode? ParseBundleExport(string text, string fileForErrors)
    {
        var table = text.IndexOf("({1:[function(", StringComparison.Ordinal);
        if (table < 0)
        {
            throw new TfjsImportException($"'{fileForErrors}' is not a browserify model bundle (no module table found)");
        }

        var assign = text.IndexOf(".exports=", table, StringComparison.Ordinal);
        if (assign < 0)
        {
            throw new TfjsImportException($"'{fileForErrors}' has no exports assignment in its module table");
        }

        try
        {
            return ToJson(text, assign + ".exports=".Length);
        }
        catch (FormatException e)
        {
            throw new TfjsImportException($"Cannot read the model literal in '{fileForErrors}': {e.Message}", e);
        }
    }

    internal static JsonNode? Parse(string literal) => ToJson(literal, 0);

    /// <summary>Re-encodes the literal as JSON so callers get ordinary JSON nodes (with JSON number semantics).</summary>
    private static JsonNode? ToJson(string text, int pos)
    {
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, text.Length - pos));
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            new JsLiteralParser(text, pos).ParseValue(w);
        }

        return JsonNode.Parse(buffer.WrittenSpan);
    }

    private void ParseValue(Utf8JsonWriter w)
    {
        SkipWs();
        var c = Peek();
        switch (c)
        {
            case '{':
                ParseObject(w);
                return;
            case '[':
                ParseArray(w);
                return;
            case '"':
            case '\'':
                w.WriteStringValue(ParseString());
                return;
            case '!':
                _pos++;
                SkipWs();
                w.WriteBooleanValue(double.Parse(ParseNumberText(), CultureInfo.InvariantCulture) == 0);
                return;
            default:
                if (c == '-' || c == '+' || c == '.' || char.IsAsciiDigit(c))
                {
                    WriteNumber(w, ParseNumberText());
                    return;
                }

                var word = ParseIdentifier();
                switch (word)
                {
                    case "true":
                        w.WriteBooleanValue(true);
                        return;
                    case "false":
                        w.WriteBooleanValue(false);
                        return;
                    case "null":
                        w.WriteNullValue();
                        return;
                    case "void":
                        SkipWs();
                        ParseNumberText();
                        w.WriteNullValue();
                        return;
                    default:
                        throw new FormatException($"unexpected token '{word}' at offset {_pos}");
                }
        }
    }

    private static void WriteNumber(Utf8JsonWriter w, string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            w.WriteNumberValue(l);
            return;
        }

        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            w.WriteNumberValue(long.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            return;
        }

        var d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!double.IsFinite(d))
        {
            throw new FormatException($"non-finite number '{text}'");
        }

        w.WriteNumberValue(d);
    }

    private void ParseObject(Utf8JsonWriter w)
    {
        Expect('{');
        w.WriteStartObject();
        SkipWs();
        if (Peek() == '}')
        {
            _pos++;
            w.WriteEndObject();
            return;
        }

        while (true)
        {
            SkipWs();
            var c = Peek();
            string key;
            if (c is '"' or '\'')
            {
                key = ParseString();
            }
            else if (char.IsAsciiDigit(c))
            {
                key = ParseNumberText();
            }
            else
            {
                key = ParseIdentifier();
            }

            SkipWs();
            Expect(':');
            w.WritePropertyName(key);
            ParseValue(w);
            SkipWs();
            if (Peek() == ',')
            {
                _pos++;
                continue;
            }

            Expect('}');
            w.WriteEndObject();
            return;
        }
    }

    private void ParseArray(Utf8JsonWriter w)
    {
        Expect('[');
        w.WriteStartArray();
        SkipWs();
        if (Peek() == ']')
        {
            _pos++;
            w.WriteEndArray();
            return;
        }

        while (true)
        {
            ParseValue(w);
            SkipWs();
            if (Peek() == ',')
            {
                _pos++;
                continue;
            }

            Expect(']');
            w.WriteEndArray();
            return;
        }
    }

    private string ParseString()
    {
        var quote = _text[_pos++];
        var start = _pos;
        var fast = _text.IndexOf(quote, start);
        if (fast >= 0 && _text.IndexOf('\\', start, fast - start) < 0)
        {
            // Common case (notably multi-megabyte base64 weight shards): no escapes at all.
            _pos = fast + 1;
            return _text[start..fast];
        }

        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length)
            {
                throw new FormatException("unterminated string");
            }

            var c = _text[_pos++];
            if (c == quote)
            {
                return sb.ToString();
            }

            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            var e = _text[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '0': sb.Append('\0'); break;
                case 'u':
                    sb.Append((char)int.Parse(_text.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _pos += 4;
                    break;
                case 'x':
                    sb.Append((char)int.Parse(_text.AsSpan(_pos, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _pos += 2;
                    break;
                default: sb.Append(e); break;
            }
        }
    }

    private string ParseNumberText()
    {
        var start = _pos;
        if (Peek() is '-' or '+')
        {
            _pos++;
        }

        while (_pos < _text.Length)
        {
            var c = _text[_pos];
            if (char.IsAsciiLetterOrDigit(c) || c == '.' || ((c == '-' || c == '+') && (_text[_pos - 1] is 'e' or 'E')))
            {
                _pos++;
            }
            else
            {
                break;
            }
        }

        if (_pos == start)
        {
            throw new FormatException($"number expected at offset {start}");
        }

        return _text[start.._pos];
    }

    private string ParseIdentifier()
    {
        var start = _pos;
        while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] is '_' or '$'))
        {
            _pos++;
        }

        if (_pos == start)
        {
            throw new FormatException($"unexpected character '{Peek()}' at offset {_pos}");
        }

        return _text[start.._pos];
    }

    private void SkipWs()
    {
        while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos]))
        {
            _pos++;
        }
    }

    private char Peek() => _pos < _text.Length ? _text[_pos] : throw new FormatException("unexpected end of input");

    private void Expect(char c)
    {
        SkipWs();
        if (Peek() != c)
        {
            throw new FormatException($"expected '{c}' at offset {_pos} but found '{Peek()}'");
        }

        _pos++;
    }
}
