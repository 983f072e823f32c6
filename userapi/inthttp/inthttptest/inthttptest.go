// Package inthttptest serves a userapi implementation over its internal HTTP API (the
// Tier 1 → userapi arrow, as axon-user-api does) for other components' tests, so the same
// tests run against the direct implementation and the inthttp client.
package inthttptest

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/userapi/api"
	uinthttp "github.com/axon-matrix/axon/userapi/inthttp"
)

// Secret guards the test server's routes (global.internal_api_secret).
const Secret = "userapi-inthttptest-secret"

// Serve puts a on an httptest server behind the internal secret, as the polylith binary
// does, and returns the inthttp client that reaches it. The server closes with the test.
func Serve(t testing.TB, a api.UserAPI) api.UserAPI {
	t.Helper()
	root := mux.NewRouter()
	uinthttp.AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a, Secret)
	srv := httptest.NewServer(inthttp.RequireSecret(Secret, root))
	t.Cleanup(srv.Close)
	return uinthttp.NewClient(srv.URL, Secret, inthttp.WithHTTPClient(srv.Client()))
}
