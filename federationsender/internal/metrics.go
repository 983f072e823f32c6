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

// Stage timings of the outbound path (topic 6 → queue → PUT /send), for finding where a
// PDU's delivery time goes (docs/benchmarks.md, federation fan-out).
var (
	stageBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	topic6Delay  = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "axon_federationsender_topic6_delay_seconds",
		Help:    "Time from the roomserver's commit of a topic 6 record to the consumer receiving it (stage received) and to its queue rows committing (stage queued).",
		Buckets: stageBuckets,
	}, []string{"stage"})
	queueWait = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "axon_federationsender_queue_wait_seconds",
		Help:    "Time a queued PDU waited in its destination's queue until the first transaction carrying it started.",
		Buckets: stageBuckets,
	})
	transactionSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "axon_federationsender_transaction_seconds",
		Help:    "Round trip of PUT /send (request to answer), by result: ok or error.",
		Buckets: stageBuckets,
	}, []string{"result"})
)
