package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
)

// calls records the runs a BatchHandler was given, as "key:offset" lists.
type calls struct {
	mu   sync.Mutex
	runs [][]string
}

func (c *calls) add(msgs []eventlog.Message) {
	run := make([]string, len(msgs))
	for i, m := range msgs {
		run[i] = fmt.Sprintf("%s:%d", m.Key, m.Offset)
	}
	c.mu.Lock()
	c.runs = append(c.runs, run)
	c.mu.Unlock()
}

// of returns the recorded runs of key.
func (c *calls) of(key string) [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]string
	for _, r := range c.runs {
		if len(r) > 0 && r[0][:len(key)+1] == key+":" {
			out = append(out, r)
		}
	}
	return out
}

func (c *calls) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.runs)
}

// A run holds only messages of one key that were queued when the call started, in order,
// at most MaxBatch of them; a lone message goes alone; other keys go on meanwhile; the
// commit position waits for the blocked key.
func TestBatchesFormFromQueuedMessagesOfOneKey(t *testing.T) {
	// Key a: offset 0 alone (it is handled, and blocks, before the others arrive), then
	// offsets 1–5 and 7–10, with b's offset 6 between them. b: 6, and 11 after (alone or
	// together, depending on when b's first call starts).
	tests := []struct {
		maxBatch int
		wantA    [][]string
	}{
		{1, [][]string{{"a:0"}, {"a:1"}, {"a:2"}, {"a:3"}, {"a:4"}, {"a:5"}, {"a:7"}, {"a:8"}, {"a:9"}, {"a:10"}}},
		{4, [][]string{{"a:0"}, {"a:1", "a:2", "a:3", "a:4"}, {"a:5", "a:7", "a:8", "a:9"}, {"a:10"}}},
		{64, [][]string{{"a:0"}, {"a:1", "a:2", "a:3", "a:4", "a:5", "a:7", "a:8", "a:9", "a:10"}}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("maxBatch ", tc.maxBatch), func(t *testing.T) {
			var rec recorder
			var got calls
			started := make(chan struct{})
			release := make(chan struct{})
			var successes sync.Map
			d := New(context.Background(), Config{
				MaxBatch: tc.maxBatch,
				Commit:   rec.commit,
				OnSuccess: func(m eventlog.Message) {
					if _, dup := successes.LoadOrStore(m.Offset, true); dup {
						t.Errorf("OnSuccess twice for offset %d", m.Offset)
					}
				},
				BatchHandler: func(ctx context.Context, msgs []eventlog.Message) error {
					got.add(msgs)
					if msgs[0].Offset == 0 {
						close(started)
						<-release
					}
					return nil
				},
			})
			must(t, d.Submit(context.Background(), msg(0, 0, "a")))
			<-started
			for off := int64(1); off <= 11; off++ {
				key := "a"
				if off == 6 || off == 11 {
					key = "b"
				}
				must(t, d.Submit(context.Background(), msg(0, off, key)))
			}
			waitFor(t, "key b handled while a is blocked", func() bool { return len(slices.Concat(got.of("b")...)) == 2 })
			if c := rec.last(0); c != -1 {
				t.Fatalf("commit position %d while offset 0 is unfinished", c)
			}
			close(release)
			waitFor(t, "all commits", func() bool { return rec.last(0) == 12 })
			d.Stop()
			if a := got.of("a"); !slices.EqualFunc(a, tc.wantA, slices.Equal) {
				t.Errorf("runs of a = %v, want %v", a, tc.wantA)
			}
			if b := got.of("b"); !slices.Equal(slices.Concat(b...), []string{"b:6", "b:11"}) {
				t.Errorf("runs of b = %v, want b:6 then b:11", b)
			}
			n := 0
			successes.Range(func(any, any) bool { n++; return true })
			if n != 12 {
				t.Errorf("OnSuccess for %d messages, want 12", n)
			}
			if d.Pending() != 0 {
				t.Errorf("pending %d after all commits", d.Pending())
			}
		})
	}
}

