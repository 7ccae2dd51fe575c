using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;

namespace Iris.Cli;

/// <summary>
/// One thing to upload: an image file or URL with its labels, metadata and geo point, from a folder or from a CSV file in
/// the Clarifai SDKs' format (columns <c>inputid</c>, <c>input</c>, <c>concepts</c>, <c>metadata</c>, <c>geopoints</c>).
/// </summary>
internal sealed record UploadSource(string Label, string? FilePath, string? Url, string? GivenId, IReadOnlyList<string> Concepts, Struct? Metadata, (double Longitude, double Latitude)? Geo);

internal static class UploadSources
{
    /// <summary>The image files Iris decodes, by extension (content is sniffed by the server; a corrupt file fails there with its status).</summary>
    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".ico" };

    private static readonly string[] CsvColumns = ["inputid", "input", "concepts", "metadata", "geopoints"];

    public static IReadOnlyList<UploadSource> FromFolder(string folder, bool conceptsFromFolders)
    {
        var root = Path.GetFullPath(folder);
        var files = Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f)))
            .Select(f => (Full: f, Relative: Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/')))
            .OrderBy(f => f.Relative, StringComparer.Ordinal)
            .ToList();
        return [.. files.Select(f =>
        {
            var parent = Path.GetDirectoryName(f.Relative)?.Replace(Path.DirectorySeparatorChar, '/');
            IReadOnlyList<string> concepts = conceptsFromFolders && !string.IsNullOrEmpty(parent) ? [parent.Split('/')[^1]] : [];
            return new UploadSource(f.Relative, f.Full, null, null, concepts, null, null);
        })];
    }

    /// <summary>
    /// Reads a CSV file with a header naming some of <c>inputid, input, concepts, metadata, geopoints</c> (the columns of the
    /// Clarifai SDKs' <c>get_inputs_from_csv</c>): <c>input</c> is an http(s) URL or an image path relative to the CSV file;
    /// <c>concepts</c> is comma-separated; <c>metadata</c> a JSON object; <c>geopoints</c> "longitude,latitude".
    /// </summary>
    public static IReadOnlyList<UploadSource> FromCsv(string csvPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(csvPath))!;
        var rows = Csv.Parse(File.ReadAllText(csvPath));
        if (rows.Count == 0)
        {
            throw new UsageException($"{csvPath} is empty: it needs a header row (inputid,input,concepts,metadata,geopoints).");
        }

        var header = rows[0].Select(h => h.Trim().ToLowerInvariant()).ToList();
        var unknown = header.Where(h => !CsvColumns.Contains(h)).ToList();
        if (unknown.Count > 0 || !header.Contains("input"))
        {
            throw new UsageException($"{csvPath}: the header must name 'input' and may name only {string.Join(", ", CsvColumns)}" +
                (unknown.Count > 0 ? $"; it has {string.Join(", ", unknown.Select(u => $"'{u}'"))}." : "."));
        }

        var sources = new List<UploadSource>();
        for (var r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.All(string.IsNullOrWhiteSpace))
            {
                continue;
            }

            string Cell(string name)
            {
                var i = header.IndexOf(name);
                return i >= 0 && i < row.Count ? row[i].Trim() : string.Empty;
            }

            var line = $"{Path.GetFileName(csvPath)}:{r + 1}";
            var input = Cell("input");
            if (input.Length == 0)
            {
                throw new UsageException($"{line}: the input column is empty.");
            }

            var isUrl = input.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || input.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            var concepts = Cell("concepts").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Struct? metadata = null;
            if (Cell("metadata") is { Length: > 0 } json)
            {
                try
                {
                    metadata = Struct.Parser.ParseJson(json);
                }
                catch (Exception e) when (e is Google.Protobuf.InvalidJsonException or Google.Protobuf.InvalidProtocolBufferException or JsonException)
                {
                    throw new UsageException($"{line}: the metadata column must be a JSON object ({e.Message}).");
                }
            }

            (double, double)? geo = null;
            if (Cell("geopoints") is { Length: > 0 } point)
            {
                var parts = point.Split(',', StringSplitOptions.TrimEntries);
                if (parts.Length != 2 || !double.TryParse(parts[0], CultureInfo.InvariantCulture, out var lon) || !double.TryParse(parts[1], CultureInfo.InvariantCulture, out var lat))
                {
                    throw new UsageException($"{line}: geopoints must be \"longitude,latitude\", not '{point}'.");
                }

                geo = (lon, lat);
            }

            var label = isUrl ? input : input.Replace('\\', '/');
            sources.Add(new UploadSource(label, isUrl ? null : Path.GetFullPath(Path.Combine(directory, input)), isUrl ? input : null,
                Cell("inputid") is { Length: > 0 } id ? id : null, concepts, metadata, geo));
        }

        return sources;
    }
}

/// <summary>
/// Deterministic input ids: a slug of the source's relative path or URL (≤ 31 characters) and 16 hex digits of the
/// SHA-256 of that path and of the file's content, so a re-run after Ctrl+C sends the same ids and Iris answers the ones
/// it already has with 30100 "Input has a duplicate ID." instead of storing them twice.
/// </summary>
internal static class InputIds
{
    public static string For(string label, string contentSha256)
    {
        var slug = new StringBuilder();
        foreach (var c in label.ToLowerInvariant())
        {
            var keep = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_';
            if (keep)
            {
                slug.Append(c);
            }
            else if (slug.Length > 0 && slug[^1] != '-')
            {
                slug.Append('-');
            }
        }

        var text = slug.ToString().Trim('-');
        if (text.Length > 31)
        {
            text = text[^31..].Trim('-');
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(label + "\n" + contentSha256)))[..16];
        return text.Length == 0 ? hash : text + "-" + hash;
    }
}

/// <summary>RFC 4180 CSV: quoted fields with "" escapes and line breaks, CRLF or LF.</summary>
internal static class Csv
{
    public static List<List<string>> Parse(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                row.Add(field.ToString());
                field.Clear();
            }
            else if (c is '\n' or '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }

                row.Add(field.ToString());
                field.Clear();
                rows.Add(row);
                row = [];
            }
            else
            {
                field.Append(c);
            }
        }

        if (field.Length > 0 || row.Count > 0)
        {
            row.Add(field.ToString());
            rows.Add(row);
        }

        return rows;
    }
}
