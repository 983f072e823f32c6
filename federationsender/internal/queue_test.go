package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// fakeRemote is a destination's PUT /send over TLS: it records every transaction and
// answers 500 while failing is set.
type fakeRemote struct {
	srv *httptest.Server

	mu      sync.Mutex
	failing bool
	txns    []recordedTxn // every attempt, answered 200 or not
	// hold, when set, is called with each attempt's number (from 1) before it is
	// answered, outside mu.
	hold func(attempt int)
}

type recordedTxn struct {
	id       string
	at       time.Time
	ok       bool
	eventIDs []string
}

func newFakeRemote(t *testing.T) *fakeRemote {
	f := &fakeRemote{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "/_matrix/federation/v1/send/"
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasPrefix(r.Header.Get("Authorization"), "X-Matrix ") {
			http.Error(w, `{"errcode":"M_UNRECOGNIZED","error":"no"}`, http.StatusNotFound)
			return
		}
		var txn struct {
			Origin string            `json:"origin"`
			PDUs   []json.RawMessage `json:"pdus"`
		}
		if err := json.NewDecoder(r.Body).Decode(&txn); err != nil || txn.Origin != testOrigin {
			http.Error(w, `{"errcode":"M_BAD_JSON","error":"bad"}`, http.StatusBadRequest)
			return
		}
		rec := recordedTxn{id: strings.TrimPrefix(r.URL.Path, prefix), at: time.Now()}
		for _, p := range txn.PDUs {
			var e struct {
				ID string `json:"event_id"`
			}
			json.Unmarshal(p, &e)
			rec.eventIDs = append(rec.eventIDs, e.ID)
		}
		f.mu.Lock()
		rec.ok = !f.failing
		f.txns = append(f.txns, rec)
		attempt, hold := len(f.txns), f.hold
		f.mu.Unlock()
		if hold != nil {
			hold(attempt)
		}
		w.Header().Set("Content-Type", "application/json")
		if !rec.ok {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"down"}`))
			return
		}
		w.Write([]byte(`{"pdus":{}}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRemote) name() string { return f.srv.Listener.Addr().String() }

func (f *fakeRemote) setFailing(b bool) {
	f.mu.Lock()
	f.failing = b
	f.mu.Unlock()
}

func (f *fakeRemote) snapshot() []recordedTxn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedTxn(nil), f.txns...)
}

// delivered is the event IDs of the transactions answered 200, in order.
func (f *fakeRemote) delivered() []string {
	var out []string
	for _, t := range f.snapshot() {
		if t.ok {
			out = append(out, t.eventIDs...)
		}
	}
	return out
}

// topic6 makes topic 6 records of events $0…$n-1 (starting at from) for destinations.
func topic6(from, n int, destinations ...string) []eventlog.Message {
	var msgs []eventlog.Message
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("$ev%04d", i)
		v, _ := json.Marshal(rsapi.OutputFederationEvent{RoomID: "!r:origin.test", RoomVersion: "10", EventID: id,
			Event: json.RawMessage(fmt.Sprintf(`{"event_id":%q,"type":"m.room.message"}`, id)), Destinations: destinations})
		msgs = append(msgs, eventlog.Message{Key: "!r:origin.test", Value: v, Offset: int64(i)})
	}
	return msgs
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sender is one run of the federationsender's queue: Consumer and Queues over db until
// stop.
type sender struct {
	queues   *Queues
	consumer *Consumer
	cancel   context.CancelFunc
}

func startSender(t *testing.T, dsn string, backoff Backoff) *sender {
	t.Helper()
	db := openDB(t, dsn)
	q := NewQueues(db, testClient(t, testKey(t, "q")), testOrigin, backoff)
	ctx, cancel := context.WithCancel(context.Background())
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := &sender{queues: q, consumer: NewConsumer(db, q, testOrigin), cancel: cancel}
	t.Cleanup(s.stop)
	return s
}

func (s *sender) stop() { s.cancel(); s.queues.Wait() }

