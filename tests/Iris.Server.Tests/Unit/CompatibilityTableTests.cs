using Iris.Contracts.Descriptors;
using Iris.Server.Api;
using Iris.Server.Compatibility;
using Iris.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Iris.Server.Tests.Unit;

/// <summary>docs/api-compatibility.md is generated from the descriptor and the registry, and must not go stale.</summary>
public sealed class CompatibilityTableTests(IrisFixture iris) : IClassFixture<IrisFixture>
{
    [Fact]
    public void The_committed_table_matches_the_server()
    {
        var expected = CompatibilityTable.Render(ApiCatalog.Instance, iris.Server.Services.GetRequiredService<HandlerRegistry>());
        var path = Path.Combine(RepoRoot.Path, CompatibilityTable.RelativePath);
        Assert.True(File.Exists(path), $"{path} is missing: run ./iris docs api-compatibility");
        Assert.True(expected == File.ReadAllText(path), "docs/api-compatibility.md is stale: run ./iris docs api-compatibility");
        Assert.Equal(289 + 1, expected.Split('\n').Count(l => l.StartsWith("| ", StringComparison.Ordinal)));
    }
}
