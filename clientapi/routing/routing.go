// Package routing holds the clientapi's public handlers: the /_matrix/client/{r0,v3}
// endpoints that are neither sync's nor media's (ARCHITECTURE.md §1), the well-known
// document and Synapse's shared-secret registration admin endpoint. Handlers validate the
// request, check the access token with the userapi (the "every Tier 1 → userapi" arrow) and
// call the userapi or, for rooms, the roomserver (arrow 4).
package routing

import (
	"context"
	"errors"
	"hash/fnv"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/clientapi/storage"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Body limits: event content is capped at the spec's 65,536-byte event size, other
// request bodies at 1 MiB.
const (
	contentLimit = 65536
	bodyLimit    = 1 << 20
)

// Config is what the handlers need from the configuration.
type Config struct {
	// ServerName is the homeserver's name, the domain part of local user IDs.
	ServerName string
	// RateLimits are global.rate_limits; the zero value (Enabled false) limits nothing.
	RateLimits config.RateLimits
	// TrustedProxies are global.trusted_proxies: X-Forwarded-For is read only from them.
	TrustedProxies []netip.Prefix
	// PublicBaseURL is the client API's public base URL, e.g. "https://matrix.example.org",
	// advertised in /.well-known/matrix/client and the login response.
	PublicBaseURL string
	// RegistrationMode is config.RegistrationOpen, RegistrationToken or RegistrationClosed
	// (client_api.registration_mode): who may use POST /register. Shared-secret
	// registration stays open in every mode when a secret is set. Empty means closed.
	RegistrationMode string
	// GuestsEnabled allows kind=guest registration (off by default).
	GuestsEnabled bool
	// RegistrationSharedSecret enables /_synapse/admin/v1/register when non-empty.
	RegistrationSharedSecret string
	// DefaultRoomVersion is what /createRoom makes without room_version and what
	// /capabilities advertises (global.default_room_version); "" means
	// matrix.DefaultRoomVersion.
	DefaultRoomVersion string
}

// defaultRoomVersion is the configured default room version.
func (c Config) defaultRoomVersion() string {
	if c.DefaultRoomVersion == "" {
		return string(matrix.DefaultRoomVersion)
	}
	return c.DefaultRoomVersion
}

// Routes holds the handlers' dependencies.
type Routes struct {
	cfg     Config
	userAPI userapi.UserAPI
	rsAPI   rsapi.RoomserverAPI
	// keyAPI is arrow 14 (clientapi → keyserver, keys.go); nil leaves the key endpoints out.
	keyAPI keyapi.KeyServerAPI
	// eduAPI is arrow 6 (clientapi → eduserver, edu.go); nil leaves the EDU endpoints out.
	eduAPI eduapi.EDUServerAPI
	db     *storage.Database
	uia    *auth.UIA
	now    func() time.Time
	paths  []routerPath
	// clientRouter is Routers.Client and clientIndex the route index its routes go through.
	clientRouter *mux.Router
	clientIndex  *setup.RouteIndex
	// limits are the rate limits (ratelimit.go).
	limits limits
	// userLocks serialise this process's read-modify-write updates of one user's push
	// rules and tags.
	userLocks [64]sync.Mutex
	// appServices are the application services' registrations (nil: none) and asAPI the
	// appservice component (arrow 10); asTokens turns as_tokens into devices
	// (appservice.go).
	appServices *asapi.Registrations
	asAPI       asapi.AppServiceAPI
	asTokens    *asapi.TokenAuth
}

// lockUser takes the lock for userID's read-modify-write account data updates and returns
// its unlock.
func (rt *Routes) lockUser(userID string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	m := &rt.userLocks[h.Sum32()%uint32(len(rt.userLocks))]
	m.Lock()
	return m.Unlock
}

// access says who may call an endpoint.
type access int

const (
	public  access = iota // no access token
	user                  // a logged-in non-guest user
	guestOK               // a logged-in user, guests included
)

// handlerFunc handles one request; dev is nil on public endpoints. A nil error means 200
// with resp as JSON.
type handlerFunc func(r *http.Request, dev *userapi.Device) (resp any, err error)

// challengeError carries a UIA 401 challenge out of a handler.
type challengeError struct{ ch *auth.Challenge }

func (c challengeError) Error() string { return "user-interactive authentication required" }

// Routers are where the routes go; each is a router (or subrouter) whose paths are
// relative to its prefix, as internal/setup's Base provides them.
type Routers struct {
	// Client serves /_matrix/client (setup.Base.PublicClientAPIMux).
	Client *mux.Router
	// WellKnown serves /.well-known/matrix (setup.Base.PublicWellKnownAPIMux).
	WellKnown *mux.Router
	// SynapseAdmin serves /_synapse/admin (shared-secret registration); nil leaves it out.
	SynapseAdmin *mux.Router
}

// Option gives Setup an optional dependency.
type Option func(*Routes)

// WithEDUServer gives the handlers the eduserver (arrow 6: typing, receipts, read
// markers, send-to-device); without it those endpoints are left out.
func WithEDUServer(e eduapi.EDUServerAPI) Option { return func(rt *Routes) { rt.eduAPI = e } }

// Setup registers every clientapi route and returns the handlers. CORS and OPTIONS
// preflights, unknown paths (404 M_UNRECOGNIZED) and wrong methods (405 M_UNRECOGNIZED)
// are the process base's (internal/setup) job.
func Setup(routers Routers, cfg Config, userAPI userapi.UserAPI, rsAPI rsapi.RoomserverAPI, keyAPI keyapi.KeyServerAPI, db *storage.Database, opts ...Option) *Routes {
	rt := &Routes{cfg: cfg, userAPI: userAPI, rsAPI: rsAPI, keyAPI: keyAPI, db: db, now: time.Now,
		limits: newLimits(cfg),
		uia:    &auth.UIA{DB: db, UserAPI: userAPI, ServerName: cfg.ServerName}}
	for _, o := range opts {
		o(rt)
	}
	rt.clientRouter, rt.clientIndex = routers.Client, setup.NewRouteIndex(routers.Client, "/_matrix/client")
	rt.register(routers)
	rt.addKeyRoutes(routers)
	rt.addEDURoutes(routers)
	rt.addMethodFallbacks()
	return rt
}

// client registers path under both /_matrix/client/r0 and /_matrix/client/v3.
func (rt *Routes) client(router *mux.Router, method, path string, a access, h handlerFunc) {
	for _, prefix := range []string{"/r0", "/v3"} {
		rt.route(router, method, prefix+path, a, h)
	}
}

// route registers one method and path on router; the client router's routes go through
// its route index, so a request tries the routes of its own group (say /v3/rooms) only.
func (rt *Routes) route(router *mux.Router, method, path string, a access, h handlerFunc) {
	if router == rt.clientRouter {
		router, path = rt.clientIndex.Router(path)
	}
	router.Handle(path, rt.wrap(a, h)).Methods(method)
	rt.paths = append(rt.paths, routerPath{router, path})
}

type routerPath struct {
	router *mux.Router
	path   string
}

// addMethodFallbacks answers a known path with the wrong method 405 M_UNRECOGNIZED.
// gorilla/mux loses the method mismatch when a subrouter holds several routes (a later
// route's failed path match hides it, and the request ends as 404), so each path gets a
// method-less route after all the real ones.
func (rt *Routes) addMethodFallbacks() {
	seen := map[routerPath]bool{}
	wrongMethod := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
	})
	for _, p := range rt.paths {
		if !seen[p] {
			seen[p] = true
			p.router.Handle(p.path, wrongMethod)
		}
	}
}

