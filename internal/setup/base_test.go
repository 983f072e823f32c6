package setup

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/axon-matrix/axon/internal/config"
)

func newTestBase(t *testing.T, mutate func(c *config.Config)) *Base {
	t.Helper()
	cfg := config.Defaults(t.TempDir())
	cfg.Global.Logging.Level = "error"
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := NewBase(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	return b
}

func do(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errcode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	return body.ErrCode
}

func TestRouting(t *testing.T) {
	b := newTestBase(t, nil)
	ok := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(mux.Vars(r))
	}
	b.PublicClientAPIMux.HandleFunc("/v3/rooms/{roomID}/event/{eventID}", ok).Methods(http.MethodGet)
	b.PublicClientAPIMux.HandleFunc("/v3/sync", ok).Methods(http.MethodGet)
	b.PublicFederationAPIMux.HandleFunc("/v1/version", ok).Methods(http.MethodGet)
	b.PublicKeyAPIMux.HandleFunc("/v2/server", ok).Methods(http.MethodGet)
	b.PublicMediaAPIMux.HandleFunc("/v3/config", ok).Methods(http.MethodGet)
	b.PublicWellKnownAPIMux.HandleFunc("/client", ok).Methods(http.MethodGet)
	b.PublicSynapseAdminMux.HandleFunc("/v1/register", ok).Methods(http.MethodGet, http.MethodPost)
	b.InternalAPIMux.HandleFunc("/userapi/query", ok).Methods(http.MethodPost)
	pub := b.PublicHandler()

	tests := []struct {
		name, method, path string
		status             int
		errcode            string
		vars               map[string]string
	}{
		{"client route", "GET", "/_matrix/client/v3/sync", 200, "", map[string]string{}},
		{"escaped vars are unescaped", "GET", "/_matrix/client/v3/rooms/%21room%3Aexample.org/event/%24ab%2Fcd", 200, "",
			map[string]string{"roomID": "!room:example.org", "eventID": "$ab/cd"}},
		{"federation route", "GET", "/_matrix/federation/v1/version", 200, "", map[string]string{}},
		{"key route", "GET", "/_matrix/key/v2/server", 200, "", map[string]string{}},
		{"media route", "GET", "/_matrix/media/v3/config", 200, "", map[string]string{}},
		{"well-known route", "GET", "/.well-known/matrix/client", 200, "", map[string]string{}},
		{"synapse admin route", "POST", "/_synapse/admin/v1/register", 200, "", map[string]string{}},
		{"unknown client path", "GET", "/_matrix/client/v3/nope", 404, "M_UNRECOGNIZED", nil},
		{"unknown top-level path", "GET", "/nope", 404, "M_UNRECOGNIZED", nil},
		{"wrong method on known path", "POST", "/_matrix/client/v3/sync", 405, "M_UNRECOGNIZED", nil},
		{"wrong method on federation path", "PUT", "/_matrix/federation/v1/version", 405, "M_UNRECOGNIZED", nil},
		{"internal API is not public", "POST", "/api/userapi/query", 404, "M_UNRECOGNIZED", nil},
		{"double slash is not redirected", "GET", "/_matrix/client//v3/sync", 404, "M_UNRECOGNIZED", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, pub, tt.method, tt.path, nil)
			if rec.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d (%s)", tt.method, tt.path, rec.Code, tt.status, rec.Body)
			}
			if tt.errcode != "" {
				if got := errcode(t, rec); got != tt.errcode {
					t.Fatalf("errcode %q, want %q", got, tt.errcode)
				}
				return
			}
			var vars map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &vars); err != nil {
				t.Fatal(err)
			}
			if len(vars) != len(tt.vars) {
				t.Fatalf("vars %v, want %v", vars, tt.vars)
			}
			for k, v := range tt.vars {
				if vars[k] != v {
					t.Fatalf("vars %v, want %v", vars, tt.vars)
				}
			}
		})
	}

	in := b.InternalHandler()
	if rec := do(t, in, "POST", "/api/userapi/query", nil); rec.Code != 200 {
		t.Fatalf("internal route: %d", rec.Code)
	}
	if rec := do(t, in, "GET", "/_matrix/client/v3/sync", nil); rec.Code != 404 || errcode(t, rec) != "M_UNRECOGNIZED" {
		t.Fatalf("public route on internal handler: %d", rec.Code)
	}
}

