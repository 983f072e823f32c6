// Package eventlogtest is the test suite every event log backend must pass: it proves the
// guarantees of ARCHITECTURE.md §5 (at-least-once, per-key order under concurrent
// producers, runs of one key's messages handed over together in order (ConsumeBatch),
// idempotent replays after a consumer dies before committing, no message lost
// when a producer dies between its database commit and the publish, slow keys not stalling
// others on the same partition, offsets surviving a restart). Each backend's tests call Run.
package eventlogtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Backend describes the log under test.
type Backend struct {
	// Open returns a log on fresh storage, and reopen, which opens a new instance over the
	// same storage, like the process after a restart. Both are closed by the suite.
	Open func(t *testing.T) (log eventlog.Log, reopen func(t *testing.T) eventlog.Log)
	// OutboxDB returns a fresh database for a producer component's outbox.
	OutboxDB func(t *testing.T) *sqlutil.DB
	// NewOutbox makes an outbox over db publishing to p (outbox.NewOutbox; passed in to keep
	// this package free of the implementation it tests).
	NewOutbox func(db *sqlutil.DB, component string, p eventlog.Producer) (eventlog.Outbox, error)
	// Partitions is the partition count of the suite's topics (default 3).
	Partitions int
	// Timeout bounds each wait for deliveries (default 30s).
	Timeout time.Duration
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, b Backend) {
	if b.Partitions <= 0 {
		b.Partitions = 3
	}
	if b.Timeout <= 0 {
		b.Timeout = 30 * time.Second
	}
	s := &suite{b: b}
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("PerKeyOrderConcurrentProducers", s.testPerKeyOrder)
	t.Run("RetryKeepsKeyOrder", s.testRetry)
	t.Run("SlowKeyDoesNotStallPartition", s.testSlowKey)
	t.Run("ConsumeBatch", s.testConsumeBatch)
	t.Run("OffsetsSurviveRestart", s.testOffsetsSurviveRestart)
	t.Run("ConsumerKilledBeforeCommit", s.testConsumerKilledBeforeCommit)
	t.Run("ProducerKilledAfterCommit", s.testProducerKilledAfterCommit)
}

type suite struct{ b Backend }

// Topic returns a topic name no other test uses (a Kafka broker is shared between runs).
func Topic(t testing.TB, name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "axontest." + name + "." + hex.EncodeToString(b)
}

func (s *suite) open(t *testing.T) (eventlog.Log, func(t *testing.T) eventlog.Log) {
	t.Helper()
	l, reopen := s.b.Open(t)
	t.Cleanup(func() { _ = l.Close() })
	return l, func(t *testing.T) eventlog.Log {
		l2 := reopen(t)
		t.Cleanup(func() { _ = l2.Close() })
		return l2
	}
}

func (s *suite) topic(t *testing.T, l eventlog.Log, name string, partitions int) string {
	t.Helper()
	topic := Topic(t, name)
	if err := l.EnsureTopics(context.Background(), partitions, topic); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	return topic
}

// consuming is a running Consume call.
type consuming struct {
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
	checked bool
}

// consume starts Consume in the background; the test fails if it returns an error.
func consume(t *testing.T, c eventlog.Consumer, topic, group string, h eventlog.Handler) *consuming {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &consuming{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = c.Consume(ctx, topic, group, h)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the Consume call and waits for it to return.
func (r *consuming) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	r.wait(t, 60*time.Second)
}

// wait waits for the Consume call to return (after stop, or after its handler cancelled it).
func (r *consuming) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		t.Fatal("Consume did not return")
	}
	if !r.checked && r.err != nil {
		t.Errorf("Consume returned %v", r.err)
	}
	r.checked = true
}

func (s *suite) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(s.b.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", s.b.Timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder collects deliveries per key.
type recorder struct {
	mu   sync.Mutex
	keys map[string][]string
	n    int
}

func newRecorder() *recorder { return &recorder{keys: map[string][]string{}} }

func (r *recorder) add(m eventlog.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[m.Key] = append(r.keys[m.Key], string(m.Value))
	r.n++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *recorder) get(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.keys[key]...)
}

func publish(t *testing.T, p eventlog.Producer, msgs ...eventlog.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, msgs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func msg(topic, key, value string) eventlog.Message {
	return eventlog.Message{Topic: topic, Key: key, Value: []byte(value)}
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
