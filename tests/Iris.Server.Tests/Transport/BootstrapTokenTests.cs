using Iris.Server.Auth;
using Iris.Server.Hosting;

namespace Iris.Server.Tests.Transport;

/// <summary>Without IRIS_BOOTSTRAP_PAT a token is generated once, stored with mode 0600 and reused on the next start.</summary>
public sealed class BootstrapTokenTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_generated_token_is_private_and_stable_across_restarts()
    {
        var dir = Directory.CreateTempSubdirectory("iris-boot-");
        try
        {
            var options = new IrisServerOptions { DataDir = dir.FullName, HttpPort = 0, GrpcPort = 0 };
            string first;
            await using (var server = IrisServer.Create(options, _ => { }))
            {
                Assert.True(server.Bootstrap.Generated);
                first = server.Bootstrap.Token;
                Assert.Matches("^[0-9a-f]{32}$", first);
            }

            var path = Path.Combine(dir.FullName, BootstrapCredentials.FileName);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(first, (await File.ReadAllTextAsync(path)).Trim());

            await using (var again = IrisServer.Create(options, _ => { }))
            {
                Assert.False(again.Bootstrap.Generated);
                Assert.Equal(first, again.Bootstrap.Token);
                Assert.Equal("admin", again.Bootstrap.UserId);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("short")]
    [InlineData("has spaces in it 0123456789")]
    public void An_unusable_IRIS_BOOTSTRAP_PAT_stops_start_up(string token)
    {
        var options = new IrisServerOptions { DataDir = Path.GetTempPath(), HttpPort = 0, GrpcPort = 0, BootstrapPat = token };
        var error = Assert.Throws<InvalidOperationException>(() => IrisServer.Create(options, _ => { }));
        Assert.Contains("IRIS_BOOTSTRAP_PAT", error.Message, StringComparison.Ordinal);
    }
}
