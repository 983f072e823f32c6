package eventlogtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
)

// consumeBatch starts ConsumeBatch in the background; the test fails if it returns an error.
func consumeBatch(t *testing.T, c eventlog.Consumer, topic, group string, maxBatch int, h eventlog.BatchHandler) *consuming {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &consuming{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = c.ConsumeBatch(ctx, topic, group, maxBatch, h)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// ConsumeBatch hands a key's waiting messages over in runs of one key, in publish order, at
// most maxBatch long; a lone message goes alone; a failing run is retried whole; exactly the
// published messages are delivered. On one partition: a0 is published alone and its call
// blocks; a1–a9 then queue behind it, and the marker m (published after them, another
// key) being handled shows they all reached the consumer. The first run a1–a4 fails once.
func (s *suite) testConsumeBatch(t *testing.T) {
	l, _ := s.open(t)
	topic := s.topic(t, l, "batch", 1)
	const maxBatch = 4
	started := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var runs []string // every call, as "v,v,…"
	failed := false
	rec := newRecorder() // the messages of successful calls
	consumeBatch(t, l.Consumer(), topic, "g", maxBatch, func(ctx context.Context, msgs []eventlog.Message) error {
		vals := make([]string, len(msgs))
		for i, m := range msgs {
			vals[i] = string(m.Value)
			if m.Key != msgs[0].Key {
				t.Errorf("run mixes keys %q and %q", msgs[0].Key, m.Key)
			}
		}
		mu.Lock()
		runs = append(runs, strings.Join(vals, ","))
		fail := vals[0] == "a1" && !failed
		failed = failed || fail
		mu.Unlock()
		if vals[0] == "a0" {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if fail {
			return errors.New("transient failure")
		}
		for _, m := range msgs {
			rec.add(m)
		}
		return nil
	})
	publish(t, l.Producer(), msg(topic, "a", "a0"))
	s.waitFor(t, "the call with a0", func() bool {
		select {
		case <-started:
			return true
		default:
			return false
		}
	})
	var rest []eventlog.Message
	for _, v := range seq("a", 1, 10) {
		rest = append(rest, msg(topic, "a", v))
	}
	publish(t, l.Producer(), append(rest, msg(topic, "m", "m"))...)
	s.waitFor(t, "the marker while a0 blocks", func() bool { return rec.count() == 1 })
	close(release)
	s.waitFor(t, "all of a", func() bool { return rec.count() == 11 })
	if got, want := rec.get("a"), seq("a", 0, 10); !equal(got, want) {
		t.Fatalf("a delivered %v, want %v", got, want)
	}
	if got := rec.get("m"); !equal(got, []string{"m"}) {
		t.Fatalf("m delivered %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	var aRuns []string
	for _, r := range runs {
		if r != "m" {
			aRuns = append(aRuns, r)
		}
	}
	want := []string{"a0", "a1,a2,a3,a4", "a1,a2,a3,a4", "a5,a6,a7,a8", "a9"}
	if !equal(aRuns, want) {
		t.Fatalf("runs of a %s, want %s", fmt.Sprint(aRuns), fmt.Sprint(want))
	}
}
