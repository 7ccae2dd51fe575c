using System.Net;
using System.Net.Sockets;

namespace Iris.Core.Fetching;

/// <summary>
/// Which addresses a download may connect to. Everything that is not public unicast is internal: a URL pointing there
/// would let any caller read the machine's own network (SSRF). IPv6 forms that embed an IPv4 address (mapped,
/// compatible, translated, NAT64, 6to4, Teredo) are judged by that address, so <c>[::ffff:127.0.0.1]</c> and
/// <c>[::7f00:1]</c> are loopback.
/// </summary>
public static class AddressGuard
{
    /// <summary>True for loopback, unspecified, private, CGNAT, link-local, multicast, reserved and documentation addresses.</summary>
    public static bool IsInternal(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return IsInternalV4(address.GetAddressBytes());
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return true;
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        // ::/96 holds :: and ::1 (0.0.0.0/8 below) and the deprecated IPv4-compatible ::a.b.c.d, which some stacks still
        // route as IPv4; ::ffff:0:0/96 (mapped) and ::ffff:0:0:0/96 (translated) are IPv4 by construction. The rest of
        // ::/64 is unassigned.
        if (b[..8].IndexOfAnyExcept((byte)0) < 0)
        {
            var kind = (b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11];
            return kind is not (0 or 0x0000FFFF or unchecked((int)0xFFFF0000)) || IsInternalV4(b[12..]);
        }

        // NAT64 (64:ff9b::/96 well-known prefix) reaches the embedded IPv4 address; 64:ff9b:1::/48 is local-use NAT64.
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B)
        {
            return b[4..12].IndexOfAnyExcept((byte)0) >= 0 || IsInternalV4(b[12..]);
        }

        // 6to4 (2002::/16): the IPv4 address of the relay-side host is bytes 2–5.
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return IsInternalV4(b[2..6]);
        }

        // Teredo (2001::/32): the client's IPv4 address is the last four bytes, inverted.
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
        {
            Span<byte> client = [(byte)~b[12], (byte)~b[13], (byte)~b[14], (byte)~b[15]];
            return IsInternalV4(client);
        }

        return (b[0] & 0xFE) == 0xFC                                   // fc00::/7 unique-local (fd00:ec2::254 is AWS metadata)
            || (b[0] == 0xFE && (b[1] & 0xC0) is 0x80 or 0xC0)          // fe80::/10 link-local, fec0::/10 site-local
            || b[0] == 0xFF                                             // ff00::/8 multicast
            || (b[0] == 0x01 && b[1..8].IndexOfAnyExcept((byte)0) < 0)  // 100::/64 discard
            || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8); // 2001:db8::/32 documentation
    }

    /// <summary>Whether a download may connect to <paramref name="address"/> under <paramref name="options"/>.</summary>
    public static bool IsAllowed(IPAddress address, UrlFetcherOptions options)
    {
        if (options.AllowPrivateUrls || !IsInternal(address))
        {
            return true;
        }

        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var network in options.AllowedNetworks)
        {
            if (network.Contains(plain))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsInternalV4(ReadOnlySpan<byte> b) =>
        b[0] is 0 or 10 or 127 or >= 224                       // this network, private, loopback, multicast + reserved + broadcast
        || (b[0] == 100 && b[1] is >= 64 and <= 127)           // 100.64/10 CGNAT
        || (b[0] == 169 && b[1] == 254)                        // 169.254/16 link-local: cloud metadata endpoints
        || (b[0] == 172 && b[1] is >= 16 and <= 31)            // 172.16/12 private
        || (b[0] == 192 && b[1] == 168)                        // 192.168/16 private
        || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)        // 192.0.0/24 protocol assignments, 192.0.2/24 documentation
        || (b[0] == 198 && b[1] is 18 or 19)                   // 198.18/15 benchmarking
        || (b[0] == 198 && b[1] == 51 && b[2] == 100)          // 198.51.100/24 documentation
        || (b[0] == 203 && b[1] == 0 && b[2] == 113);          // 203.0.113/24 documentation
}
