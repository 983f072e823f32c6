package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
)

// TestListenMetrics: the proxy's /metrics is on client_api_proxy.metrics_listen, not on
// its public listener unless global.metrics.bearer_token is set and sent.
func TestListenMetrics(t *testing.T) {
	const token = "0123456789abcdef-proxy"
	// A stand-in for the proxy: /metrics and /health answer, everything else is "proxied".
	p := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			_, _ = io.WriteString(w, "axon_proxy_upstream_healthy 1")
		case "/health":
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		default:
			_, _ = io.WriteString(w, "proxied")
		}
	})
	get := func(url, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name          string
		bearer        string
		metricsListen string
		publicCode    int
	}{
		{"defaults", "", "127.0.0.1:0", 404},
		{"bearer token", token, "127.0.0.1:0", 200},
		{"no metrics listener", "", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults(t.TempDir())
			cfg.Global.Logging.Level = "error"
			cfg.Global.Metrics.BearerToken = tc.bearer
			cfg.ClientAPIProxy.Listen = "127.0.0.1:0"
			cfg.ClientAPIProxy.MetricsListen = tc.metricsListen
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			base, err := setup.NewBase(cfg, component)
			if err != nil {
				t.Fatal(err)
			}
			defer base.Shutdown(context.Background())
			public, metrics, err := listen(base, cfg, p)
			if err != nil {
				t.Fatal(err)
			}
			if code, body := get("http://"+public.String()+"/_matrix/client/versions", ""); code != 200 || body != "proxied" {
				t.Fatalf("proxied path: %d %q", code, body)
			}
			if code, _ := get("http://"+public.String()+"/metrics", tc.bearer); code != tc.publicCode {
				t.Fatalf("public /metrics: %d, want %d", code, tc.publicCode)
			}
			if tc.bearer != "" {
				if code, _ := get("http://"+public.String()+"/metrics", ""); code != 401 {
					t.Fatalf("public /metrics without the token: %d", code)
				}
			}
			if tc.metricsListen == "" {
				if metrics != nil {
					t.Fatalf("metrics listener on %v", metrics)
				}
				return
			}
			if code, body := get("http://"+metrics.String()+"/metrics", ""); code != 200 || !strings.Contains(body, "axon_proxy_upstream_healthy") {
				t.Fatalf("metrics listener: %d %q", code, body)
			}
			if code, _ := get("http://"+metrics.String()+"/_matrix/client/versions", ""); code != 404 {
				t.Fatalf("metrics listener proxies: %d", code)
			}
		})
	}
}
