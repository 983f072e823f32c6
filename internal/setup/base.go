// Package setup is the process base every Axon binary shares (ARCHITECTURE.md §4, §8): the
// logger, the Prometheus registry and /metrics, /health, the gorilla/mux routers for the
// public surfaces and the internal API (the transport of arrows 2–13 in the polylith), the
// spec's M_UNRECOGNIZED answer for unknown routes, CORS for browser clients, request IDs,
// the databases components open, and a graceful shutdown on SIGTERM/SIGINT that lets
// in-flight requests finish and then runs shutdown hooks (consumers committing offsets of
// topics 1–6, databases closing) in reverse order.
//
// Routing is cheap on the hot paths (a message send, /sync): the routers match the escaped
// path without recomputing it per route (matchEscaped), a component with many routes
// registers them through a RouteIndex (the clientapi's go into groups looked up by their
// first two path segments), and FullPathRouter (the syncapi's full paths) lets the requests
// it does not serve pass after a few string comparisons. BenchmarkRouteSend and
// BenchmarkRouteSync measure it over the monolith's real routes.
//
// A binary does:
//
//	base, err := setup.NewBase(cfg, config.ComponentMonolith)
//	db, err := base.OpenDatabase(config.ComponentUserAPI)
//	userapi.AddPublicRoutes(base.PublicClientAPIMux, …)
//	base.AddShutdownHook("consumer", func(ctx context.Context) error { … })
//	if _, err := base.ServePublic(cfg.Monolith.HTTPBind); err != nil { … }
//	return base.RunUntilSignal()
package setup

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Base is what one process shares between the components it runs.
type Base struct {
	// Cfg is the loaded, validated configuration.
	Cfg *config.Config
	// Component names the process ("monolith", "userapi", …) in logs and metrics.
	Component string
	// Logger logs with the component field set. Request handlers should prefer
	// LoggerFrom(r.Context()), which also carries the request ID.
	Logger *logrus.Entry
	// Registry is where components register their Prometheus metrics; /metrics serves it.
	Registry *prometheus.Registry

	// PublicClientAPIMux serves /_matrix/client (register paths below it, e.g. "/v3/sync").
	PublicClientAPIMux *mux.Router
	// PublicFederationAPIMux serves /_matrix/federation.
	PublicFederationAPIMux *mux.Router
	// PublicKeyAPIMux serves /_matrix/key.
	PublicKeyAPIMux *mux.Router
	// PublicMediaAPIMux serves /_matrix/media (the authenticated /_matrix/client/v1/media
	// routes go on PublicClientAPIMux).
	PublicMediaAPIMux *mux.Router
	// PublicWellKnownAPIMux serves /.well-known/matrix.
	PublicWellKnownAPIMux *mux.Router
	// PublicSynapseAdminMux serves /_synapse/admin (the Synapse admin API paths that tools
	// and test suites use, e.g. shared-secret registration).
	PublicSynapseAdminMux *mux.Router
	// InternalAPIMux serves /api: the internal APIs of the polylith (arrows 2–13 over HTTP).
	// It is only reachable through InternalHandler, never the public listener.
	InternalAPIMux *mux.Router

	// DrainTimeout bounds how long shutdown waits for in-flight requests (default 15s);
	// connections still busy after it are closed.
	DrainTimeout time.Duration
	// HookTimeout bounds each shutdown hook (default 15s).
	HookTimeout time.Duration

	publicRoot   *mux.Router
	internalRoot *mux.Router
	metrics      *httpMetrics

	ctx      context.Context // canceled once servers have drained
	cancel   context.CancelFunc
	draining chan struct{}

	mu        sync.Mutex
	servers   []*http.Server
	serveErrs chan error
	// sigs receives SIGINT and SIGTERM from NewBase on, so a signal that arrives while
	// the process starts (its listeners may already answer /health) is not lost and does
	// not kill it before RunUntilSignal waits: it starts the graceful shutdown instead.
	sigs        chan os.Signal
	hooks       []hook
	checks      []healthCheck
	dbs         map[string]*sqlutil.DB
	shutdownErr error
	shutdown    bool
	shutdownOne sync.Once

	identityOnce sync.Once
	identity     sqlutil.ServerIdentity // Identity (identity.go)
}

