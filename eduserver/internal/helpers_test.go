package internal

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

const (
	testServer = "edu.test"
	testTopic  = "axon.edu"
	// testFedTopic is topic 5 (federation tests).
	testFedTopic = "axon.edu_federation"
)

// collector is an eventlog.Producer that keeps what the outbox relays.
type collector struct {
	mu   sync.Mutex
	msgs []eventlog.Message
}

func (c *collector) Publish(_ context.Context, msgs ...eventlog.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *collector) Close() error { return nil }

// fakeTimer is a scheduled function the test fires by hand.
type fakeTimer struct {
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

// fixture is an eduserver on a fresh database with a real outbox relaying into a collector.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	e      *EDUServer
	db     *storage.Database
	ob     *outbox.Outbox
	prod   *collector
	now    time.Time
	timers []*fakeTimer
}

// forEachDB runs fn on SQLite and on Postgres.
func forEachDB(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			fn(t, newFixture(t, dsn(t)))
		})
	}
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	db, err := storage.Open(ctx, sdb)
	if err != nil {
		t.Fatal(err)
	}
	prod := &collector{}
	ob, err := outbox.NewOutbox(sdb, "eduserver", prod)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, db: db, ob: ob, prod: prod, now: time.UnixMilli(1_700_000_000_000)}
	f.e = New(db, testServer, ob, testTopic)
	f.e.Now = func() time.Time { return f.now }
	f.e.AfterFunc = func(_ time.Duration, fn func()) Stopper {
		ft := &fakeTimer{f: fn}
		f.timers = append(f.timers, ft)
		return ft
	}
	return f
}

// records relays what is staged and returns every topic 3 record published so far, with
// its key.
func (f *fixture) records() ([]api.OutputEDU, []string) {
	f.t.Helper()
	for {
		n, err := f.ob.Relay(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	f.prod.mu.Lock()
	defer f.prod.mu.Unlock()
	var out []api.OutputEDU
	var keys []string
	for _, m := range f.prod.msgs {
		if m.Topic == testFedTopic {
			continue // fedRecords
		}
		if m.Topic != testTopic {
			f.t.Fatalf("record on topic %q", m.Topic)
		}
		var r api.OutputEDU
		if err := json.Unmarshal(m.Value, &r); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
		keys = append(keys, m.Key)
	}
	return out, keys
}

// fedRecords relays what is staged and returns every topic 5 record published so far,
// with its key.
func (f *fixture) fedRecords() ([]api.OutputFederationEDU, []string) {
	f.t.Helper()
	f.records()
	f.prod.mu.Lock()
	defer f.prod.mu.Unlock()
	var out []api.OutputFederationEDU
	var keys []string
	for _, m := range f.prod.msgs {
		if m.Topic != testFedTopic {
			continue
		}
		var r api.OutputFederationEDU
		if err := json.Unmarshal(m.Value, &r); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
		keys = append(keys, m.Key)
	}
	return out, keys
}
