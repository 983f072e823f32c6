package proxy

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus metrics, labelled by upstream kind and upstream URL.
type metrics struct {
	requests    *prometheus.CounterVec
	healthy     *prometheus.GaugeVec
	inFlight    *prometheus.GaugeVec
	unavailable *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "axon", Subsystem: "proxy", Name: "upstream_requests_total",
			Help: `Requests sent to each upstream, by the status code it answered ("error": no answer, e.g. could not connect).`,
		}, []string{"kind", "upstream", "code"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "axon", Subsystem: "proxy", Name: "upstream_healthy",
			Help: "1 when the upstream passed its last health check and has not failed a connect since, else 0.",
		}, []string{"kind", "upstream"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "axon", Subsystem: "proxy", Name: "upstream_requests_in_flight",
			Help: "Requests each upstream is answering now (sync long-polls included).",
		}, []string{"kind", "upstream"}),
		unavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "axon", Subsystem: "proxy", Name: "unavailable_total",
			Help: "Requests answered 502 M_UNKNOWN because no upstream of the kind was healthy or reachable.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.healthy, m.inFlight, m.unavailable} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(u *upstream, code int) {
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	m.requests.WithLabelValues(string(u.kind), u.name, c).Inc()
}
