package setup

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

const testMetricsToken = "0123456789abcdef-metrics"

// /metrics is never on a public listener unless global.metrics.bearer_token is set, and
// then only for requests that carry it (issue 10: metrics off the public port by default).
func TestPublicMetricsNeedBearerToken(t *testing.T) {
	plain := newTestBase(t, nil)
	withToken := newTestBase(t, func(c *config.Config) { c.Global.Metrics.BearerToken = testMetricsToken })
	tests := []struct {
		name     string
		h        http.Handler
		auth     string
		wantCode int
		wantErr  string
	}{
		{"no token configured", plain.PublicHandler(), "", 404, "M_UNRECOGNIZED"},
		{"no token configured, one sent", plain.PublicHandler(), "Bearer " + testMetricsToken, 404, "M_UNRECOGNIZED"},
		{"token configured, none sent", withToken.PublicHandler(), "", 401, "M_UNAUTHORIZED"},
		{"token configured, wrong one", withToken.PublicHandler(), "Bearer nope", 401, "M_UNAUTHORIZED"},
		{"token configured, not bearer", withToken.PublicHandler(), testMetricsToken, 401, "M_UNAUTHORIZED"},
		{"token configured, right one", withToken.PublicHandler(), "Bearer " + testMetricsToken, 200, ""},
		{"internal listener", plain.InternalHandler(), "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			rec := do(t, tc.h, "GET", "/metrics", hdr)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantErr != "" {
				if got := errcode(t, rec); got != tc.wantErr {
					t.Fatalf("errcode %q, want %q", got, tc.wantErr)
				}
			} else if !strings.Contains(rec.Body.String(), "go_goroutines") {
				t.Fatalf("no metrics in %q", rec.Body.String()[:min(200, rec.Body.Len())])
			}
		})
	}
	// /health stays on the public listener.
	if rec := do(t, plain.PublicHandler(), "GET", "/health", nil); rec.Code != 200 {
		t.Fatalf("public /health: %d", rec.Code)
	}
}

func TestServeMetrics(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		b := newTestBase(t, func(c *config.Config) { c.Global.Metrics.Enabled = enabled })
		addr, err := b.ServeMetrics("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		metricsCode := 404
		if enabled {
			metricsCode = 200
		}
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/metrics", metricsCode},
			{"GET", "/health", 200},
			{"HEAD", "/health", 200},
			{"POST", "/health", 405},
			{"GET", "/_matrix/client/versions", 404},
		} {
			req, _ := http.NewRequestWithContext(context.Background(), tc.method, "http://"+addr.String()+tc.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("metrics enabled=%v: %s %s = %d, want %d", enabled, tc.method, tc.path, res.StatusCode, tc.want)
			}
		}
	}
}

func TestGuardPublicMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "metrics") })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "proxied") })
	tests := []struct {
		name, token, path, auth string
		wantCode                int
		wantBody                string
	}{
		{"other path passes", "", "/_matrix/client/versions", "", 200, "proxied"},
		{"no token: metrics hidden", "", "/metrics", "", 404, "M_UNRECOGNIZED"},
		{"token missing", testMetricsToken, "/metrics", "", 401, "M_UNAUTHORIZED"},
		{"token right", testMetricsToken, "/metrics", "Bearer " + testMetricsToken, 200, "metrics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			rec := do(t, GuardPublicMetrics(tc.token, metrics, next), "GET", tc.path, hdr)
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Body, tc.wantCode, tc.wantBody)
			}
		})
	}
}
