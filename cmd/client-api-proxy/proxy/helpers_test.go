package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// echo is what the echo upstreams answer: who they are and what they received.
type echo struct {
	Upstream   string      `json:"upstream"`
	Method     string      `json:"method"`
	RequestURI string      `json:"request_uri"`
	Host       string      `json:"host"`
	Header     http.Header `json:"header"`
}

// fakeUpstream is a real HTTP server on loopback standing in for one Tier 1 instance. Its
// /health answers 200 while healthy is set.
type fakeUpstream struct {
	*httptest.Server
	name    string
	healthy atomic.Bool
	served  atomic.Int64
}

func newUpstream(t *testing.T, name string, h http.HandlerFunc) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{name: name}
	u.healthy.Store(true)
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(echo{Upstream: name, Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header})
		}
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			if u.healthy.Load() {
				w.WriteHeader(http.StatusOK)
			} else {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		u.served.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.Server.Close)
	return u
}

// startProxy builds a proxy over ups, runs one round of health checks and serves it on
// loopback. It returns the proxy and its base URL.
func startProxy(t *testing.T, ups map[Kind][]*fakeUpstream) (*Proxy, string) {
	t.Helper()
	urls := map[Kind][]string{}
	for k, list := range ups {
		for _, u := range list {
			urls[k] = append(urls[k], u.URL)
		}
	}
	p, err := New(Options{
		Upstreams:           urls,
		HealthCheckInterval: time.Hour, // tests run rounds themselves with CheckNow
		HealthCheckTimeout:  5 * time.Second,
		ConnectTimeout:      5 * time.Second,
		Registry:            prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.CheckNow(context.Background())
	front := httptest.NewServer(p)
	t.Cleanup(front.Close)
	return p, front.URL
}

// get does a request through the proxy and returns status, headers and body.
func do(t *testing.T, method, url string, hdr map[string]string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard against hangs, not an assertion
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

func decodeEcho(t *testing.T, b []byte) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not an echo: %v: %s", err, b)
	}
	return e
}

// metricLine returns the /metrics line that starts with prefix, or "".
func metricLine(t *testing.T, front, prefix string) string {
	t.Helper()
	_, _, b := do(t, http.MethodGet, front+"/metrics", nil, nil)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// fourKinds starts one echo upstream per kind.
func fourKinds(t *testing.T) map[Kind][]*fakeUpstream {
	out := map[Kind][]*fakeUpstream{}
	for _, k := range Kinds {
		out[k] = []*fakeUpstream{newUpstream(t, string(k), nil)}
	}
	return out
}
