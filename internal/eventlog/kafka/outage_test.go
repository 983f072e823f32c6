package kafka

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestBrokerOutage kills the broker (-9) while the outbox relay (topic 2's path: roomserver
// → outbox → Kafka) and a direct Publish loop are publishing and a consumer group is
// consuming, restarts it on the same ports, and checks that everything arrives: every
// message of every key, first occurrences in per-key order (redeliveries are allowed:
// delivery is at-least-once and consumers are idempotent). It logs how long after the
// broker was ready the first publish succeeded and the consumer got the first message
// produced during the outage; it asserts no times (the waits are generous bounds).
func TestBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts, kills and restarts its own Kafka broker")
	}
	b := startOwnBroker(t)
	cfg := Config{Brokers: []string{b.addr}} // production defaults: the figures are the real ones
	l := openLog(t, cfg)
	const topic, group, partitions, keys = "outage", "outage-group", 4, 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := l.EnsureTopics(ctx, partitions, topic); err != nil {
		t.Fatal(err)
	}

	got := newArrivals()
	consumed := make(chan error, 1)
	go func() { consumed <- l.Consumer().Consume(ctx, topic, group, got.handle) }()

	// The outbox with its production options, over a timing recorder.
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "outbox")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	relayCalls := &timedProducer{p: l.Producer()}
	ob, err := outbox.NewOutbox(db, "outage", relayCalls)
	if err != nil {
		t.Fatal(err)
	}
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = ob.Run(ctx) }()

	// The stager: one message every 20 ms, keys round-robin, values 1, 2, … per key.
	sent := newSentLog()
	stopStaging := make(chan struct{})
	stagingDone := make(chan struct{})
	go func() {
		defer close(stagingDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopStaging:
				return
			case <-tick.C:
			}
			key := fmt.Sprintf("!room%d", i%keys)
			n := sent.next(key)
			err := sqlutil.WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
				return ob.Stage(ctx, tx, eventlog.Message{Topic: topic, Key: key, Value: []byte(strconv.Itoa(n))})
			})
			if err != nil {
				t.Errorf("Stage: %v", err)
				return
			}
			ob.Kick()
		}
	}()

	// The direct publisher: key "direct", each value published until it succeeds.
	directCalls := &timedProducer{p: l.Producer()}
	stopDirect := make(chan struct{})
	directDone := make(chan struct{})
	go func() {
		defer close(directDone)
		for {
			select {
			case <-stopDirect:
				return
			default:
			}
			n := sent.next("direct")
			for directCalls.Publish(ctx, eventlog.Message{Topic: topic, Key: "direct", Value: []byte(strconv.Itoa(n))}) != nil {
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	waitLong(t, 60*time.Second, "the first messages before the outage", func() bool { return got.total() >= 50 })

	killed := time.Now()
	atKill := sent.snapshot()
	b.kill()
	time.Sleep(5 * time.Second) // publishing against a dead broker
	b.restart()
	ready := time.Now()
	time.Sleep(3 * time.Second) // and on after it is back
	close(stopStaging)
	<-stagingDone
	close(stopDirect)
	<-directDone
	final := sent.snapshot()

	waitLong(t, 120*time.Second, "every message to arrive", func() bool {
		for k, n := range final {
			if got.distinct(k) < n {
				return false
			}
		}
		return true
	})
	waitLong(t, 30*time.Second, "the outbox to empty", func() bool {
		n, err := ob.Pending(ctx)
		return err == nil && n == 0
	})

	// Correctness: per key, the first occurrences are exactly 1..n in order.
	dups := 0
	for k, n := range final {
		vals := got.values(k)
		seen := map[int]bool{}
		next := 1
		for _, v := range vals {
			if seen[v] {
				dups++
				continue
			}
			if v != next {
				t.Errorf("key %s: got %d where %d was due (sequence %v)", k, v, next, vals)
				break
			}
			seen[v] = true
			next++
		}
		if next-1 != n {
			t.Errorf("key %s: %d distinct messages arrived, %d were sent", k, next-1, n)
		}
	}

	// Figures (logged, not asserted).
	total := 0
	for _, n := range final {
		total += n
	}
	t.Logf("broker down %.1fs (kill -9 → restart ready); %d messages over %d keys, %d redelivered",
		ready.Sub(killed).Seconds(), total, len(final), dups)
	for _, c := range []struct {
		name string
		p    *timedProducer
	}{{"outbox relay", relayCalls}, {"direct Publish", directCalls}} {
		s := c.p.summary(killed, ready)
		t.Logf("%s: %s", c.name, s)
	}
	if at, ok := got.firstAfter(atKill); ok {
		t.Logf("consumer: first message produced after the kill arrived %.2fs after the broker was ready", at.Sub(ready).Seconds())
	}
	cancel()
	<-relayDone
	if err := <-consumed; err != nil {
		t.Errorf("Consume: %v", err)
	}
}

func waitLong(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", bound, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sentLog counts the messages produced per key.
type sentLog struct {
	mu sync.Mutex
	n  map[string]int
}

func newSentLog() *sentLog { return &sentLog{n: map[string]int{}} }

func (s *sentLog) next(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[key]++
	return s.n[key]
}

func (s *sentLog) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.n))
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

// arrivals records what the consumer got, per key, with the time each value first arrived.
type arrivals struct {
	mu    sync.Mutex
	vals  map[string][]int
	first map[string]map[int]time.Time
}

func newArrivals() *arrivals {
	return &arrivals{vals: map[string][]int{}, first: map[string]map[int]time.Time{}}
}

func (a *arrivals) handle(_ context.Context, m eventlog.Message) error {
	v, err := strconv.Atoi(string(m.Value))
	if err != nil {
		return fmt.Errorf("bad value %q", m.Value)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.vals[m.Key] = append(a.vals[m.Key], v)
	if a.first[m.Key] == nil {
		a.first[m.Key] = map[int]time.Time{}
	}
	if _, ok := a.first[m.Key][v]; !ok {
		a.first[m.Key][v] = time.Now()
	}
	return nil
}

func (a *arrivals) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, v := range a.vals {
		n += len(v)
	}
	return n
}

func (a *arrivals) distinct(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.first[key])
}

