package consumers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
)

// delayCount is how many observations axon_syncapi_roomevent_delay_seconds{stage} has,
// and their sum.
func delayCount(t *testing.T, stage string) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := roomEventDelay.WithLabelValues(stage).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// TestRoomEventDelayObserved: records stamped with the roomserver's staging time are timed
// at each stage (received, stored, notified) once each, from that time; records without
// the header are stored as usual and not timed.
func TestRoomEventDelayObserved(t *testing.T) {
	ctx := context.Background()
	c, n := newConsumer(t, testenv.SQLitePath(t, "sync"))
	for _, m := range setup() {
		mustNil(t, c.Handle(ctx, m))
	}
	stages := []string{"received", "stored", "notified"}
	count := func() (out []uint64, sums []float64) {
		for _, s := range stages {
			c, sum := delayCount(t, s)
			out, sums = append(out, c), append(sums, sum)
		}
		return out, sums
	}
	before, sumsBefore := count()
	staged := time.Now().Add(-time.Second) // committed a second ago
	var msgs []eventlog.Message
	for i, id := range []string{"$d1", "$d2", "$d3"} {
		m := message(int64(3+i), roomA, id)
		m.Headers = eventlog.StagedAtHeaders(staged)
		msgs = append(msgs, m)
	}
	msgs = append(msgs, message(6, roomA, "$d4")) // no header
	mustNil(t, c.HandleBatch(ctx, msgs))
	after, sumsAfter := count()
	for i, s := range stages {
		if got := after[i] - before[i]; got != 3 {
			t.Errorf("stage %s: %d observations, want 3", s, got)
		}
		// Each at least the second since staging, and not absurdly more.
		if d := sumsAfter[i] - sumsBefore[i]; d < 3 || d > 3*30 {
			t.Errorf("stage %s: sum %.3f s for 3 records staged 1 s ago", s, d)
		}
	}
	if told := n.told(); told.pos != 6 {
		t.Fatalf("notified up to %d, want 6", told.pos)
	}
}