func (rt *Routes) wrap(a access, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dev *userapi.Device
		if a != public {
			token, me := httputil.AccessToken(r)
			if me != nil {
				httputil.WriteError(w, me)
				return
			}
			d, err := rt.authenticate(r, token) // as_tokens first (appservice.go), then the userapi
			if err != nil {
				rt.writeError(w, r, err)
				return
			}
			if a == user && d.AccountType == userapi.AccountTypeGuest {
				httputil.WriteJSON(w, http.StatusForbidden, map[string]string{
					"errcode": "M_GUEST_ACCESS_FORBIDDEN", "error": "Guest access is not allowed for this endpoint"})
				return
			}
			dev = d
		}
		resp, err := h(r, dev)
		if err != nil {
			rt.writeError(w, r, err)
			return
		}
		httputil.WriteJSON(w, http.StatusOK, resp)
	})
}

func (rt *Routes) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ce challengeError
	if errors.As(err, &ce) {
		httputil.WriteJSON(w, http.StatusUnauthorized, ce.ch)
		return
	}
	var me *httputil.MatrixError
	if !errors.As(err, &me) && !errors.Is(err, context.Canceled) {
		setup.LoggerFrom(r.Context()).WithError(err).Error("clientapi: request failed")
	}
	httputil.WriteError(w, err)
}

// runUIA runs one round of user-interactive auth; a nil error means a flow is complete.
func (rt *Routes) runUIA(ctx context.Context, op, userID string, flows []auth.Flow, d *auth.Dict) error {
	return rt.runUIARequest(ctx, &auth.Request{Operation: op, UserID: userID, Flows: flows, Auth: d})
}

// runUIARequest is runUIA for a caller that reads req.SessionID afterwards.
func (rt *Routes) runUIARequest(ctx context.Context, req *auth.Request) error {
	done, ch, err := rt.uia.Check(ctx, req)
	if err != nil {
		return err
	}
	if !done {
		return challengeError{ch}
	}
	return nil
}

var passwordFlows = []auth.Flow{{Stages: []string{auth.StagePassword}}}

// readJSON decodes a JSON-object body of at most limit bytes into v.
func readJSON(r *http.Request, limit int64, v any) error {
	if me := httputil.ReadJSONObject(r, limit, v); me != nil {
		return me
	}
	return nil
}

// readOptionalJSON is readJSON for endpoints whose body may be empty (treated as {}).
func readOptionalJSON(r *http.Request, limit int64, v any) error {
	raw, me := httputil.ReadBody(r, limit)
	if me != nil {
		if me.ErrCode == "M_NOT_JSON" { // no body at all
			return nil
		}
		return me
	}
	if len(raw) == 0 {
		return nil
	}
	if me := httputil.DecodeJSONObject(raw, v); me != nil {
		return me
	}
	return nil
}

// empty is the {} response.
var empty = struct{}{}