// A failing run is retried whole, with the same messages; nothing of it is committed
// until it succeeds, OnError hears of each of its messages, and other keys go on.
func TestFailingBatchRetriedWhole(t *testing.T) {
	var rec recorder
	var got calls
	var mu sync.Mutex
	fail := true
	errs := map[int64]int{}
	started := make(chan struct{})
	release := make(chan struct{})
	d := New(context.Background(), Config{
		MaxBatch: 8,
		Backoff:  Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond},
		Commit:   rec.commit,
		OnError: func(m eventlog.Message, attempt int, err error) {
			mu.Lock()
			errs[m.Offset]++
			mu.Unlock()
		},
		BatchHandler: func(ctx context.Context, msgs []eventlog.Message) error {
			got.add(msgs)
			switch {
			case msgs[0].Offset == 0:
				close(started)
				<-release
			case msgs[0].Key == "a":
				mu.Lock()
				defer mu.Unlock()
				if fail {
					return errors.New("transient")
				}
			}
			return nil
		},
	})
	must(t, d.Submit(context.Background(), msg(0, 0, "a")))
	<-started
	for off := int64(1); off <= 4; off++ {
		must(t, d.Submit(context.Background(), msg(0, off, "a")))
	}
	must(t, d.Submit(context.Background(), msg(0, 5, "b")))
	close(release)
	waitFor(t, "three failed attempts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return errs[1] >= 3
	})
	waitFor(t, "b handled", func() bool { return len(got.of("b")) == 1 })
	if c := rec.last(0); c != 1 {
		t.Fatalf("commit position %d while the run 1–4 fails; want 1", c)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	waitFor(t, "all commits", func() bool { return rec.last(0) == 6 })
	d.Stop()
	runs := got.of("a")
	if len(runs) < 5 {
		t.Fatalf("runs of a = %v, want the first and at least four of 1–4", runs)
	}
	for _, r := range runs[1:] {
		if !slices.Equal(r, []string{"a:1", "a:2", "a:3", "a:4"}) {
			t.Fatalf("retried run %v, want a:1–a:4 whole", r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for off := int64(1); off <= 4; off++ {
		if errs[off] != len(runs)-2 {
			t.Errorf("OnError for offset %d: %d times, want %d", off, errs[off], len(runs)-2)
		}
	}
	if errs[0] != 0 || errs[5] != 0 {
		t.Errorf("OnError for messages outside the failing run: %v", errs)
	}
}

// A run spanning partitions (a key whose partition changed) commits each partition, and
// never past an unfinished message of another key.
func TestBatchCommitsPerPartition(t *testing.T) {
	var rec recorder
	started := make(chan struct{})
	release := make(chan struct{})
	d := New(context.Background(), Config{
		MaxBatch: 16,
		Commit:   rec.commit,
		BatchHandler: func(ctx context.Context, msgs []eventlog.Message) error {
			if msgs[0].Key == "slow" {
				close(started)
				<-release
			}
			return nil
		},
	})
	must(t, d.Submit(context.Background(), msg(1, 10, "slow")))
	<-started
	must(t, d.Submit(context.Background(), msg(0, 0, "k")))
	must(t, d.Submit(context.Background(), msg(0, 1, "k")))
	must(t, d.Submit(context.Background(), msg(1, 11, "k")))
	waitFor(t, "partition 0 committed", func() bool { return rec.last(0) == 2 })
	if c := rec.last(1); c != -1 {
		t.Fatalf("partition 1 committed to %d past the unfinished offset 10", c)
	}
	close(release)
	waitFor(t, "partition 1 committed", func() bool { return rec.last(1) == 12 })
	d.Stop()
}

// Submitting more keys than workers with batches still delivers every message exactly once
// and in order per key.
func TestBatchPerKeyOrderUnderLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]int64{}
	maxRun := 0
	var rec recorder
	d := New(context.Background(), Config{
		MaxActive:  2,
		MaxPending: 64,
		MaxBatch:   5,
		Commit:     rec.commit,
		BatchHandler: func(ctx context.Context, msgs []eventlog.Message) error {
			time.Sleep(200 * time.Microsecond)
			mu.Lock()
			defer mu.Unlock()
			maxRun = max(maxRun, len(msgs))
			for _, m := range msgs {
				if m.Key != msgs[0].Key {
					t.Errorf("run mixes keys %s and %s", msgs[0].Key, m.Key)
				}
				seen[m.Key] = append(seen[m.Key], m.Offset)
			}
			return nil
		},
	})
	var off int64
	for i := 0; i < 40; i++ {
		for k := 0; k < 6; k++ {
			must(t, d.Submit(context.Background(), msg(0, off, fmt.Sprint("k", k))))
			off++
		}
	}
	waitFor(t, "all commits", func() bool { return rec.last(0) == off })
	d.Stop()
	if maxRun > 5 {
		t.Errorf("a run of %d messages, MaxBatch is 5", maxRun)
	}
	for k, offs := range seen {
		if len(offs) != 40 {
			t.Errorf("key %s: %d messages, want 40", k, len(offs))
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] != offs[i-1]+6 {
				t.Fatalf("key %s out of order or repeated: %v", k, offs)
			}
		}
	}
}
