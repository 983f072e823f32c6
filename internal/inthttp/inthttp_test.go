package inthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
)

type echoReq struct {
	Text string `json:"text"`
}

type echoResp struct {
	Text  string `json:"text"`
	Calls int64  `json:"calls"`
}

// newServer serves handlers registered by reg under PathPrefix, behind RequireSecret.
func newServer(t *testing.T, secret string, reg func(r *mux.Router)) *httptest.Server {
	t.Helper()
	root := mux.NewRouter()
	reg(root.PathPrefix(PathPrefix).Subrouter())
	root.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { httputil.WriteJSON(w, 200, Empty{}) })
	srv := httptest.NewServer(RequireSecret(secret, root))
	t.Cleanup(srv.Close)
	return srv
}

func matrixErr(t *testing.T, err error) *httputil.MatrixError {
	t.Helper()
	var me *httputil.MatrixError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is no *httputil.MatrixError", err, err)
	}
	return me
}

func TestErrorRoundTrip(t *testing.T) {
	limited := httputil.LimitExceeded(9007199254740993) // over 2^53: must survive exactly
	version := httputil.UnsupportedRoomVersion("Room version %q is not supported", "0")
	version.Extra = map[string]any{"room_version": "0", "nested": map[string]any{"a": []any{1, "b"}}}
	tests := []struct {
		name string
		err  error
		want *httputil.MatrixError
	}{
		{"forbidden", httputil.Forbidden("not in room"), httputil.Forbidden("not in room")},
		{"unknown token", httputil.UnknownToken("bad token"), httputil.UnknownToken("bad token")},
		{"not found", httputil.NotFound("no such thing"), httputil.NotFound("no such thing")},
		{"wrapped", fmt.Errorf("context: %w", httputil.UserInUse("taken")), httputil.UserInUse("taken")},
		{"extra int64", limited, limited},
		{"extra fields", version, version},
		{"plain error hides its text", errors.New("secret database detail"),
			&httputil.MatrixError{Status: 500, ErrCode: "M_UNKNOWN", Err: "Internal server error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, "", func(r *mux.Router) {
				Handle(r, "/test/fail", func(context.Context, *echoReq) (*echoResp, error) { return nil, tc.err })
			})
			c := NewClient(srv.URL, "", WithHTTPClient(srv.Client()))
			for _, idem := range []bool{false, true} {
				me := matrixErr(t, c.Call(context.Background(), "/test/fail", echoReq{}, &echoResp{}, idem))
				if me.Status != tc.want.Status || me.ErrCode != tc.want.ErrCode || me.Err != tc.want.Err {
					t.Fatalf("got %d %s %q, want %d %s %q", me.Status, me.ErrCode, me.Err, tc.want.Status, tc.want.ErrCode, tc.want.Err)
				}
				got, _ := json.Marshal(me.Body())
				want, _ := json.Marshal(tc.want.Body())
				if string(got) != string(want) {
					t.Fatalf("body %s, want %s", got, want)
				}
			}
		})
	}
}

