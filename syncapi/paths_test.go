package syncapi_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/syncapi"
	"github.com/axon-matrix/axon/syncapi/api"
)

// registeredRoutes returns the method and path template of every handler route the
// syncapi registers, on a router built like setup's public root (escaped paths, no
// cleaning), plus that router.
func registeredRoutes(t *testing.T) ([]api.Route, *mux.Router) {
	t.Helper()
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	(&syncapi.SyncAPI{}).AddPublicRoutes(r)
	var out []api.Route
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if route.GetHandler() == nil {
			return nil // a PathPrefix subrouter, not a route
		}
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s registers no method; the list in syncapi/api needs one", tpl)
			return nil
		}
		for _, m := range methods {
			out = append(out, api.Route{Method: m, Path: tpl})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, r
}

func sortRoutes(rs []api.Route) []api.Route {
	rs = append([]api.Route(nil), rs...)
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Method < rs[j].Method
	})
	return rs
}

var templateVar = regexp.MustCompile(`\{[^}]+\}`)

// concrete fills a path template's variables with a room ID whose ':' is escaped and
// whose '/' is escaped, as clients send them.
func concrete(tpl string) string {
	return templateVar.ReplaceAllString(tpl, "%21a%2Fb%3Aexample.org")
}

// TestPublicRoutesAreTheRegisteredRoutes proves that syncapi/api.PublicRoutes, the list
// client-api-proxy routes on, is exactly what syncapi/routing registers.
func TestPublicRoutesAreTheRegisteredRoutes(t *testing.T) {
	got, router := registeredRoutes(t)
	want := api.PublicRoutes()
	g, w := sortRoutes(got), sortRoutes(want)
	if len(g) != len(w) {
		t.Fatalf("registered routes %v\nsyncapi/api.PublicRoutes %v", g, w)
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("registered route %v, syncapi/api lists %v\nregistered %v\nlisted %v", g[i], w[i], g, w)
		}
	}
	// Every registered route's paths are sync paths, and every listed route is served.
	for _, rt := range want {
		p := concrete(rt.Path)
		if !api.IsSyncPath(p) {
			t.Errorf("IsSyncPath(%q) = false for the registered route %s", p, rt.Path)
		}
		req := httptest.NewRequest(rt.Method, p, nil)
		var m mux.RouteMatch
		if !router.Match(req, &m) || m.MatchErr != nil {
			t.Errorf("the syncapi router does not serve %s %s (listed as %s)", rt.Method, p, rt.Path)
		}
	}
}

// TestIsSyncPathRejectsOtherPaths: paths near the sync paths that the syncapi does not
// serve are not sync paths, and the syncapi's router agrees.
func TestIsSyncPathRejectsOtherPaths(t *testing.T) {
	_, router := registeredRoutes(t)
	tests := []struct {
		path string
		want bool
	}{
		{"/_matrix/client/v3/sync", true},
		{"/_matrix/client/r0/sync", true},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/messages", true},
		{"/_matrix/client/v3/rooms/%21r%2Fx%3Ahs/event/%24e", true},
		{"/_matrix/client/v3/sync/", false},
		{"/_matrix/client/v3/syncx", false},
		{"/_matrix/client/v1/sync", false},
		{"/_matrix/client/unstable/sync", false},
		{"/_matrix/client/v3/rooms//messages", false},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/send/m.room.message/t1", false},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/state", false},
		{"/_matrix/client/v3/rooms/%21r%3Ahs/messages/x", false},
		{"/_matrix/client/v3/rooms/a/b/messages", false},
		{"/_matrix/client/v3/login", false},
		{"/_matrix/media/v3/upload", false},
		{"/_matrix/federation/v1/send/1", false},
		{"/sync", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.path, "/", "_"), func(t *testing.T) {
			if got := api.IsSyncPath(tt.path); got != tt.want {
				t.Fatalf("IsSyncPath(%q) = %v, want %v", tt.path, got, tt.want)
			}
			if tt.path == "" {
				return
			}
			req := httptest.NewRequest(http.MethodGet, "http://h"+tt.path, nil)
			var m mux.RouteMatch
			served := router.Match(req, &m) && m.MatchErr == nil
			if served != tt.want {
				t.Fatalf("syncapi router serves GET %s: %v; IsSyncPath says %v", tt.path, served, tt.want)
			}
		})
	}
}
