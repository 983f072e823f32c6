package setup

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

func TestRouteIndexKeys(t *testing.T) {
	templates := []struct {
		path, key string
		ok        bool
	}{
		{"/v3/rooms/{roomId}/send/{eventType}/{txnId}", "v3/rooms", true},
		{"/v3/sync", "v3/sync", true},
		{"/v3/pushrules/", "v3/pushrules", true},
		{"/versions", "versions", true},
		{"/v3/{x}/y", "", false},
		{"/{v}/rooms", "", false},
		{"v3/sync", "", false},
	}
	for _, tc := range templates {
		if key, ok := templateKey(tc.path); key != tc.key || ok != tc.ok {
			t.Errorf("templateKey(%q) = %q %v, want %q %v", tc.path, key, ok, tc.key, tc.ok)
		}
	}
	requests := []struct{ rel, key string }{
		{"/v3/rooms/!r:x/send/m.room.message/t", "v3/rooms"},
		{"/v3/sync", "v3/sync"},
		{"/v3/pushrules/", "v3/pushrules"},
		{"/versions", "versions"},
		{"/", ""},
		{"", "\x00"},
		{"foo/v3", "\x00"},
	}
	for _, tc := range requests {
		if key := requestKey(tc.rel); key != tc.key {
			t.Errorf("requestKey(%q) = %q, want %q", tc.rel, key, tc.key)
		}
	}
}

// A RouteIndex answers as the routes registered on parent itself would: registration
// order within a group, 405 for a known path with the wrong method, 404 otherwise, and
// routes without two leading literal segments after the group's.
func TestRouteIndex(t *testing.T) {
	root := newRootRouter()
	parent := root.PathPrefix("/_matrix/client").Subrouter()
	x := NewRouteIndex(parent, "/_matrix/client")
	handle := func(name, method, path string) {
		r, full := x.Router(path)
		route := r.HandleFunc(full, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", name)
			w.Header().Set("X-Vars", mux.Vars(r)["a"]+","+mux.Vars(r)["b"])
		})
		if method != "" {
			route.Methods(method)
		}
	}
	handle("first", "GET", "/v3/rooms/{a}/x")
	handle("second", "GET", "/v3/rooms/{a}/{b}") // after first: first wins on /x
	handle("span", "PUT", "/v3/rooms/{a}/state/{b:.*}")
	handle("versions", "GET", "/versions")
	handle("var", "GET", "/v3/{a}/z")
	handle("other", "POST", "/v3/rooms/{a}/x")
	tests := []struct {
		method, path string
		status       int
		handler      string
		vars         string
	}{
		{"GET", "/_matrix/client/v3/rooms/r/x", 200, "first", "r,"},
		{"POST", "/_matrix/client/v3/rooms/r/x", 200, "other", "r,"},
		{"GET", "/_matrix/client/v3/rooms/r/y", 200, "second", "r,y"},
		{"GET", "/_matrix/client/v3/rooms/a%2Fb/y%25", 200, "second", "a/b,y%"},
		{"PUT", "/_matrix/client/v3/rooms/r/state/t/k/l", 200, "span", "r,t/k/l"},
		{"DELETE", "/_matrix/client/v3/rooms/r/x", 405, "", ""},
		{"PUT", "/_matrix/client/v3/rooms/r/y", 405, "", ""},
		{"GET", "/_matrix/client/v3/rooms/r/y/z/w", 404, "", ""},
		{"GET", "/_matrix/client/versions", 200, "versions", ","},
		{"GET", "/_matrix/client/versions/", 404, "", ""},
		{"GET", "/_matrix/client/v3/q/z", 200, "var", "q,"},
		{"GET", "/_matrix/client/v3/rooms/z", 200, "var", "rooms,"}, // the v3/rooms group knows no such path
		{"GET", "/_matrix/clientv3/rooms/r/x", 404, "", ""},
	}
	h := matchEscaped(root)
	for _, tc := range tests {
		rec := httpRecorder(h, tc.method, tc.path)
		if rec.Code != tc.status || rec.Header().Get("X-Handler") != tc.handler ||
			(tc.status == 200 && rec.Header().Get("X-Vars") != tc.vars) {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", tc.method, tc.path, rec.Code,
				rec.Header().Get("X-Handler"), rec.Header().Get("X-Vars"), tc.status, tc.handler, tc.vars)
		}
	}
}

func httpRecorder(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}
