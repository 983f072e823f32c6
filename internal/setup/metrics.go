package setup

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