func TestCORS(t *testing.T) {
	b := newTestBase(t, nil)
	b.PublicClientAPIMux.HandleFunc("/v3/login", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "{}")
	}).Methods(http.MethodPost)
	h := b.PublicHandler()
	tests := []struct {
		name, method, path string
		status             int
		cors               bool
	}{
		{"preflight on a known route", "OPTIONS", "/_matrix/client/v3/login", 200, true},
		{"preflight on an unknown route", "OPTIONS", "/_matrix/client/v3/whatever", 200, true},
		{"preflight on media", "OPTIONS", "/_matrix/media/v3/upload", 200, true},
		{"preflight on well-known", "OPTIONS", "/.well-known/matrix/client", 200, true},
		{"actual request", "POST", "/_matrix/client/v3/login", 200, true},
		{"error responses carry CORS too", "GET", "/_matrix/client/v3/login", 405, true},
		{"not under /_matrix", "OPTIONS", "/health", 405, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, tt.method, tt.path, map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			got := rec.Header().Get("Access-Control-Allow-Origin")
			if tt.cors && (got != "*" || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") ||
				!strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), "PUT")) {
				t.Fatalf("CORS headers missing: %v", rec.Header())
			}
			if !tt.cors && got != "" {
				t.Fatalf("unexpected CORS header %q", got)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	b := newTestBase(t, nil)
	var seen string
	b.PublicClientAPIMux.HandleFunc("/v3/x", func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
		if LoggerFrom(r.Context()).Data["request_id"] != seen {
			t.Errorf("request logger lacks the request ID")
		}
	})
	h := b.PublicHandler()
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"caller's ID is kept", "abc-123.x:y_z", true},
		{"missing ID is generated", "", false},
		{"malformed ID is replaced", "bad id\twith spaces", false},
		{"overlong ID is replaced", strings.Repeat("a", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = ""
			rec := do(t, h, "GET", "/_matrix/client/v3/x", map[string]string{RequestIDHeader: tt.in})
			out := rec.Header().Get(RequestIDHeader)
			if out == "" || out != seen {
				t.Fatalf("response ID %q, handler saw %q", out, seen)
			}
			if tt.keep != (out == tt.in) {
				t.Fatalf("ID in %q, out %q, keep=%v", tt.in, out, tt.keep)
			}
		})
	}
	// Unknown routes get an ID too.
	if rec := do(t, h, "GET", "/nope", nil); rec.Header().Get(RequestIDHeader) == "" {
		t.Fatal("404 without request ID")
	}
}

func TestHealth(t *testing.T) {
	b := newTestBase(t, nil)
	h := b.PublicHandler()
	var fail error
	b.AddHealthCheck("thing", func(context.Context) error { return fail })
	tests := []struct {
		name   string
		fail   error
		status int
		want   string
	}{
		{"passing", nil, 200, "ok"},
		{"failing", errors.New("thing is down"), 503, "unhealthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail = tt.fail
			rec := do(t, h, "GET", "/health", nil)
			var body struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.status || body.Status != tt.want {
				t.Fatalf("got %d %+v", rec.Code, body)
			}
			if tt.fail != nil && body.Checks["thing"] != tt.fail.Error() {
				t.Fatalf("failing check not named: %+v", body)
			}
		})
	}
	// Internal listeners serve /health too.
	fail = nil
	if rec := do(t, b.InternalHandler(), "GET", "/health", nil); rec.Code != 200 {
		t.Fatalf("internal /health: %d", rec.Code)
	}
}

// defaultRegistered stands for the promauto metrics of packages such as
// internal/eventlog/internal/metrics, which live on prometheus.DefaultRegisterer.
var defaultRegistered = promauto.NewCounter(prometheus.CounterOpts{Name: "axon_setup_test_default_registerer_total", Help: "test"})

func TestMetrics(t *testing.T) {
	defaultRegistered.Inc()
	b := newTestBase(t, nil)
	b.PublicClientAPIMux.HandleFunc("/v3/rooms/{roomID}/state", func(w http.ResponseWriter, r *http.Request) {}).Methods("GET")
	h := b.PublicHandler()
	do(t, h, "GET", "/_matrix/client/v3/rooms/%21a%3Ab/state", nil)
	do(t, h, "GET", "/_matrix/client/v3/unknown/path", nil)
	rec := do(t, b.InternalHandler(), "GET", "/metrics", nil)
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`axon_http_request_duration_seconds_count{code="200",component="test",method="GET",route="/_matrix/client/v3/rooms/{roomID}/state"} 1`,
		`axon_http_request_duration_seconds_count{code="404",component="test",method="GET",route="unmatched"} 1`,
		`go_goroutines`,
		`process_start_time_seconds`,
		`axon_http_requests_in_flight{component="test"}`,
		// Package-level metrics on the default registerer (the event log's, the roomserver's).
		`axon_setup_test_default_registerer_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	off := newTestBase(t, func(c *config.Config) { c.Global.Metrics.Enabled = false })
	if rec := do(t, off.InternalHandler(), "GET", "/metrics", nil); rec.Code != 404 {
		t.Fatalf("/metrics with metrics disabled: %d", rec.Code)
	}
}

// The internal listener refuses a call without the right secret the same way inthttp
// does (401 M_UNAUTHORIZED, InternalSecretRefused), and never reaches the handler.
func TestInternalSecret(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	b := newTestBase(t, func(c *config.Config) { c.Global.InternalAPISecret = secret })
	calls := 0
	b.InternalAPIMux.HandleFunc("/roomserver/input", func(w http.ResponseWriter, r *http.Request) { calls++ }).Methods("POST")
	h := b.InternalHandler()
	tests := []struct {
		name, path, secret string
		status             int
	}{
		{"right secret", "/api/roomserver/input", secret, 200},
		{"no secret", "/api/roomserver/input", "", 401},
		{"wrong secret", "/api/roomserver/input", "0123456789abcdef-wrong!", 401},
		{"prefix of the secret", "/api/roomserver/input", secret[:10], 401},
		{"secret with a suffix", "/api/roomserver/input", secret + "x", 401},
		{"unknown path refused too", "/api/nope", "", 401},
		{"health needs none", "/health", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = 0
			method := "POST"
			if tt.path == "/health" {
				method = "GET"
			}
			req := httptest.NewRequest(method, tt.path, nil)
			SetInternalSecret(req, tt.secret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status == 401 {
				if code := errcode(t, rec); code != "M_UNAUTHORIZED" || calls != 0 {
					t.Fatalf("errcode %s, handler calls %d", code, calls)
				}
			}
		})
	}
}
