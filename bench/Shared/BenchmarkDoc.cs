namespace Iris.Bench;

/// <summary>
/// docs/benchmarks.md is shared by every benchmark under bench/: each owns one <c>## </c> section and rewrites only it.
/// </summary>
internal static class BenchmarkDoc
{
    public const string DocHeader = """
        # Benchmarks

        Every number in this file was measured on the project's machine (2 cores, 24 GiB, Linux), with the load generator
        and the servers in one process talking over loopback, and every comparison is between targets measured in the
        same run. Absolute values move with the machine and whatever else it is doing; read the ratios. Each section is
        written by its own benchmark under `bench/` (the command is in the section): rerun it to refresh the section.

        """;

    /// <summary>Replaces the section that starts with <paramref name="heading"/> (up to the next <c>## </c> heading) or appends it.</summary>
    public static void WriteSection(string path, string heading, string section)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : DocHeader;
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        var start = lines.FindIndex(l => string.Equals(l.TrimEnd(), heading, StringComparison.Ordinal));
        var sectionLines = section.TrimEnd('\n').Split('\n');
        if (start < 0)
        {
            while (lines.Count > 0 && lines[^1].Length == 0)
            {
                lines.RemoveAt(lines.Count - 1);
            }

            lines.Add(string.Empty);
            lines.AddRange(sectionLines);
            lines.Add(string.Empty);
        }
        else
        {
            var end = lines.FindIndex(start + 1, l => l.StartsWith("## ", StringComparison.Ordinal));
            var replaced = new List<string>(sectionLines) { string.Empty };
            if (end < 0)
            {
                lines.RemoveRange(start, lines.Count - start);
            }
            else
            {
                lines.RemoveRange(start, end - start);
            }

            lines.InsertRange(start, replaced);
        }

        var result = string.Join('\n', lines).TrimEnd('\n') + "\n";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, result);
    }
}
