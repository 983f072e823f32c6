package internal

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/axon-matrix/axon/federationsender/storage"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestQueueDeletesWhileSending: the rows of a delivered transaction are deleted by the
// time the next transaction is answered (the sender deletes them while it is on its way),
// the next transaction never carries them again, and once the queue is idle nothing is
// left; every event arrives once, in order, in transactions of at most 50.
func TestQueueDeletesWhileSending(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			remote := newFakeRemote(t)
			second := make(chan struct{})
			release := make(chan struct{})
			remote.hold = func(attempt int) {
				if attempt == 2 {
					close(second)
					<-release
				}
			}
			s := startSender(t, dsn(t), Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond})
			ctx := context.Background()
			if err := s.consumer.Handle(ctx, topic6(0, 120, remote.name())); err != nil {
				t.Fatal(err)
			}
			select {
			case <-second:
			case <-time.After(10 * time.Second):
				t.Fatal("no second transaction")
			}
			// The second transaction is held: the first one's 50 rows go meanwhile.
			waitFor(t, "the first transaction's rows deleted during the second", 5*time.Second, func() bool {
				n, err := s.queues.db.CountPDUs(ctx, remote.name())
				return err == nil && n == 70
			})
			close(release)
			waitFor(t, "every event", 10*time.Second, func() bool { return len(remote.delivered()) >= 120 })
			waitFor(t, "an empty queue", 5*time.Second, func() bool {
				n, err := s.queues.db.CountPDUs(ctx, remote.name())
				return err == nil && n == 0
			})
			got := remote.delivered()
			if len(got) != 120 {
				t.Fatalf("delivered %d events, want 120 exactly once", len(got))
			}
			for i, id := range got {
				if want := fmt.Sprintf("$ev%04d", i); id != want {
					t.Fatalf("event %d is %s, want %s (order)", i, id, want)
				}
			}
			for _, txn := range remote.snapshot() {
				if len(txn.eventIDs) > 50 {
					t.Fatalf("transaction of %d PDUs", len(txn.eventIDs))
				}
			}
		})
	}
}

// TestPeekSkipsDelivered: peek leaves out the rows of the delivered transaction not yet
// deleted, and still fills a transaction up to the limit.
func TestPeekSkipsDelivered(t *testing.T) {
	db := openDB(t, testenv.SQLitePath(t, "q"))
	q := NewQueues(db, nil, testOrigin, DefaultBackoff)
	ctx := context.Background()
	const dest = "remote.test"
	var pdus []storage.QueuedPDU
	for i := range 80 {
		pdus = append(pdus, storage.QueuedPDU{Destination: dest, RoomID: "!r:origin.test", EventID: fmt.Sprintf("$e%03d", i), JSON: []byte(`{}`)})
	}
	if err := db.QueuePDUs(ctx, pdus); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		skip      int // the first skip rows are delivered
		wantFirst string
		wantLen   int
	}{
		{"nothing delivered", 0, "$e000", 50},
		{"ten delivered", 10, "$e010", 50},
		{"fifty delivered", 50, "$e050", 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all, err := db.PeekPDUs(ctx, dest, 100)
			if err != nil {
				t.Fatal(err)
			}
			d := delivered{pdus: rowIDs(all[:tc.skip])}
			rows, edus, err := q.peek(ctx, dest, &d)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.wantLen || rows[0].EventID != tc.wantFirst || len(edus) != 0 {
				t.Fatalf("peek = %d rows from %s, %d EDUs; want %d from %s", len(rows), rows[0].EventID, len(edus), tc.wantLen, tc.wantFirst)
			}
		})
	}
}

// TestQueuedTimes: a row's queue wait is observed once, when its first transaction
// starts; rows never noted are not observed; the memory is bounded.
func TestQueuedTimes(t *testing.T) {
	var qt queuedTimes
	t0 := time.Now()
	qt.note([]storage.QueuedPDU{{Destination: "a", EventID: "$1"}, {Destination: "b", EventID: "$1"}}, t0)
	qt.note([]storage.QueuedPDU{{Destination: "a", EventID: "$1"}}, t0.Add(time.Second)) // a replay keeps the first time
	count := func() uint64 {
		var m dto.Metric
		if err := queueWait.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	n0 := count()
	qt.started("a", []storage.Row{{EventID: "$1"}, {EventID: "$unknown"}}, t0.Add(20*time.Millisecond))
	if got := count() - n0; got != 1 {
		t.Fatalf("observed %d waits, want 1", got)
	}
	qt.started("a", []storage.Row{{EventID: "$1"}}, t0.Add(time.Second)) // a retry
	if got := count() - n0; got != 1 {
		t.Fatalf("a retry observed again: %d", got)
	}
	if qt.len() != 1 {
		t.Fatalf("remembered %d, want 1 (b's)", qt.len())
	}
	var many []storage.QueuedPDU
	for i := range maxQueuedTimes + 10 {
		many = append(many, storage.QueuedPDU{Destination: "c", EventID: fmt.Sprint(i)})
	}
	qt.note(many, t0)
	if qt.len() != maxQueuedTimes {
		t.Fatalf("remembered %d, want the cap %d", qt.len(), maxQueuedTimes)
	}
}
