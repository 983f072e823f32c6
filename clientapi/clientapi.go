// Package clientapi wires the clientapi component (Tier 1): the public client-server
// endpoints other than sync's and media's, which call the userapi for accounts and access
// tokens and the roomserver for rooms (arrow 4), and the topic 4 consumer (roomserver →
// clientapi membership changes) that tells the profile endpoints which rooms to update.
//
// User-interactive-auth sessions and shared-secret registration nonces live in the
// clientapi's own tables (clientapi/storage), not in memory, so the several clientapi
// instances of the polylith can continue each other's sessions.
package clientapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/clientapi/consumers"
	"github.com/axon-matrix/axon/clientapi/routing"
	"github.com/axon-matrix/axon/clientapi/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Config is what the clientapi needs from the configuration file.
type Config = routing.Config

// Routers are where AddPublicRoutes puts its routes.
type Routers = routing.Routers

// ClientAPI is a running clientapi: its storage and the handlers.
type ClientAPI struct {
	cfg Config
	db  *storage.Database
}

// New migrates the clientapi's tables in db.
func New(ctx context.Context, cfg Config, db *sqlutil.DB) (*ClientAPI, error) {
	s, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	return &ClientAPI{cfg: cfg, db: s}, nil
}

// AddPublicRoutes registers the public routes on routers.
func (c *ClientAPI) AddPublicRoutes(routers Routers, userAPI userapi.UserAPI, rsAPI rsapi.RoomserverAPI) {
	routing.Setup(routers, c.cfg, userAPI, rsAPI, c.db)
}

// RunMembershipConsumer consumes topic 4 (topic is its full, prefixed name) until ctx is
// done.
func (c *ClientAPI) RunMembershipConsumer(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumers.NewMembershipConsumer(c.db, c.cfg.ServerName).Run(ctx, consumer, topic)
}

// NewSynapseAdminRouter returns a router for the /_synapse/admin paths (shared-secret
// registration), with the same M_UNRECOGNIZED answers as the process base's routers, and
// the subrouter to pass as Routers.SynapseAdmin. Serve it with WithSynapseAdmin.
func NewSynapseAdminRouter() (root, admin *mux.Router) {
	root = mux.NewRouter().SkipClean(true).UseEncodedPath()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	root.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	return root, root.PathPrefix("/_synapse/admin").Subrouter()
}

// WithSynapseAdmin serves /_synapse/ paths from admin and everything else from public.
func WithSynapseAdmin(public http.Handler, admin http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_synapse/") {
			admin.ServeHTTP(w, r)
			return
		}
		public.ServeHTTP(w, r)
	})
}
