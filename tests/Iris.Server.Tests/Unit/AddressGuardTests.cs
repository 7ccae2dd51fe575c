using System.Net;
using Iris.Core.Fetching;

namespace Iris.Server.Tests.Unit;

/// <summary>The SSRF address guard: every non-public address, in every IPv6 spelling of an IPv4 one, is internal; public ones are not.</summary>
public sealed class AddressGuardTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.0.9")]
    [InlineData("0.0.0.0")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("192.0.0.170")]
    [InlineData("198.18.0.1")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::7f00:1")]                 // IPv4-compatible 127.0.0.1
    [InlineData("::a9fe:a9fe")]              // IPv4-compatible 169.254.169.254
    [InlineData("::ffff:127.0.0.1")]         // IPv4-mapped
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:0:7f00:1")]          // IPv4-translated
    [InlineData("::1:0:0:1")]                // unassigned ::/64 space
    [InlineData("64:ff9b::a9fe:a9fe")]       // NAT64 of 169.254.169.254
    [InlineData("64:ff9b:1::8.8.8.8")]       // local-use NAT64
    [InlineData("2002:7f00:1::1")]           // 6to4 of 127.0.0.1
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe")] // Teredo, client 127.0.0.1
    [InlineData("fd00:ec2::254")]            // AWS metadata (unique-local)
    [InlineData("fc00::1")]
    [InlineData("fe80::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("100::1")]
    [InlineData("2001:db8::1")]
    public void Internal_addresses_are_internal(string address) => Assert.True(AddressGuard.IsInternal(IPAddress.Parse(address)), address);

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:808:808::1")]
    [InlineData("2606:2800:220:1::1")]
    public void Public_addresses_are_not(string address) => Assert.False(AddressGuard.IsInternal(IPAddress.Parse(address)), address);

    [Fact]
    public void Allowed_networks_open_only_themselves_and_the_operator_switch_opens_all()
    {
        var one = new UrlFetcherOptions { AllowedNetworks = [IPNetwork.Parse("127.0.0.1/32")] };
        Assert.True(AddressGuard.IsAllowed(IPAddress.Parse("127.0.0.1"), one));
        Assert.True(AddressGuard.IsAllowed(IPAddress.Parse("::ffff:127.0.0.1"), one));
        Assert.False(AddressGuard.IsAllowed(IPAddress.Parse("127.0.0.2"), one));
        Assert.False(AddressGuard.IsAllowed(IPAddress.Parse("::1"), one));
        Assert.False(AddressGuard.IsAllowed(IPAddress.Parse("10.0.0.1"), one));
        Assert.True(AddressGuard.IsAllowed(IPAddress.Parse("8.8.8.8"), one));
        Assert.False(AddressGuard.IsAllowed(IPAddress.Parse("169.254.169.254"), new UrlFetcherOptions()));
        Assert.True(AddressGuard.IsAllowed(IPAddress.Parse("169.254.169.254"), new UrlFetcherOptions { AllowPrivateUrls = true }));
    }
}
