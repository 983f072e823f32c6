package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Package-level metrics (prometheus.DefaultRegisterer), which every binary's /metrics
// serves next to its Base's own.
var (
	limitedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon",
		Name:      "rate_limited_total",
		Help:      "Requests refused with 429 M_LIMIT_EXCEEDED, by limit (global.rate_limits key).",
	}, []string{"limit"})
	evictionsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon",
		Name:      "rate_limit_evictions_total",
		Help:      "Times a limit held its maximum number of keys and forgot some that were still counting down.",
	}, []string{"limit"})
)

func limitedCounter(name string) prometheus.Counter { return limitedTotal.WithLabelValues(name) }
func evictedCounter(name string) prometheus.Counter { return evictionsTotal.WithLabelValues(name) }
