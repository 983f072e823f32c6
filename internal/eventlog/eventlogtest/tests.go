package eventlogtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Every field a producer sets arrives, and delivery fills in partition and offset.
func (s *suite) testRoundTrip(t *testing.T) {
	l, _ := s.open(t)
	topic := s.topic(t, l, "roundtrip", s.b.Partitions)
	var mu sync.Mutex
	var got []eventlog.Message
	consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		return nil
	})
	want := eventlog.Message{Topic: topic, Key: "!room:example.org", Value: []byte(`{"a":1}`),
		Headers: map[string]string{"type": "m.room.message", "v": "2"}}
	publish(t, l.Producer(), want, msg(topic, "!room:example.org", ""))
	s.waitFor(t, "2 deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	m := got[0]
	if m.Topic != want.Topic || m.Key != want.Key || string(m.Value) != string(want.Value) ||
		len(m.Headers) != 2 || m.Headers["type"] != "m.room.message" || m.Headers["v"] != "2" {
		t.Fatalf("delivered %+v, want %+v", m, want)
	}
	if m.Partition < 0 || int(m.Partition) >= s.b.Partitions || m.Offset < 0 {
		t.Fatalf("delivered partition %d offset %d", m.Partition, m.Offset)
	}
	if got[1].Offset <= m.Offset || got[1].Partition != m.Partition || len(got[1].Value) != 0 {
		t.Fatalf("second message %+v does not follow %+v on the same partition", got[1], m)
	}
}

// Several producers publish at once, each owning some keys; every key arrives complete and
// in publish order, although keys share partitions and are handled concurrently.
func (s *suite) testPerKeyOrder(t *testing.T) {
	l, _ := s.open(t)
	topic := s.topic(t, l, "order", s.b.Partitions)
	const producers, keysPer, perKey = 4, 3, 25
	rec := newRecorder()
	consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error {
		time.Sleep(time.Duration(rand.Intn(300)) * time.Microsecond)
		rec.add(m)
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			prod := l.Producer()
			for i := 0; i < perKey; i++ {
				var batch []eventlog.Message
				for k := 0; k < keysPer; k++ {
					batch = append(batch, msg(topic, fmt.Sprintf("key-%d-%d", p, k), fmt.Sprint(i)))
				}
				// Alternate batched and single publishes.
				if i%2 == 0 {
					if err := prod.Publish(context.Background(), batch...); err != nil {
						errs <- err
						return
					}
					continue
				}
				for _, m := range batch {
					if err := prod.Publish(context.Background(), m); err != nil {
						errs <- err
						return
					}
				}
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	total := producers * keysPer * perKey
	s.waitFor(t, fmt.Sprintf("%d deliveries", total), func() bool { return rec.count() >= total })
	want := seq("", 0, perKey)
	for p := 0; p < producers; p++ {
		for k := 0; k < keysPer; k++ {
			key := fmt.Sprintf("key-%d-%d", p, k)
			if got := rec.get(key); !equal(got, want) {
				t.Errorf("key %s delivered %v, want %v", key, got, want)
			}
		}
	}
}

// A failing handler is retried, and the key's later messages wait for it.
func (s *suite) testRetry(t *testing.T) {
	l, _ := s.open(t)
	topic := s.topic(t, l, "retry", s.b.Partitions)
	var mu sync.Mutex
	var calls []string
	failures := 0
	consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, string(m.Value))
		if string(m.Value) == "v2" && failures < 2 {
			failures++
			return errors.New("transient failure")
		}
		return nil
	})
	var msgs []eventlog.Message
	for _, v := range seq("v", 0, 5) {
		msgs = append(msgs, msg(topic, "k", v))
	}
	publish(t, l.Producer(), msgs...)
	want := []string{"v0", "v1", "v2", "v2", "v2", "v3", "v4"}
	s.waitFor(t, "all calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(calls) >= len(want) })
	mu.Lock()
	defer mu.Unlock()
	if !equal(calls, want) {
		t.Fatalf("handler calls %v, want %v", calls, want)
	}
}