func (a *arrivals) values(key string) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.vals[key]...)
}

// firstAfter returns when the first message produced after the snapshot (value above the
// snapshot's count for its key) arrived.
func (a *arrivals) firstAfter(snap map[string]int) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var best time.Time
	for k, m := range a.first {
		for v, at := range m {
			if v > snap[k] && (best.IsZero() || at.Before(best)) {
				best = at
			}
		}
	}
	return best, !best.IsZero()
}

// timedProducer records every Publish call's start, end and error.
type timedProducer struct {
	p     eventlog.Producer
	mu    sync.Mutex
	calls []publishCall
}

type publishCall struct {
	start, end time.Time
	err        error
}

func (p *timedProducer) Publish(ctx context.Context, msgs ...eventlog.Message) error {
	start := time.Now()
	err := p.p.Publish(ctx, msgs...)
	p.mu.Lock()
	p.calls = append(p.calls, publishCall{start: start, end: time.Now(), err: err})
	p.mu.Unlock()
	return err
}

func (p *timedProducer) Close() error { return nil }

// summary describes the calls around an outage from killed to ready: how many failed, the
// longest call, the errors, and when the first call succeeded after ready.
func (p *timedProducer) summary(killed, ready time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	failed := 0
	var longest time.Duration
	errs := map[string]int{}
	firstOK := time.Duration(-1)
	for _, c := range p.calls {
		if c.end.Before(killed) {
			continue
		}
		if d := c.end.Sub(c.start); d > longest {
			longest = d
		}
		if c.err != nil {
			failed++
			errs[c.err.Error()]++
			continue
		}
		if firstOK < 0 && c.end.After(ready) {
			firstOK = c.end.Sub(ready)
		}
	}
	return fmt.Sprintf("first success %.2fs after ready; %d calls failed; longest call %.2fs; errors %v",
		firstOK.Seconds(), failed, longest.Seconds(), errs)
}
