package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the IP address of the client that sent r: the connection's remote
// address, unless that is one of the trusted proxies (global.trusted_proxies), in which
// case X-Forwarded-For is read from the right — each proxy appends the address it saw —
// and the first address that is not a trusted proxy is the client. With no trusted
// proxies the header is never read, so a client cannot choose its own address.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	addr, err := parseHostAddr(r.RemoteAddr)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(r.RemoteAddr)
		if splitErr != nil {
			return r.RemoteAddr
		}
		return host
	}
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := parseHostAddr(hops[i])
		if err != nil {
			break // not an address: trust nothing further left
		}
		addr = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return addr.String()
}

// FromTrustedProxy reports whether r's connection comes from one of the trusted proxies,
// whose X-Forwarded-For may then be believed.
func FromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	addr, err := parseHostAddr(r.RemoteAddr)
	return err == nil && isTrusted(addr, trusted)
}

// AddressKey is the key a per-IP limit counts ip under: the address itself for IPv4,
// its /64 for IPv6 (one host or household usually has a whole /64, so counting single
// IPv6 addresses would let it pick a fresh address for every request).
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor splits X-Forwarded-For header lines into their entries, in order.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// parseHostAddr parses "1.2.3.4", "::1", "1.2.3.4:5", "[::1]:5" or "[::1]" into an
// address without zone; IPv4-mapped IPv6 becomes IPv4.
func parseHostAddr(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, err
	}
	return a.WithZone("").Unmap(), nil
}
