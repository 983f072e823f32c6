package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
)

func msg(p int32, off int64, key string) eventlog.Message {
	return eventlog.Message{Partition: p, Offset: off, Key: key, Value: []byte(fmt.Sprint(off))}
}

// recorder collects the commits a dispatcher reports.
type recorder struct {
	mu      sync.Mutex
	commits map[int32][]int64
}

func (r *recorder) commit(p int32, next int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.commits == nil {
		r.commits = map[int32][]int64{}
	}
	r.commits[p] = append(r.commits[p], next)
}

func (r *recorder) last(p int32) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.commits[p]
	if len(c) == 0 {
		return -1
	}
	return c[len(c)-1]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestPerKeyOrderAndCommit(t *testing.T) {
	tests := []struct {
		name      string
		keys      int
		perKey    int
		maxActive int
	}{
		{"one key", 1, 50, 4},
		{"many keys, few workers", 20, 20, 2},
		{"many keys, many workers", 20, 20, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string][]int64{}
			var rec recorder
			d := New(context.Background(), Config{
				MaxActive:  tc.maxActive,
				MaxPending: 16,
				Commit:     rec.commit,
				Handler: func(ctx context.Context, m eventlog.Message) error {
					time.Sleep(time.Duration(m.Offset%3) * 100 * time.Microsecond)
					mu.Lock()
					seen[m.Key] = append(seen[m.Key], m.Offset)
					mu.Unlock()
					return nil
				},
			})
			var off int64
			for i := 0; i < tc.perKey; i++ {
				for k := 0; k < tc.keys; k++ {
					if err := d.Submit(context.Background(), msg(0, off, fmt.Sprint("k", k))); err != nil {
						t.Fatal(err)
					}
					off++
				}
			}
			waitFor(t, "all commits", func() bool { return rec.last(0) == off })
			d.Stop()
			for k, offs := range seen {
				if len(offs) != tc.perKey {
					t.Errorf("key %s: %d messages, want %d", k, len(offs), tc.perKey)
				}
				for i := 1; i < len(offs); i++ {
					if offs[i] <= offs[i-1] {
						t.Fatalf("key %s out of order: %v", k, offs)
					}
				}
			}
			prev := int64(-1)
			for _, c := range rec.commits[0] {
				if c <= prev {
					t.Fatalf("commits not increasing: %v", rec.commits[0])
				}
				prev = c
			}
		})
	}
}

// A key whose handler blocks holds back the commit position, but not the other keys.
func TestSlowKeyDoesNotStallOthersNorCommitPastIt(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	done := map[int64]bool{}
	var rec recorder
	d := New(context.Background(), Config{
		MaxActive: 4,
		Commit:    rec.commit,
		Handler: func(ctx context.Context, m eventlog.Message) error {
			if m.Key == "slow" {
				<-release
			}
			mu.Lock()
			done[m.Offset] = true
			mu.Unlock()
			return nil
		},
	})
	must(t, d.Submit(context.Background(), msg(0, 0, "fast")))
	must(t, d.Submit(context.Background(), msg(0, 1, "slow")))
	for i := int64(2); i < 10; i++ {
		must(t, d.Submit(context.Background(), msg(0, i, fmt.Sprint("other", i%3))))
	}
	waitFor(t, "other keys handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) == 9
	})
	if got := rec.last(0); got != 1 {
		t.Fatalf("commit position %d while offset 1 is unfinished; want 1", got)
	}
	close(release)
	waitFor(t, "commit after slow key", func() bool { return rec.last(0) == 10 })
	d.Stop()
}

func TestRetryWithBackoffThenSuccess(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	errs := 0
	var rec recorder
	d := New(context.Background(), Config{
		Backoff: Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond},
		Commit:  rec.commit,
		OnError: func(eventlog.Message, int, error) { mu.Lock(); errs++; mu.Unlock() },
		Handler: func(ctx context.Context, m eventlog.Message) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls < 4 {
				return errors.New("transient")
			}
			if calls == 4 {
				panic("also retried")
			}
			return nil
		},
	})
	must(t, d.Submit(context.Background(), msg(3, 7, "k")))
	waitFor(t, "commit", func() bool { return rec.last(3) == 8 })
	d.Stop()
	if calls != 5 || errs != 4 {
		t.Fatalf("calls=%d errs=%d, want 5 and 4", calls, errs)
	}
}

// Stop drops queued messages without committing them, and a failing message is never committed.
func TestStopDropsUnfinished(t *testing.T) {
	var rec recorder
	started := make(chan struct{}, 1)
	d := New(context.Background(), Config{
		Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond},
		Commit:  rec.commit,
		Handler: func(ctx context.Context, m eventlog.Message) error {
			if m.Offset == 1 {
				select {
				case started <- struct{}{}:
				default:
				}
				return errors.New("always fails")
			}
			return nil
		},
	})
	must(t, d.Submit(context.Background(), msg(0, 0, "a")))
	must(t, d.Submit(context.Background(), msg(0, 1, "b")))
	must(t, d.Submit(context.Background(), msg(0, 2, "b")))
	<-started
	waitFor(t, "commit of offset 0", func() bool { return rec.last(0) == 1 })
	d.Stop()
	if got := rec.last(0); got != 1 {
		t.Fatalf("commit position %d after stop, want 1", got)
	}
	if d.Pending() != 0 {
		t.Fatalf("pending slots %d after stop", d.Pending())
	}
	if err := d.Submit(context.Background(), msg(0, 3, "c")); !errors.Is(err, ErrStopped) {
		t.Fatalf("Submit after Stop = %v, want ErrStopped", err)
	}
}

// Submit blocks when MaxPending messages are unfinished and honours its context.
func TestSubmitBackpressure(t *testing.T) {
	block := make(chan struct{})
	d := New(context.Background(), Config{
		MaxPending: 2,
		Handler: func(ctx context.Context, m eventlog.Message) error {
			<-block
			return nil
		},
	})
	must(t, d.Submit(context.Background(), msg(0, 0, "a")))
	must(t, d.Submit(context.Background(), msg(0, 1, "b")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.Submit(ctx, msg(0, 2, "c")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit over MaxPending = %v, want deadline exceeded", err)
	}
	close(block)
	must(t, d.Submit(context.Background(), msg(0, 2, "c")))
	d.Stop()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
