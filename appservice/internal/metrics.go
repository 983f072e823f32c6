package internal

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics of the transactions to application services (topic 2 → PUT /transactions).
// The number of services is small and fixed by config, but the labels stay coarse like
// the federationsender's.
var (
	eventsQueued = promauto.NewCounter(prometheus.CounterOpts{
		Name: "axon_appservice_events_queued_total",
		Help: "Events queued for an application service (one per event and service).",
	})
	eventsSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "axon_appservice_events_sent_total",
		Help: "Events in transactions an application service accepted (answered 2xx).",
	})
	transactionsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "axon_appservice_transactions_total",
		Help: "Transactions pushed to application services, by result: ok (2xx) or failed (retried with backoff).",
	}, []string{"result"})
)
