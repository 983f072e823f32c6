// Package inthttptest serves an appservice implementation over its internal HTTP API
// (arrow 10, as axon-appservice does) for other components' tests, so the same tests run
// against the direct implementation and the inthttp client.
package inthttptest

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/appservice/api"
	asinthttp "github.com/axon-matrix/axon/appservice/inthttp"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Secret guards the test server's routes (global.internal_api_secret).
const Secret = "appservice-inthttptest-secret"

// Serve puts a on an httptest server behind the internal secret, as the polylith binary
// does, and returns the inthttp client that reaches it. The server closes with the test.
func Serve(t testing.TB, a api.AppServiceAPI) api.AppServiceAPI {
	t.Helper()
	root := mux.NewRouter()
	asinthttp.AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a)
	srv := httptest.NewServer(inthttp.RequireSecret(Secret, root))
	t.Cleanup(srv.Close)
	return asinthttp.NewClient(srv.URL, Secret, inthttp.WithHTTPClient(srv.Client()))
}
