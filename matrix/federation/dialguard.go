package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateDestination is why a dial guarded by PublicDialer was refused: the address the
// destination resolved to is not a public unicast address.
var ErrPrivateDestination = errors.New("federation: destination resolves to a private, loopback or link-local address")

// nonPublic are the IPv4 and IPv6 ranges outbound federation refuses by default, besides
// what netip classifies as loopback, private, link-local, unspecified or multicast.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (shared address space)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("::ffff:0:0/96"),  // IPv4-mapped (checked unmapped instead)
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds an IPv4 address
}

// IsPublicAddr says whether outbound federation may connect to ip when private
// destinations are not allowed: not loopback, private (RFC 1918, fc00::/7), link-local,
// unspecified, multicast, carrier-grade NAT or another special-purpose range.
func IsPublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// publicOnlyControl is a net.Dialer Control function: it runs after DNS, with the address
// actually being connected to, so neither a server name nor its .well-known delegation or
// SRV target can lead to an internal address.
func publicOnlyControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrPrivateDestination, address)
	}
	if !IsPublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateDestination, ap.Addr())
	}
	return nil
}

// PublicDialer returns the DialContext outbound federation uses (TransportOptions.DialContext,
// and the .well-known client of discovery): a net.Dialer that, unless allowPrivate, refuses
// every address IsPublicAddr rejects, checked at connect time after name resolution (no
// SSRF through a crafted server name; federation_api.allow_private_destinations).
func PublicDialer(allowPrivate bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = publicOnlyControl
	}
	return d.DialContext
}
