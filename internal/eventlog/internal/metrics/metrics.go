// Package metrics holds the event log's Prometheus counters, shared by both backends and
// the outbox. They are registered on prometheus.DefaultRegisterer, which every binary
// serves on /metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	// Published counts messages the log stored (Producer.Publish returned nil), by backend
	// and topic.
	Published = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "eventlog", Name: "published_total",
		Help: "Messages published to the event log.",
	}, []string{"backend", "topic"})

	// Consumed counts messages whose handler succeeded, by backend, topic and group.
	Consumed = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "eventlog", Name: "consumed_total",
		Help: "Messages handled successfully by event log consumers.",
	}, []string{"backend", "topic", "group"})

	// HandlerErrors counts handler failures (each is retried), by backend, topic and group.
	HandlerErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "eventlog", Name: "handler_errors_total",
		Help: "Event log handler calls that returned an error and will be retried.",
	}, []string{"backend", "topic", "group"})

	// OutboxRelayed counts messages the transactional outbox relayed, by component.
	OutboxRelayed = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "eventlog", Name: "outbox_relayed_total",
		Help: "Staged outbox messages published to the event log.",
	}, []string{"component"})
)
