package internal

import (
	"sync"
	"time"

	"github.com/axon-matrix/axon/federationsender/storage"
)

// maxQueuedTimes bounds how many queue rows queuedTimes remembers (a destination that is
// down for long can hold many more; those are simply not timed).
const maxQueuedTimes = 100_000

// queuedTimes remembers when each PDU of this process's queue rows was queued, to observe
// axon_federationsender_queue_wait_seconds when its first transaction starts. It is a
// measurement only: rows queued before a restart, or beyond maxQueuedTimes, go untimed.
type queuedTimes struct {
	mu sync.Mutex
	at map[queuedKey]time.Time
}

type queuedKey struct{ destination, eventID string }

// note records that pdus were queued (committed) at now.
func (t *queuedTimes) note(pdus []storage.QueuedPDU, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.at == nil {
		t.at = map[queuedKey]time.Time{}
	}
	for _, p := range pdus {
		if len(t.at) >= maxQueuedTimes {
			return
		}
		k := queuedKey{p.Destination, p.EventID}
		if _, ok := t.at[k]; !ok {
			t.at[k] = now
		}
	}
}

// started observes the queue wait of rows whose transaction to destination starts at now,
// and forgets them (a retry of the same transaction is not observed again).
func (t *queuedTimes) started(destination string, rows []storage.Row, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range rows {
		k := queuedKey{destination, r.EventID}
		if at, ok := t.at[k]; ok {
			queueWait.Observe(now.Sub(at).Seconds())
			delete(t.at, k)
		}
	}
}

// len is how many rows are remembered (for the tests).
func (t *queuedTimes) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.at)
}
