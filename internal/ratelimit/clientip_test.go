package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxy", "203.0.113.7:5555", nil, proxies, "203.0.113.7"},
		{"ipv6 remote", "[2001:db8::1]:5555", nil, proxies, "2001:db8::1"},
		{"mapped ipv4", "[::ffff:203.0.113.7]:1", nil, proxies, "203.0.113.7"},
		{"header ignored from untrusted remote", "203.0.113.7:1", []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"header ignored when nothing is trusted", "127.0.0.1:1", []string{"198.51.100.1"}, nil, "127.0.0.1"},
		{"trusted proxy", "127.0.0.1:1", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"client-supplied entry left of the real one", "127.0.0.1:1", []string{"1.1.1.1, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"chain of proxies", "127.0.0.1:1", []string{"198.51.100.1, 10.1.1.1", "10.2.2.2"}, proxies, "198.51.100.1"},
		{"garbage stops the walk", "127.0.0.1:1", []string{"198.51.100.1, nonsense, 10.1.1.1"}, proxies, "10.1.1.1"},
		{"all trusted: the leftmost", "127.0.0.1:1", []string{"10.1.1.1, 10.2.2.2"}, proxies, "10.1.1.1"},
		{"no header from a trusted proxy", "[::1]:1", nil, proxies, "::1"},
		{"entries with ports", "127.0.0.1:1", []string{"[2001:db8::5]:443"}, proxies, "2001:db8::5"},
		{"unparsable remote", "pipe", nil, proxies, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tt.trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
		{"pipe", "pipe"},
	}
	for _, tt := range tests {
		if got := AddressKey(tt.ip); got != tt.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
