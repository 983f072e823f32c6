package internal

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics of the outbound queue (topic 6 → PUT /send). No metric has a destination
// label: the number of destinations is unbounded, so per-destination state is counted by
// state instead.
var (
	pdusQueued = promauto.NewCounter(prometheus.CounterOpts{
		Name: "axon_federationsender_pdus_queued_total",
		Help: "PDUs queued for a destination (one per event and destination).",
	})
	pdusSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "axon_federationsender_pdus_sent_total",
		Help: "PDUs a destination accepted the transaction of (answered 200).",
	})
	transactions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "axon_federationsender_transactions_total",
		Help: "Transactions sent, by result: ok (200), failed (retried with backoff), dropped (a 400 or 413: never deliverable).",
	}, []string{"result"})
	destinations = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "axon_federationsender_destinations",
		Help: "Destinations with a running sender, by state: sending, or backoff (waiting to retry after a failure).",
	}, []string{"state"})
	backoffSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "axon_federationsender_backoff_seconds",
		Help:    "Backoff delays chosen after failed transactions.",
		Buckets: []float64{1, 5, 15, 60, 180, 600},
	})
	joins = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "axon_federationsender_joins_total",
		Help: "Remote joins (arrow 17), by result.",
	}, []string{"result"})
	eventsDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "axon_federationsender_join_events_dropped_total",
		Help: "State and auth chain events of send_join answers dropped for a bad signature or a malformed body.",
	})
)
