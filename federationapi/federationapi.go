// Package federationapi wires the federationapi component (ARCHITECTURE.md §1, tier 1):
// the public server-server API other homeservers call. Built so far: this server's keys
// and the notary (/_matrix/key/v2/…, answered by the serverkeyapi over arrow 11),
// /_matrix/federation/v1/version, and the X-Matrix authentication every other federation
// endpoint goes through (routing.Authenticate, keys from the serverkeyapi — arrow 11), and
// with a roomserver (Config.RoomServer, arrow 3) /send, /event, /state, /state_ids,
// /get_missing_events, make_join and send_join, and /query/directory; with a userapi
// (Config.UserAPI) /query/profile. Every other /_matrix/federation path answers 404
// M_UNRECOGNIZED until it is built.
package federationapi

import (
	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/federationapi/routing"
	"github.com/axon-matrix/axon/internal/setup"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// Routers are the public routers the federationapi registers on: Federation serves
// /_matrix/federation, Key serves /_matrix/key (setup.Base's PublicFederationAPIMux and
// PublicKeyAPIMux).
type Routers struct {
	Federation *mux.Router
	Key        *mux.Router
}

// Config is what the federationapi needs.
type Config = routing.Config

// AddPublicRoutes registers the federationapi's public routes; keys is the serverkeyapi
// (the direct implementation in the monolith, serverkeyapi/inthttp.Client in the polylith).
func AddPublicRoutes(r Routers, cfg Config, keys skapi.ServerKeyAPI) {
	routing.Setup(setup.FullPathRouter(r.Federation), setup.FullPathRouter(r.Key), cfg, keys)
}