// On a single partition, a key whose handler blocks does not hold up the other keys.
func (s *suite) testSlowKey(t *testing.T) {
	l, _ := s.open(t)
	topic := s.topic(t, l, "slowkey", 1)
	release := make(chan struct{})
	rec := newRecorder()
	consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error {
		if m.Key == "slow" {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		rec.add(m)
		return nil
	})
	msgs := []eventlog.Message{msg(topic, "slow", "s0"), msg(topic, "slow", "s1")}
	for i := 0; i < 20; i++ {
		msgs = append(msgs, msg(topic, fmt.Sprintf("fast-%d", i%5), fmt.Sprint(i)))
	}
	publish(t, l.Producer(), msgs...)
	s.waitFor(t, "the fast keys while the slow key blocks", func() bool { return rec.count() == 20 })
	if got := rec.get("slow"); len(got) != 0 {
		t.Fatalf("slow key delivered %v before release", got)
	}
	close(release)
	s.waitFor(t, "the slow key", func() bool { return rec.count() == 22 })
	if got := rec.get("slow"); !equal(got, []string{"s0", "s1"}) {
		t.Fatalf("slow key delivered %v", got)
	}
}

// A new consumer instance of the same group, after a restart, continues after the last
// committed message: nothing handled is delivered again, nothing new is missed.
func (s *suite) testOffsetsSurviveRestart(t *testing.T) {
	l, reopen := s.open(t)
	topic := s.topic(t, l, "restart", s.b.Partitions)
	var before []eventlog.Message
	for i := 0; i < 10; i++ {
		before = append(before, msg(topic, fmt.Sprint("k", i%3), fmt.Sprint("old", i)))
	}
	publish(t, l.Producer(), before...)
	rec1 := newRecorder()
	c1 := consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error { rec1.add(m); return nil })
	s.waitFor(t, "first 10", func() bool { return rec1.count() == 10 })
	c1.stop(t)
	_ = l.Close()

	l2 := reopen(t)
	var after []eventlog.Message
	for i := 0; i < 5; i++ {
		after = append(after, msg(topic, fmt.Sprint("k", i%3), fmt.Sprint("new", i)))
	}
	publish(t, l2.Producer(), after...)
	rec2 := newRecorder()
	consume(t, l2.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error { rec2.add(m); return nil })
	s.waitFor(t, "5 new", func() bool { return rec2.count() >= 5 })
	time.Sleep(500 * time.Millisecond) // room for a wrong replay to show up
	if rec2.count() != 5 {
		t.Fatalf("after restart %d deliveries, want the 5 new ones: %v", rec2.count(), rec2.keys)
	}
	for k := 0; k < 3; k++ {
		for _, v := range rec2.get(fmt.Sprint("k", k)) {
			if v[:3] != "new" {
				t.Fatalf("after restart got old message %s again", v)
			}
		}
	}
}

