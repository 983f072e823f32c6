package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestHealthCheckDownAndUp: a failing health check takes an upstream out of rotation and a
// passing one brings it back; the proxy's /health and the health gauge follow.
func TestHealthCheckDownAndUp(t *testing.T) {
	ups := fourKinds(t)
	a := newUpstream(t, "sync-a", nil)
	b := newUpstream(t, "sync-b", nil)
	ups[KindSync] = []*fakeUpstream{a, b}
	p, front := startProxy(t, ups)
	ctx := context.Background()
	gauge := func(u *fakeUpstream) string {
		return metricLine(t, front, `axon_proxy_upstream_healthy{kind="sync",upstream="`+u.URL+`"}`)
	}
	syncFrom := func() map[string]int {
		got := map[string]int{}
		for range 6 {
			code, _, body := do(t, http.MethodGet, front+"/_matrix/client/v3/sync", nil, nil)
			if code != http.StatusOK {
				t.Fatalf("sync: %d %s", code, body)
			}
			got[decodeEcho(t, body).Upstream]++
		}
		return got
	}
	proxyHealth := func() (int, string) {
		code, _, body := do(t, http.MethodGet, front+"/health", nil, nil)
		var h struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("/health: %v: %s", err, body)
		}
		return code, h.Status
	}

	steps := []struct {
		name         string
		aUp, bUp     bool
		wantHealth   int
		wantServedBy []string
	}{
		{"both up", true, true, http.StatusOK, []string{"sync-a", "sync-b"}},
		{"a fails its check", false, true, http.StatusOK, []string{"sync-b"}},
		{"both fail", false, false, http.StatusServiceUnavailable, nil},
		{"a passes again", true, false, http.StatusOK, []string{"sync-a"}},
		{"both back", true, true, http.StatusOK, []string{"sync-a", "sync-b"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a.healthy.Store(s.aUp)
			b.healthy.Store(s.bUp)
			p.CheckNow(ctx)
			if got := p.Upstreams()[KindSync]; got[a.URL] != s.aUp || got[b.URL] != s.bUp {
				t.Fatalf("proxy's view %v, want a=%v b=%v", got, s.aUp, s.bUp)
			}
			for u, up := range map[*fakeUpstream]bool{a: s.aUp, b: s.bUp} {
				want := " 0"
				if up {
					want = " 1"
				}
				if l := gauge(u); !strings.HasSuffix(l, want) {
					t.Errorf("gauge %q, want value%s", l, want)
				}
			}
			if code, _ := proxyHealth(); code != s.wantHealth {
				t.Errorf("proxy /health %d, want %d", code, s.wantHealth)
			}
			if s.wantServedBy == nil {
				if code, _, _ := do(t, http.MethodGet, front+"/_matrix/client/v3/sync", nil, nil); code != http.StatusBadGateway {
					t.Fatalf("sync with no healthy instance: %d, want 502", code)
				}
				return
			}
			got := syncFrom()
			if len(got) != len(s.wantServedBy) {
				t.Fatalf("served by %v, want exactly %v", got, s.wantServedBy)
			}
			for _, name := range s.wantServedBy {
				if got[name] == 0 {
					t.Fatalf("served by %v, want exactly %v", got, s.wantServedBy)
				}
			}
		})
	}
}
