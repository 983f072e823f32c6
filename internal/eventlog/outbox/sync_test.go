package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
)

// syncingProducer is a fakeProducer that is also an eventlog.Syncer and records, in one
// list, what was published, each Sync, and how many rows the outbox table held at the Sync.
type syncingProducer struct {
	fakeProducer
	mu       sync.Mutex
	calls    []string
	failSync bool
	rows     func() int
}

func (p *syncingProducer) Publish(ctx context.Context, msgs ...eventlog.Message) error {
	if err := p.fakeProducer.Publish(ctx, msgs...); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		p.calls = append(p.calls, "publish "+string(m.Value))
	}
	return nil
}

func (p *syncingProducer) Sync(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failSync {
		p.calls = append(p.calls, "sync failed")
		return errors.New("disk gone")
	}
	p.calls = append(p.calls, fmt.Sprintf("sync (%d rows staged)", p.rows()))
	return nil
}

func (p *syncingProducer) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprint(p.calls)
}

// A producer that is an eventlog.Syncer is synced before the outbox deletes the rows it
// relayed — on both dialects — and a failed Sync leaves the rows staged.
func TestSyncBeforeDelete(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, dsn(t))
			p := &syncingProducer{}
			ob, err := NewOutbox(db, "comp", p, WithDeleteInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			p.rows = func() int { return rowCount(t, db, "comp_outbox") }

			stage(t, db, ob, m("k", "1"), m("k", "2"))
			if n, err := ob.Relay(ctx); err != nil || n != 2 {
				t.Fatalf("Relay = %d, %v", n, err)
			}
			if got, want := p.log(), "[publish 1 publish 2 sync (2 rows staged)]"; got != want {
				t.Fatalf("calls %s, want %s", got, want)
			}
			if r := rowCount(t, db, "comp_outbox"); r != 0 {
				t.Fatalf("%d rows left after a synced relay, want 0", r)
			}

			p.failSync = true
			stage(t, db, ob, m("k", "3"))
			_, err = ob.Relay(ctx)
			if r := rowCount(t, db, "comp_outbox"); r != 1 {
				t.Fatalf("%d rows left after a failed Sync (Relay: %v), want the 1 staged", r, err)
			}
			p.failSync = false
			if name == "postgres" {
				// The failed round rolled back: the row is relayed again, then deleted.
				if n, err := ob.Relay(ctx); err != nil || n != 1 {
					t.Fatalf("Relay after a failed Sync = %d, %v", n, err)
				}
			} else if err := ob.flushDeletes(ctx); err != nil {
				// SQLite: published once, its DELETE waits for the next Sync.
				t.Fatal(err)
			}
			if r := rowCount(t, db, "comp_outbox"); r != 0 {
				t.Fatalf("%d rows left after Sync recovered, want 0", r)
			}
		})
	}
}

// Rows a SQLite outbox deferred are synced before Run's final delete at shutdown.
func TestSyncBeforeShutdownDelete(t *testing.T) {
	db := openDB(t, testenv.SQLitePath(t, "shutdown"))
	p := &syncingProducer{}
	p.rows = func() int { return rowCount(t, db, "comp_outbox") }
	ob, err := NewOutbox(db, "comp", p, WithDeleteInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stage(t, db, ob, m("k", "1"))
	stop := runRelay(t, ob)
	waitPublished(t, &p.fakeProducer, 1, 10*time.Second)
	stop()
	if got, want := p.log(), "[publish 1 sync (1 rows staged)]"; got != want {
		t.Fatalf("calls %s, want %s", got, want)
	}
	if r := rowCount(t, db, "comp_outbox"); r != 0 {
		t.Fatalf("%d rows left after Run stopped, want 0", r)
	}
}
