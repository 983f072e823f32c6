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
	"net"
	"net/url"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/clientapi/consumers"
	"github.com/axon-matrix/axon/clientapi/routing"
	"github.com/axon-matrix/axon/clientapi/storage"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Config is what the clientapi needs from the configuration file.
type Config = routing.Config

// Routers are where AddPublicRoutes puts its routes.
type Routers = routing.Routers

// ConfigFromFile maps the config file's global and client_api sections to the clientapi's
// settings. listen is the address the client API is served on (monolith.http_bind, or
// client_api.public_listen in the polylith): with no client_api.public_base_url set, the
// advertised base URL is http://localhost:<its port>.
func ConfigFromFile(cfg *config.Config, listen string) Config {
	c := Config{
		ServerName:               cfg.Global.ServerName,
		PublicBaseURL:            cfg.ClientAPI.PublicBaseURL,
		RegistrationMode:         cfg.ClientAPI.RegistrationMode,
		GuestsEnabled:            cfg.ClientAPI.GuestAccess,
		RegistrationSharedSecret: cfg.ClientAPI.RegistrationSharedSecret,
	}
	c.DefaultRoomVersion = cfg.Global.DefaultRoomVersion
	c.RateLimits, c.TrustedProxies = cfg.Global.RateLimits, cfg.Global.TrustedProxyPrefixes()
	if c.PublicBaseURL == "" {
		port := "8008"
		if _, p, err := net.SplitHostPort(listen); err == nil && p != "" && p != "0" {
			port = p
		}
		c.PublicBaseURL = (&url.URL{Scheme: "http", Host: net.JoinHostPort("localhost", port)}).String()
	}
	return c
}

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

// Option gives AddPublicRoutes an optional dependency.
type Option = routing.Option

// WithEDUServer gives the clientapi the eduserver (arrow 6): typing, receipts, read
// markers and send-to-device. Without it those endpoints are left out (404 M_UNRECOGNIZED).
func WithEDUServer(e eduapi.EDUServerAPI) Option { return routing.WithEDUServer(e) }

// WithAppServices gives the clientapi the application services' registrations (as_token
// authentication, ?user_id= masquerading, m.login.application_service registration,
// exclusive namespaces) and the appservice component (arrow 10: the ping).
func WithAppServices(regs *asapi.Registrations, as asapi.AppServiceAPI) Option {
	return routing.WithAppServices(regs, as)
}

// AddPublicRoutes registers the public routes on routers.
// keyAPI (arrow 14: the /keys endpoints and device deletions) may be nil, which leaves
// the key endpoints out (404 M_UNRECOGNIZED).
func (c *ClientAPI) AddPublicRoutes(routers Routers, userAPI userapi.UserAPI, rsAPI rsapi.RoomserverAPI, keyAPI keyapi.KeyServerAPI, opts ...Option) {
	routing.Setup(routers, c.cfg, userAPI, rsAPI, keyAPI, c.db, opts...)
}

// RunMembershipConsumer consumes topic 4 (topic is its full, prefixed name) until ctx is
// done.
func (c *ClientAPI) RunMembershipConsumer(ctx context.Context, consumer eventlog.Consumer, topic string) error {
	return consumers.NewMembershipConsumer(c.db, c.cfg.ServerName).Run(ctx, consumer, topic)
}
