package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestNoUpstream: with no healthy or no reachable upstream of a kind the proxy answers 502
// with the spec's error JSON, M_UNKNOWN.
func TestNoUpstream(t *testing.T) {
	tests := []struct {
		name   string
		method string
		setup  func(t *testing.T, ups map[Kind][]*fakeUpstream, p *Proxy)
	}{
		{"upstream fails its health check", http.MethodGet, func(t *testing.T, ups map[Kind][]*fakeUpstream, p *Proxy) {
			ups[KindSync][0].healthy.Store(false)
			p.CheckNow(context.Background())
		}},
		{"upstream gone, health check noticed", http.MethodGet, func(t *testing.T, ups map[Kind][]*fakeUpstream, p *Proxy) {
			ups[KindSync][0].Close()
			p.CheckNow(context.Background())
		}},
		{"upstream gone, health check not yet run", http.MethodGet, func(t *testing.T, ups map[Kind][]*fakeUpstream, _ *Proxy) {
			ups[KindSync][0].Close()
		}},
		{"upstream gone, POST with a body", http.MethodPost, func(t *testing.T, ups map[Kind][]*fakeUpstream, _ *Proxy) {
			ups[KindSync][0].Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ups := fourKinds(t)
			p, front := startProxy(t, ups)
			tt.setup(t, ups, p)
			code, hdr, b := do(t, tt.method, front+"/_matrix/client/v3/sync", nil, strings.NewReader(`{"x":1}`))
			if code != http.StatusBadGateway {
				t.Fatalf("status %d, want 502: %s", code, b)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var body map[string]string
			if err := json.Unmarshal(b, &body); err != nil || body["errcode"] != "M_UNKNOWN" || body["error"] == "" {
				t.Fatalf("body %s (%v), want {errcode: M_UNKNOWN, error: …}", b, err)
			}
			if hdr.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID on the 502")
			}
			if l := metricLine(t, front, `axon_proxy_unavailable_total{kind="sync"}`); !strings.HasSuffix(l, " 1") {
				t.Errorf("unavailable metric: %q", l)
			}
			// The other kinds are unaffected.
			if code, _, b := do(t, http.MethodGet, front+"/_matrix/client/v3/login", nil, nil); code != http.StatusOK {
				t.Fatalf("client API: %d %s", code, b)
			}
		})
	}
}
