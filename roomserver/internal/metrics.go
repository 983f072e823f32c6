package internal

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The roomserver's Prometheus metrics, registered on prometheus.DefaultRegisterer, which
// every binary serves on /metrics.
var (
	eventsStored = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "roomserver", Name: "events_stored_total",
		Help: "Room events committed, by kind (state or message).",
	}, []string{"kind"})
	authRefusals = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "roomserver", Name: "auth_refusals_total",
		Help: "Local events the authorization rules refused (M_FORBIDDEN).",
	})
	writeDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "axon", Subsystem: "roomserver", Name: "write_duration_seconds",
		Help:    "Time to build, authorise and commit a room write, by operation.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"op"})
)
