package setup_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	clientrouting "github.com/axon-matrix/axon/clientapi/routing"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/setup"
	syncrouting "github.com/axon-matrix/axon/syncapi/routing"
)

// realRoutes builds a base with the monolith's real public client routes, registered as
// cmd/axon-monolith does (the syncapi's through FullPathRouter first, then the clientapi's),
// and replaces every handler of a route with methods by one that only reads mux.Vars, so
// what is left to measure or test is the routing. (This external test package may import
// the components' routing packages without an import cycle; nothing else in setup does.)
func realRoutes(tb testing.TB) *setup.Base {
	tb.Helper()
	cfg := config.Defaults(tb.TempDir())
	cfg.Global.Logging.Level = "error"
	base, err := setup.NewBase(cfg, config.ComponentMonolith)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = base.Shutdown(context.Background()) })
	full := setup.FullPathRouter(base.PublicClientAPIMux)
	(&syncrouting.Handlers{}).Register(full)
	clientrouting.Setup(clientrouting.Routers{Client: base.PublicClientAPIMux, WellKnown: base.PublicWellKnownAPIMux,
		SynapseAdmin: base.PublicSynapseAdminMux}, clientrouting.Config{ServerName: "example.org"}, nil, nil, nil, nil)
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Route-Vars", varsString(mux.Vars(r)))
		w.WriteHeader(http.StatusOK)
	})
	for _, router := range []*mux.Router{base.PublicClientAPIMux, base.PublicWellKnownAPIMux, base.PublicSynapseAdminMux, full} {
		_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			if _, err := route.GetMethods(); err == nil && route.GetHandler() != nil {
				route.Handler(stub)
			}
			return nil
		})
	}
	return base
}

// varsString renders vars in a fixed order ("k=v;" sorted by key) for the tests.
func varsString(vars map[string]string) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	s := ""
	for _, k := range keys {
		s += k + "=" + vars[k] + ";"
	}
	return s
}

// benchRoute routes one request through the public root router b.N times.
func benchRoute(b *testing.B, method, target string, want int) {
	h := realRoutes(b).PublicRoot()
	req := httptest.NewRequest(method, target, nil)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != want {
		b.Fatalf("%s %s: %d, want %d", method, target, w.code, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// discardWriter is a ResponseWriter that keeps only the status code.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// The hot paths of a message send and a sync, and the 404 and 405 answers.
func BenchmarkRouteSend(b *testing.B) {
	benchRoute(b, http.MethodPut, "/_matrix/client/v3/rooms/!AbCdEfGhIjKlMnOp:example.org/send/m.room.message/m1712345678.42", 200)
}

func BenchmarkRouteSync(b *testing.B) {
	benchRoute(b, http.MethodGet, "/_matrix/client/v3/sync?since=s123_456&timeout=30000", 200)
}

func BenchmarkRouteState(b *testing.B) {
	benchRoute(b, http.MethodGet, "/_matrix/client/v3/rooms/!AbCdEfGhIjKlMnOp:example.org/state/m.room.member/@alice:example.org", 200)
}

func BenchmarkRouteNotFound(b *testing.B) {
	benchRoute(b, http.MethodGet, "/_matrix/client/v3/rooms/!AbCdEfGhIjKlMnOp:example.org/nope", 404)
}

func BenchmarkRouteWrongMethod(b *testing.B) {
	benchRoute(b, http.MethodPost, "/_matrix/client/v3/rooms/!AbCdEfGhIjKlMnOp:example.org/send/m.room.message/t1", 405)
}
