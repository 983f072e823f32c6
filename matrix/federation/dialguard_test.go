package federation

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"testing"
)

func TestIsPublicAddr(t *testing.T) {
	tests := []struct {
		ip     string
		public bool
	}{
		{"8.8.8.8", true},
		{"2a00:1450:4001:80b::200e", true},
		{"127.0.0.1", false},
		{"127.5.6.7", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"100.64.0.1", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::7f00:1", false},
		{"2002:7f00:1::", false},
	}
	for _, tc := range tests {
		if got := IsPublicAddr(netip.MustParseAddr(tc.ip)); got != tc.public {
			t.Errorf("IsPublicAddr(%s) = %v, want %v", tc.ip, got, tc.public)
		}
	}
}

// TestPublicDialer dials a loopback server through a name ("localhost"), so the refusal
// happens after DNS, at connect time; allowPrivate lets it through.
func TestPublicDialer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, addr := range []string{srv.Listener.Addr().String(), net.JoinHostPort("localhost", port)} {
		_, err := PublicDialer(false)(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrPrivateDestination) {
			t.Errorf("dial %s: %v, want ErrPrivateDestination", addr, err)
		}
		c, err := PublicDialer(true)(context.Background(), "tcp", addr)
		if err != nil {
			t.Errorf("dial %s with private allowed: %v", addr, err)
			continue
		}
		c.Close()
	}
	// Through a federation client: the destination is the server name "127.0.0.1:PORT".
	resolver := discovery.New(fakeDNS{}, noWellKnown, discovery.Options{})
	dest := srv.Listener.Addr().String()
	for _, allow := range []bool{false, true} {
		cl := NewClient("origin.example", testKey(t, "origin"), resolver,
			ClientOptions{Transport: TransportOptions{Scheme: "http", DialContext: PublicDialer(allow)}})
		err := cl.Do(context.Background(), dest, http.MethodGet, "/_matrix/federation/v1/version", nil, nil, nil)
		if refused := errors.Is(err, ErrPrivateDestination); refused == allow {
			t.Errorf("allowPrivate=%v: err = %v", allow, err)
		}
	}
}