// TestQueueSurvivesRestart: 120 events for a destination that is down are queued; the
// sender stops with them queued (as after a kill: only the database remains); a new
// sender on the same database delivers every one, once, in order, in transactions of at
// most 50, once the destination is back. Events for this server itself are never queued.
func TestQueueSurvivesRestart(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			remote := newFakeRemote(t)
			remote.setFailing(true)
			s1 := startSender(t, dsn, Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond})
			ctx := context.Background()
			for _, batch := range [][]eventlog.Message{topic6(0, 70, remote.name(), testOrigin), topic6(70, 50, remote.name())} {
				if err := s1.consumer.Handle(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "a failed attempt", 5*time.Second, func() bool { return len(remote.snapshot()) >= 2 })
			s1.stop()
			if got := remote.delivered(); len(got) != 0 {
				t.Fatalf("delivered while failing: %v", got)
			}
			if n, err := s1.queues.db.CountPDUs(ctx, remote.name()); err != nil || n != 120 {
				t.Fatalf("queued after stop: %d %v", n, err)
			}
			if n, _ := s1.queues.db.CountPDUs(ctx, testOrigin); n != 0 {
				t.Fatalf("queued for this server itself: %d", n)
			}
			// Replaying records already queued (the log redelivers after a crash) adds nothing.
			if err := s1.consumer.Handle(ctx, topic6(0, 10, remote.name())); err != nil {
				t.Fatal(err)
			}

			remote.setFailing(false)
			before := len(remote.snapshot())
			s2 := startSender(t, dsn, Backoff{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond})
			waitFor(t, "delivery after restart", 10*time.Second, func() bool { return len(remote.delivered()) >= 120 })
			time.Sleep(100 * time.Millisecond) // nothing more may come
			got := remote.delivered()
			if len(got) != 120 {
				t.Fatalf("delivered %d events, want 120 exactly once", len(got))
			}
			for i, id := range got {
				if want := fmt.Sprintf("$ev%04d", i); id != want {
					t.Fatalf("event %d is %s, want %s (order)", i, id, want)
				}
			}
			for _, txn := range remote.snapshot()[before:] {
				if len(txn.eventIDs) > 50 {
					t.Fatalf("transaction of %d PDUs", len(txn.eventIDs))
				}
			}
			if n, _ := s2.queues.db.CountPDUs(ctx, remote.name()); n != 0 {
				t.Fatalf("%d rows left after delivery", n)
			}
		})
	}
}

// TestQueueRetriesWithBackoff: a destination answering 500 gets the same transaction
// (same ID, same PDUs) again after a growing delay, and it is deleted once answered 200.
func TestQueueRetriesWithBackoff(t *testing.T) {
	remote := newFakeRemote(t)
	remote.setFailing(true)
	base := 40 * time.Millisecond
	s := startSender(t, testenv.SQLitePath(t, "q"), Backoff{Base: base, Max: time.Second})
	if err := s.consumer.Handle(context.Background(), topic6(0, 3, remote.name())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three failed attempts", 5*time.Second, func() bool { return len(remote.snapshot()) >= 3 })
	remote.setFailing(false)
	waitFor(t, "delivery", 5*time.Second, func() bool { return len(remote.delivered()) == 3 })
	txns := remote.snapshot()
	for i := 1; i < len(txns); i++ {
		if txns[i].id != txns[0].id || strings.Join(txns[i].eventIDs, ",") != strings.Join(txns[0].eventIDs, ",") {
			t.Fatalf("retry %d is %s %v, first was %s %v", i, txns[i].id, txns[i].eventIDs, txns[0].id, txns[0].eventIDs)
		}
	}
	// The n-th retry waits at least half of base·2^(n-1).
	for i := 1; i < 3; i++ {
		minWait := (base << (i - 1)) / 2
		if gap := txns[i].at.Sub(txns[i-1].at); gap < minWait {
			t.Fatalf("retry %d after %s, want at least %s", i, gap, minWait)
		}
	}
	// New events after the delivery go in a new transaction.
	if err := s.consumer.Handle(context.Background(), topic6(3, 1, remote.name())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next transaction", 5*time.Second, func() bool { return len(remote.delivered()) == 4 })
	last := remote.snapshot()
	if last[len(last)-1].id == txns[0].id {
		t.Fatal("a new transaction reused the delivered transaction's ID")
	}
}

// TestQueueResetBackoff: ResetBackoff (arrow 8: the destination contacted us) ends a long
// backoff at once.
func TestQueueResetBackoff(t *testing.T) {
	remote := newFakeRemote(t)
	remote.setFailing(true)
	s := startSender(t, testenv.SQLitePath(t, "q"), Backoff{Base: time.Hour, Max: time.Hour})
	if err := s.consumer.Handle(context.Background(), topic6(0, 1, remote.name())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", 5*time.Second, func() bool { return len(remote.snapshot()) == 1 })
	remote.setFailing(false)
	s.queues.ResetBackoff(remote.name())
	waitFor(t, "delivery after the reset", 5*time.Second, func() bool { return len(remote.delivered()) == 1 })
}

// TestConsumerSkipsMalformed: records that cannot be decoded are skipped, not retried.
func TestConsumerSkipsMalformed(t *testing.T) {
	s := startSender(t, testenv.SQLitePath(t, "q"), DefaultBackoff)
	for _, v := range []string{`not json`, `{"event_id":""}`, `{"event_id":"$x","event":"str"}`} {
		if err := s.consumer.Handle(context.Background(), []eventlog.Message{{Value: []byte(v)}}); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	if d, err := s.queues.db.Destinations(context.Background()); err != nil || len(d) != 0 {
		t.Fatalf("queued: %v %v", d, err)
	}
}
