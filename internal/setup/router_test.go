package setup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/config"
)

// FullPathRouter: routes registered with full paths are served below the client router
// with the variables unescaped (a %2F stays inside its variable), and everything else keeps
// the base's M_UNRECOGNIZED answers.
func TestFullPathRouter(t *testing.T) {
	cfg := config.Defaults(t.TempDir())
	base, err := NewBase(cfg, config.ComponentSyncAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Shutdown(context.Background())
	r := FullPathRouter(base.PublicClientAPIMux)
	// Registered like the syncapi's: a subrouter per prefix, several routes each.
	for _, prefix := range []string{"/_matrix/client/v3", "/_matrix/client/r0"} {
		s := r.PathPrefix(prefix).Subrouter()
		s.HandleFunc("/sync", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodGet)
		s.HandleFunc("/rooms/{roomId}/event/{eventId}", func(w http.ResponseWriter, req *http.Request) {
			_ = json.NewEncoder(w).Encode(mux.Vars(req))
		}).Methods(http.MethodGet)
	}
	h := base.PublicHandler()
	tests := []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/_matrix/client/v3/rooms/!r:x/event/$e", 200, `{"eventId":"$e","roomId":"!r:x"}`},
		{"GET", "/_matrix/client/v3/rooms/!r:x/event/$a%2Fb", 200, `{"eventId":"$a/b","roomId":"!r:x"}`},
		{"GET", "/_matrix/client/v3/rooms/!r%3Ax/event/$a%25b", 200, `{"eventId":"$a%b","roomId":"!r:x"}`},
		{"GET", "/_matrix/client/v3/rooms/!r:x/nope", 404, `M_UNRECOGNIZED`},
		{"POST", "/_matrix/client/v3/rooms/!r:x/event/$e", 405, `M_UNRECOGNIZED`},
		{"POST", "/_matrix/client/r0/sync", 405, `M_UNRECOGNIZED`},
		{"GET", "/_matrix/client/r0/sync", 200, ``},
		{"GET", "/_matrix/client/v4/sync", 404, `M_UNRECOGNIZED`},
		{"GET", "/_matrix/client/v3/rooms/!r:x/event/$e/extra", 404, `M_UNRECOGNIZED`},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
}

// unescapeVars: escaped variables are unescaped, bad percent-encoding is 400, and a
// request matchEscaped rewrote reaches the handler with the client's URL.
func TestUnescapeVars(t *testing.T) {
	tests := []struct {
		path   string // the (escaped) path the router matched
		vars   map[string]string
		status int
		want   string
	}{
		{"/rooms/!r:x", map[string]string{"roomId": "!r:x"}, 200, `{"roomId":"!r:x"}`},
		{"/rooms/a%2Fb", map[string]string{"roomId": "a%2Fb"}, 200, `{"roomId":"a/b"}`},
		{"/rooms/a%25b", map[string]string{"roomId": "a%25b"}, 200, `{"roomId":"a%b"}`},
		{"/rooms/a%zz", map[string]string{"roomId": "a%zz"}, 400, `M_INVALID_PARAM`},
	}
	for _, tc := range tests {
		h := unescapeVars(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(mux.Vars(r))
		}))
		req := mux.SetURLVars(httptest.NewRequest(http.MethodGet, "/x", nil), tc.vars)
		req.URL.Path = tc.path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s, want %d %s", tc.path, rec.Code, rec.Body, tc.status, tc.want)
		}
	}

	var seen *http.Request
	root := newRootRouter()
	root.HandleFunc("/rooms/{roomId}/event/{eventId}", func(_ http.ResponseWriter, r *http.Request) { seen = r })
	for _, target := range []string{"/rooms/!r:x/event/$e", "/rooms/!r%3Ax/event/$a%2Fb"} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		matchEscaped(root).ServeHTTP(httptest.NewRecorder(), req)
		if seen == nil || seen.URL.Path != req.URL.Path || seen.URL.RawPath != req.URL.RawPath || seen.URL.EscapedPath() != req.URL.EscapedPath() {
			t.Errorf("%s: the handler got URL %+v, want %+v", target, seen.URL, req.URL)
		}
	}
}