// A consumer that dies after its handler did the work but before the offset was committed
// gets the message again; an idempotent handler then changes nothing.
func (s *suite) testConsumerKilledBeforeCommit(t *testing.T) {
	l, reopen := s.open(t)
	topic := s.topic(t, l, "killed", s.b.Partitions)
	var msgs []eventlog.Message
	for _, v := range seq("m", 0, 6) {
		msgs = append(msgs, msg(topic, "!room", v))
	}
	publish(t, l.Producer(), msgs...)

	// The handler's effect: a set of applied message IDs. effects counts real changes.
	var mu sync.Mutex
	applied := map[string]bool{}
	deliveries := map[string]int{}
	effects := 0
	apply := func(m eventlog.Message) {
		mu.Lock()
		defer mu.Unlock()
		deliveries[string(m.Value)]++
		if !applied[string(m.Value)] {
			applied[string(m.Value)] = true
			effects++
		}
	}
	killed := make(chan struct{})
	var once sync.Once
	c1 := consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error {
		apply(m)
		if string(m.Value) == "m3" {
			once.Do(func() { close(killed) })
			<-ctx.Done() // the process dies here: the work is done, the offset is not committed
			return ctx.Err()
		}
		return nil
	})
	select {
	case <-killed:
	case <-time.After(s.b.Timeout):
		t.Fatal("m3 never delivered")
	}
	c1.stop(t)
	_ = l.Close()

	l2 := reopen(t)
	consume(t, l2.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error { apply(m); return nil })
	s.waitFor(t, "m5 after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return deliveries["m5"] == 1 })
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if deliveries["m3"] != 2 {
		t.Errorf("m3 delivered %d times, want 2 (once before the kill, once after)", deliveries["m3"])
	}
	for _, v := range []string{"m0", "m1", "m2", "m4", "m5"} {
		if deliveries[v] != 1 {
			t.Errorf("%s delivered %d times, want 1", v, deliveries[v])
		}
	}
	if effects != 6 || len(applied) != 6 {
		t.Errorf("effects %d, applied %d; want 6 each (the replay must change nothing)", effects, len(applied))
	}
}

// A producer killed after committing its transaction but before publishing still gets the
// message out: a new outbox instance (the restarted process) relays it. A rolled-back
// transaction's message never goes out.
func (s *suite) testProducerKilledAfterCommit(t *testing.T) {
	if s.b.NewOutbox == nil || s.b.OutboxDB == nil {
		t.Fatal("backend has no outbox configuration")
	}
	l, reopen := s.open(t)
	topic := s.topic(t, l, "outbox", s.b.Partitions)
	db := s.b.OutboxDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE suite_items (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	ob1, err := s.b.NewOutbox(db, "suitecomp", l.Producer())
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	stage := func(ob eventlog.Outbox, id string, fail bool) error {
		return sqlutil.WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO suite_items (id) VALUES ($1)`, id); err != nil {
				return err
			}
			if err := ob.Stage(ctx, tx, msg(topic, "!room", id+"-a"), msg(topic, "!room", id+"-b")); err != nil {
				return err
			}
			if fail {
				return errors.New("request rejected")
			}
			return nil
		})
	}
	if err := stage(ob1, "committed", false); err != nil {
		t.Fatalf("staging: %v", err)
	}
	if err := stage(ob1, "rolledback", true); err == nil {
		t.Fatal("rejected transaction committed")
	}
	// ob1's process dies here, before its relay ran.
	rec := newRecorder()
	consume(t, l.Consumer(), topic, "g", func(ctx context.Context, m eventlog.Message) error { rec.add(m); return nil })
	time.Sleep(300 * time.Millisecond)
	if rec.count() != 0 {
		t.Fatalf("delivered %v before any relay ran", rec.keys)
	}

	l2 := reopen(t)
	ob2, err := s.b.NewOutbox(db, "suitecomp", l2.Producer())
	if err != nil {
		t.Fatalf("NewOutbox after restart: %v", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ob2.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	s.waitFor(t, "the staged messages", func() bool { return rec.count() >= 2 })

	// A transaction committed while the relay runs goes out on Kick.
	if err := stage(ob2, "later", false); err != nil {
		t.Fatal(err)
	}
	ob2.Kick()
	s.waitFor(t, "the kicked messages", func() bool { return rec.count() >= 4 })
	time.Sleep(300 * time.Millisecond)
	want := []string{"committed-a", "committed-b", "later-a", "later-b"}
	if got := rec.get("!room"); !equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if p, ok := ob2.(interface {
		Pending(context.Context) (int, error)
	}); ok {
		if n, err := p.Pending(ctx); err != nil || n != 0 {
			t.Fatalf("outbox still holds %d rows (err %v) after relaying", n, err)
		}
	}
}
