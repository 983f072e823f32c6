// Package inthttptest serves a keyserver implementation over its internal HTTP API
// (arrows 14 and 16, as axon-key-server does) for other components' tests, so the same
// tests run against the direct implementation and the inthttp client.
package inthttptest

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/keyserver/api"
	ksinthttp "github.com/axon-matrix/axon/keyserver/inthttp"
)

// Secret guards the test server's routes (global.internal_api_secret).
const Secret = "keyserver-inthttptest-secret"

// Serve puts a on an httptest server behind the internal secret, as the polylith binary
// does, and returns the inthttp client that reaches it. The server closes with the test.
func Serve(t testing.TB, a api.KeyServerAPI) api.KeyServerAPI {
	t.Helper()
	root := mux.NewRouter()
	ksinthttp.AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a)
	srv := httptest.NewServer(inthttp.RequireSecret(Secret, root))
	t.Cleanup(srv.Close)
	return ksinthttp.NewClient(srv.URL, Secret, inthttp.WithHTTPClient(srv.Client()))
}
