package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestForwardedHeaders: the upstream sees the client's address, the Host the client asked
// for and the scheme, not what the client claimed; X-Request-ID is passed through when
// well-formed, replaced otherwise, and echoed once in the response.
func TestForwardedHeaders(t *testing.T) {
	ups := fourKinds(t)
	_, front := startProxy(t, ups)
	frontHost := mustHost(t, front)
	tests := []struct {
		name    string
		in      map[string]string
		wantRID string // "" = a generated ID
	}{
		{"plain", nil, ""},
		{"spoofed forwarding headers are dropped", map[string]string{
			"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
			"Forwarded": "for=203.0.113.9"}, ""},
		{"request ID passed through", map[string]string{"X-Request-ID": "req-42:a.b"}, "req-42:a.b"},
		{"malformed request ID replaced", map[string]string{"X-Request-ID": "bad id with spaces"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, b := do(t, http.MethodGet, front+"/_matrix/client/v3/sync", tt.in, nil)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, b)
			}
			e := decodeEcho(t, b)
			if got := e.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
				t.Errorf("X-Forwarded-For = %q, want [127.0.0.1]", got)
			}
			if got := e.Header.Get("X-Forwarded-Host"); got != frontHost {
				t.Errorf("X-Forwarded-Host = %q, want %q", got, frontHost)
			}
			if got := e.Header.Get("X-Forwarded-Proto"); got != "http" {
				t.Errorf("X-Forwarded-Proto = %q, want http", got)
			}
			if got := e.Header.Get("Forwarded"); got != "" {
				t.Errorf("Forwarded = %q reached the upstream", got)
			}
			upRID := e.Header.Get("X-Request-ID")
			if tt.wantRID != "" && upRID != tt.wantRID {
				t.Errorf("upstream saw X-Request-ID %q, want %q", upRID, tt.wantRID)
			}
			if !requestIDRE.MatchString(upRID) || (tt.wantRID == "" && upRID == tt.in["X-Request-ID"]) {
				t.Errorf("upstream saw X-Request-ID %q, want a generated one", upRID)
			}
			if got := hdr.Values("X-Request-ID"); len(got) != 1 || got[0] != upRID {
				t.Errorf("response X-Request-ID %q, want [%s]", got, upRID)
			}
		})
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestTrustedProxyChain: behind a trusted proxy (global.trusted_proxies: a TLS terminator
// on 127.0.0.1 here) the incoming X-Forwarded-For chain is kept and the proxy's own hop
// appended, so the components still see the client; untrusted, it is dropped (above).
func TestTrustedProxyChain(t *testing.T) {
	ups := fourKinds(t)
	urls := map[Kind][]string{}
	for k, list := range ups {
		for _, u := range list {
			urls[k] = append(urls[k], u.URL)
		}
	}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "203.0.113.9, 198.51.100.7, 127.0.0.1"},
		{"other proxy trusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Options{Upstreams: urls, HealthCheckInterval: time.Hour, HealthCheckTimeout: 5 * time.Second,
				ConnectTimeout: 5 * time.Second, Registry: prometheus.NewRegistry(), TrustedProxies: tc.trusted})
			if err != nil {
				t.Fatal(err)
			}
			p.CheckNow(context.Background())
			front := httptest.NewServer(p)
			defer front.Close()
			code, _, b := do(t, http.MethodGet, front.URL+"/_matrix/client/v3/sync",
				map[string]string{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}, nil)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, b)
			}
			if got := strings.Join(decodeEcho(t, b).Header.Values("X-Forwarded-For"), ", "); got != tc.want {
				t.Errorf("X-Forwarded-For = %q, want %q", got, tc.want)
			}
		})
	}
}
