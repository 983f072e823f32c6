package routing

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// sendSeconds times PUT /send (arrow 3): stage "check" (parsing and signature checks of the
// PDUs, arrow 11), "input" (the roomserver's writes of the checked PDUs), "total" (the whole
// transaction, EDUs included, for a first delivery; a repeat answered from the cache is
// not timed).
var sendSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "axon_federationapi_send_seconds",
	Help:    "Time to process a received transaction (PUT /send), by stage: check, input, total.",
	Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
}, []string{"stage"})
