package setup

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/axon-matrix/axon/internal/httputil"
)

// newRegistry is a Base's own registry. The Go runtime and process collectors are not on
// it: prometheus.DefaultRegisterer has them already, and /metrics serves both.
func newRegistry() *prometheus.Registry {
	return prometheus.NewRegistry()
}

// httpMetrics are the request metrics every Base records.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer, component string) (*httpMetrics, error) {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:   "axon",
			Subsystem:   "http",
			Name:        "request_duration_seconds",
			Help:        "Time to answer HTTP requests, by route template, method and status code.",
			ConstLabels: prometheus.Labels{"component": component},
			Buckets:     []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace:   "axon",
			Subsystem:   "http",
			Name:        "requests_in_flight",
			Help:        "HTTP requests being answered now.",
			ConstLabels: prometheus.Labels{"component": component},
		}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch:
	default:
		method = "other" // keep label values bounded
	}
	m.duration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// metricsHandler serves the Base's registry and prometheus.DefaultGatherer, where package
// level metrics live (promauto: the event log's published/consumed/outbox counters of
// topics 1–6, the roomserver's), which a Base's registry alone would leave out.
func (b *Base) metricsHandler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{b.Registry, prometheus.DefaultGatherer}, promhttp.HandlerOpts{Registry: b.Registry})
}

// MetricsHandler serves the process's metrics (the Base's registry and the package-level
// ones), for a binary that serves /metrics itself.
func (b *Base) MetricsHandler() http.Handler { return b.metricsHandler() }

// ServeMetrics listens on addr and serves /metrics (when global.metrics.enabled) and
// /health there, apart from the public routes: monolith.metrics_bind,
// client_api_proxy.metrics_listen or a Tier 1 binary's -metrics-bind. Other paths are 404
// M_UNRECOGNIZED. It returns the bound address.
func (b *Base) ServeMetrics(addr string) (net.Addr, error) {
	return b.Serve(addr, MetricsMux(b.Cfg.Global.Metrics.Enabled, b.metricsHandler(), http.HandlerFunc(b.serveHealth)))
}

// MetricsMux serves metrics on /metrics (when enabled) and health on /health, GET and HEAD
// only; anything else gets the spec's M_UNRECOGNIZED.
func MetricsMux(enabled bool, metrics, health http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h http.Handler
		switch r.URL.Path {
		case "/metrics":
			if enabled {
				h = metrics
			}
		case "/health":
			h = health
		}
		if h == nil {
			httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			httputil.WriteError(w, httputil.Unrecognized(http.StatusMethodNotAllowed))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RequireBearer passes requests carrying "Authorization: Bearer <token>" to next and
// answers others 401 M_UNAUTHORIZED (global.metrics.bearer_token on public listeners).
func RequireBearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			httputil.WriteError(w, &httputil.MatrixError{Status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED",
				Err: "Metrics need the configured bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// GuardPublicMetrics is for a public handler that serves /metrics itself (client-api-proxy):
// /metrics goes to metrics when token is set and the request carries it (RequireBearer),
// and is 404 M_UNRECOGNIZED when token is empty; every other path goes to next.
func GuardPublicMetrics(token string, metrics, next http.Handler) http.Handler {
	guarded := RequireBearer(token, metrics)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		if token == "" {
			httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
			return
		}
		guarded.ServeHTTP(w, r)
	})
}
