package consumers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// roomEventDelay times topic 2 records from the roomserver's commit (the staging time in
// their eventlog.HeaderStagedAt) to the syncapi: stage "received" when HandleBatch got it,
// "stored" when its transaction
// committed, "notified" when the notifier was told (the waiting /syncs woken). Only the
// group-committed runs of plain new events are timed (HandleBatch).
var roomEventDelay = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "axon_syncapi_roomevent_delay_seconds",
	Help:    "Time from the roomserver's commit of a topic 2 record to the syncapi receiving it (stage received), storing it (stored) and waking /sync (notified).",
	Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
}, []string{"stage"})

// observeDelay observes, for each job's records with a staging time, now minus that time.
func observeDelay(stage string, jobs []*groupJob, now time.Time) {
	h := roomEventDelay.WithLabelValues(stage)
	for _, j := range jobs {
		for _, t := range j.staged {
			if !t.IsZero() {
				h.Observe(now.Sub(t).Seconds())
			}
		}
	}
}