type hook struct {
	name string
	fn   func(ctx context.Context) error
}

// NewBase builds the base of a process that runs component (a config.Component* name).
// cfg must already be validated. It configures logrus' standard logger the same way as
// Base.Logger, so package-level logrus calls follow the configured level and format.
func NewBase(cfg *config.Config, component string) (*Base, error) {
	logger, err := newLogger(cfg.Global.Logging)
	if err != nil {
		return nil, err
	}
	applyLogging(logrus.StandardLogger(), logger)
	ctx, cancel := context.WithCancel(context.Background())
	b := &Base{
		Cfg:          cfg,
		Component:    component,
		Logger:       logger.WithField("component", component),
		Registry:     newRegistry(),
		DrainTimeout: 15 * time.Second,
		HookTimeout:  15 * time.Second,
		ctx:          ctx,
		cancel:       cancel,
		draining:     make(chan struct{}),
		serveErrs:    make(chan error, 8),
		sigs:         make(chan os.Signal, 2),
		dbs:          map[string]*sqlutil.DB{},
	}
	signal.Notify(b.sigs, syscall.SIGINT, syscall.SIGTERM)
	b.metrics, err = newHTTPMetrics(b.Registry, component)
	if err != nil {
		return nil, err
	}
	b.publicRoot = newRootRouter()
	b.internalRoot = newRootRouter()
	// Specific prefixes first: gorilla/mux tries routes in order.
	b.PublicClientAPIMux = b.publicRoot.PathPrefix("/_matrix/client").Subrouter()
	b.PublicFederationAPIMux = b.publicRoot.PathPrefix("/_matrix/federation").Subrouter()
	b.PublicKeyAPIMux = b.publicRoot.PathPrefix("/_matrix/key").Subrouter()
	b.PublicMediaAPIMux = b.publicRoot.PathPrefix("/_matrix/media").Subrouter()
	b.PublicWellKnownAPIMux = b.publicRoot.PathPrefix("/.well-known/matrix").Subrouter()
	b.PublicSynapseAdminMux = b.publicRoot.PathPrefix("/_synapse/admin").Subrouter()
	b.InternalAPIMux = b.internalRoot.PathPrefix("/api").Subrouter()
	for _, root := range []*mux.Router{b.publicRoot, b.internalRoot} {
		root.Handle("/health", http.HandlerFunc(b.serveHealth)).Methods(http.MethodGet, http.MethodHead)
	}
	if cfg.Global.Metrics.Enabled {
		b.internalRoot.Handle("/metrics", b.metricsHandler()).Methods(http.MethodGet, http.MethodHead)
		// On the public listener only behind global.metrics.bearer_token.
		if token := cfg.Global.Metrics.BearerToken; token != "" {
			b.publicRoot.Handle("/metrics", RequireBearer(token, b.metricsHandler())).Methods(http.MethodGet, http.MethodHead)
		}
	}
	return b, nil
}

// PublicHandler is everything a public listener serves: the /_matrix, /.well-known/matrix
// and /_synapse/admin routers, /health and, only with global.metrics.bearer_token, /metrics
// for requests that carry that token; with request IDs, request logs, metrics,
// CORS and M_UNRECOGNIZED for unknown routes. It never serves /api.
func (b *Base) PublicHandler() http.Handler {
	return b.withRequestID(b.withLogAndMetrics(withCORS(matchEscaped(b.publicRoot))))
}

// InternalHandler is what an internal API listener serves: /api (checking
// global.internal_api_secret when set), /health and /metrics.
func (b *Base) InternalHandler() http.Handler {
	return b.withRequestID(b.withLogAndMetrics(b.withInternalSecret(matchEscaped(b.internalRoot))))
}

// Context is canceled when shutdown has let in-flight requests finish, just before the
// shutdown hooks run. Background loops (log consumers, relays, queues) run under it.
func (b *Base) Context() context.Context { return b.ctx }

// Draining is closed when shutdown begins. Long-polling handlers (sync) should select on it
// and answer early, so they do not hold the drain up to DrainTimeout.
func (b *Base) Draining() <-chan struct{} { return b.draining }
