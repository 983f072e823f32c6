// Package inthttptest serves a roomserver implementation over its internal HTTP API
// (arrows 2 and 4, as axon-roomserver does) for other components' tests, so the same tests
// run against the direct implementation and the inthttp client.
package inthttptest

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
	rsinthttp "github.com/axon-matrix/axon/roomserver/inthttp"
)

// Secret guards the test server's routes (global.internal_api_secret).
const Secret = "roomserver-inthttptest-secret"

// Serve puts a on an httptest server behind the internal secret, as the polylith binary
// does, and returns the inthttp client that reaches it. The server closes with the test.
func Serve(t testing.TB, a api.RoomserverAPI) api.RoomserverAPI {
	t.Helper()
	root := mux.NewRouter()
	rsinthttp.AddRoutes(root.PathPrefix(inthttp.PathPrefix).Subrouter(), a)
	srv := httptest.NewServer(inthttp.RequireSecret(Secret, root))
	t.Cleanup(srv.Close)
	return rsinthttp.NewClient(srv.URL, Secret, inthttp.WithHTTPClient(srv.Client()))
}