func TestHandleDecodesAndEncodes(t *testing.T) {
	srv := newServer(t, "", func(r *mux.Router) {
		Handle(r, "/test/echo", func(_ context.Context, req *echoReq) (*echoResp, error) {
			return &echoResp{Text: strings.ToUpper(req.Text)}, nil
		})
		HandleErr(r, "/test/nothing", func(context.Context, *echoReq) error { return nil })
	})
	c := NewClient(srv.URL+"/", "", WithHTTPClient(srv.Client())) // a trailing slash is fine
	var resp echoResp
	if err := c.Call(context.Background(), "/test/echo", echoReq{Text: "hi"}, &resp, true); err != nil || resp.Text != "HI" {
		t.Fatalf("echo: %+v %v", resp, err)
	}
	if err := c.Call(context.Background(), "/test/nothing", echoReq{}, nil, false); err != nil {
		t.Fatalf("nothing: %v", err)
	}
	bad := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"not json", http.MethodPost, "/test/echo", `{`, 400, "M_NOT_JSON"},
		{"not an object", http.MethodPost, "/test/echo", `[1]`, 400, "M_NOT_JSON"},
		{"wrong type", http.MethodPost, "/test/echo", `{"text":5}`, 400, "M_BAD_JSON"},
		{"too large", http.MethodPost, "/test/echo", `{"text":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, 413, "M_TOO_LARGE"},
		{"GET is not routed", http.MethodGet, "/test/echo", ``, 0, ""}, // 0: any 4xx
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+PathPrefix+tc.path, strings.NewReader(tc.body))
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			if tc.status == 0 && res.StatusCode >= 400 && res.StatusCode < 500 {
				return
			}
			if res.StatusCode != tc.status || (tc.code != "" && body["errcode"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", res.StatusCode, body, tc.status, tc.code)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	tests := []struct {
		name         string
		serverSecret string
		clientSecret string
		path         string
		wantStatus   int
	}{
		{"right secret", secret, secret, PathPrefix + "/test/echo", 200},
		{"no secret", secret, "", PathPrefix + "/test/echo", 401},
		{"wrong secret", secret, "0123456789abcdef-secreT", PathPrefix + "/test/echo", 401},
		{"prefix of the secret", secret, secret[:10], PathPrefix + "/test/echo", 401},
		{"unknown path still refused", secret, "", PathPrefix + "/nope", 401},
		{"bare prefix refused", secret, "", PathPrefix, 401},
		{"health open", secret, "", "/health", 200},
		{"no secret configured", "", "", PathPrefix + "/test/echo", 200},
		{"no secret configured, client sends one", "", "whatever", PathPrefix + "/test/echo", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := newServer(t, tc.serverSecret, func(r *mux.Router) {
				Handle(r, "/test/echo", func(context.Context, *echoReq) (*echoResp, error) {
					calls.Add(1)
					return &echoResp{}, nil
				})
			})
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(`{}`))
			if tc.clientSecret != "" {
				req.Header.Set(SecretHeader, tc.clientSecret)
			}
			method := http.MethodPost
			if tc.path == "/health" {
				method = http.MethodGet
			}
			req.Method = method
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == 401 {
				var body map[string]any
				_ = json.NewDecoder(res.Body).Decode(&body)
				if body["errcode"] != "M_UNAUTHORIZED" || calls.Load() != 0 {
					t.Fatalf("body %v, handler calls %d", body, calls.Load())
				}
			}
		})
	}
	// Through the Client the refusal is a MatrixError like any other.
	srv := newServer(t, secret, func(r *mux.Router) {
		Handle(r, "/test/echo", func(context.Context, *echoReq) (*echoResp, error) { return &echoResp{}, nil })
	})
	me := matrixErr(t, NewClient(srv.URL, "wrong-secret-wrong", WithHTTPClient(srv.Client())).
		Call(context.Background(), "/test/echo", echoReq{}, nil, true))
	if me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("%d %s", me.Status, me.ErrCode)
	}
}

// flakyServer fails the first `failures` calls the way `mode` says, then answers.
func flakyServer(t *testing.T, mode string, failures int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n <= failures {
			switch mode {
			case "drop": // the connection breaks before any answer
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			case "proxy 503":
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("<html>upstream unavailable</html>"))
				return
			case "matrix error":
				httputil.WriteError(w, httputil.NotFound("nope"))
				return
			case "teapot":
				w.WriteHeader(http.StatusTeapot)
				return
			}
		}
		httputil.WriteJSON(w, 200, echoResp{Calls: n})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRetryOnlyWhenIdempotent(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		failures   int64
		idempotent bool
		wantErr    bool
		wantCalls  int64
	}{
		{"query retried after dropped connections", "drop", 2, true, false, 3},
		{"write not retried after a dropped connection", "drop", 2, false, true, 1},
		{"query retried after a proxy 503", "proxy 503", 1, true, false, 2},
		{"write not retried after a proxy 503", "proxy 503", 1, false, true, 1},
		{"query gives up after the retries", "drop", 10, true, true, 4},
		{"matrix error never retried", "matrix error", 1, true, true, 1},
		{"other status not retried", "teapot", 1, true, true, 1},
		{"success at once", "drop", 0, false, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := flakyServer(t, tc.mode, tc.failures)
			c := NewClient(srv.URL, "", WithRetries(3, time.Millisecond))
			var resp echoResp
			err := c.Call(context.Background(), "/x", echoReq{}, &resp, tc.idempotent)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Fatalf("server saw %d calls, want %d", got, tc.wantCalls)
			}
			if err == nil && resp.Calls != tc.wantCalls {
				t.Fatalf("answer of call %d, want %d", resp.Calls, tc.wantCalls)
			}
			if tc.mode == "drop" || tc.mode == "proxy 503" {
				if err != nil && !IsTransportError(err) {
					t.Fatalf("%v is not a transport error", err)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		httputil.WriteJSON(w, 200, echoResp{})
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	tests := []struct {
		name       string
		clientTO   time.Duration
		ctxTO      time.Duration // 0: no deadline on the context
		idempotent bool
		max        time.Duration
	}{
		{"client default bounds a write", 80 * time.Millisecond, 0, false, 2 * time.Second},
		{"client default bounds a query and its retries", 80 * time.Millisecond, 0, true, 2 * time.Second},
		{"context deadline wins over the default", time.Hour, 80 * time.Millisecond, true, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(srv.URL, "", WithTimeout(tc.clientTO), WithRetries(3, time.Millisecond))
			ctx := context.Background()
			if tc.ctxTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTO)
				defer cancel()
			}
			start := time.Now()
			err := c.Call(ctx, "/slow", echoReq{}, nil, tc.idempotent)
			if err == nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline error", err)
			}
			if d := time.Since(start); d > tc.max {
				t.Fatalf("call took %s", d)
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		listen, secret string
		ok             bool
	}{
		{"127.0.0.1:7781", "", true},
		{"[::1]:7781", "", true},
		{"localhost:7781", "", true},
		{":7781", "", false},
		{"0.0.0.0:7781", "", false},
		{"10.1.2.3:7781", "", false},
		{"userapi:7781", "", false},
		{":7781", "0123456789abcdef", true},
		{"nonsense", "", false},
	}
	for _, tc := range tests {
		if err := CheckListen(tc.listen, tc.secret); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, %q) = %v, want ok %v", tc.listen, tc.secret, err, tc.ok)
		}
	}
}
