// Package inthttptest serves an eduserver implementation over its internal HTTP API
// (arrow 6, as axon-edu-server does) for other components' tests, so the same tests run
// against the direct implementation and the inthttp client.
package inthttptest

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/eduserver/api"
	eduinthttp "github.com/axon-matrix/axon/eduserver/inthttp"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Secret guards the test server's routes (global.internal_api_secret).
const Secret = "eduserver-inthttptest-secret"

// Serve puts a on an httptest server behind the internal secret, as the polylith binary
// does, and returns the inthttp client that reaches it. The server closes with the test.
func Serve(t testing.TB, a api.EDUServerAPI) api.EDUServerAPI {
	t.Helper()
	root := mux.NewRouter()
	eduinthttp.AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a)
	srv := httptest.NewServer(inthttp.RequireSecret(Secret, root))
	t.Cleanup(srv.Close)
	return eduinthttp.NewClient(srv.URL, Secret, inthttp.WithHTTPClient(srv.Client()))
}
