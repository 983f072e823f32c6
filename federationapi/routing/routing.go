// Package routing holds the federationapi's HTTP handlers: the key endpoints (keys.go),
// /version (version.go) and the X-Matrix authentication of federation requests (auth.go).
package routing

import (
	"net/http"

	"github.com/gorilla/mux"

	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// DefaultMaxBodyBytes bounds a federation request body (a transaction holds at most 50
// PDUs of 64 KiB and 100 EDUs).
const DefaultMaxBodyBytes = 16 << 20

// Config is what the handlers need.
type Config struct {
	// ServerName is global.server_name: requests must be addressed to it.
	ServerName string
	// MaxBodyBytes bounds request bodies (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
}

// Setup registers the federationapi's routes, by their full paths, on fed (for
// /_matrix/federation) and key (for /_matrix/key): routers such as setup.FullPathRouter
// gives, which answer a known path with the wrong method 405 M_UNRECOGNIZED. Paths not
// registered here answer 404 M_UNRECOGNIZED (the base router).
func Setup(fed, key *mux.Router, cfg Config, keys skapi.ServerKeyAPI) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	k := &keyHandlers{keys: keys, maxBody: cfg.MaxBodyBytes}
	key.Handle("/_matrix/key/v2/server", http.HandlerFunc(k.serverKeys)).Methods(http.MethodGet)
	// Deprecated form with a key ID: the same answer, with every key (as Synapse does).
	key.Handle("/_matrix/key/v2/server/{keyID}", http.HandlerFunc(k.serverKeys)).Methods(http.MethodGet)
	key.Handle("/_matrix/key/v2/query/{serverName}", http.HandlerFunc(k.queryOne)).Methods(http.MethodGet)
	key.Handle("/_matrix/key/v2/query", http.HandlerFunc(k.queryMany)).Methods(http.MethodPost)

	// Unauthenticated by the spec.
	fed.Handle("/_matrix/federation/v1/version", http.HandlerFunc(version)).Methods(http.MethodGet)
}
