package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/internal/dispatch"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// fakeProducer records published messages and fails while fail is set.
type fakeProducer struct {
	mu   sync.Mutex
	got  []eventlog.Message
	fail bool
}

func (p *fakeProducer) Publish(_ context.Context, msgs ...eventlog.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("broker down")
	}
	p.got = append(p.got, msgs...)
	return nil
}

func (p *fakeProducer) Close() error { return nil }

func (p *fakeProducer) values() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.got {
		out = append(out, m.Key+"="+string(m.Value))
	}
	return out
}

func (p *fakeProducer) setFail(f bool) {
	p.mu.Lock()
	p.fail = f
	p.mu.Unlock()
}

func openDB(t *testing.T, dsn string) *sqlutil.DB {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// runRelay runs ob.Run in the background; stop cancels it and fails the test if Run
// returned an error.
func runRelay(t *testing.T, ob *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
	}
}

// waitPublished waits until p has published n messages, failing the test after within.
func waitPublished(t *testing.T, p *fakeProducer, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(p.values()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("published %d of %d messages in %v", len(p.values()), n, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func stage(t *testing.T, db *sqlutil.DB, ob *Outbox, msgs ...eventlog.Message) {
	t.Helper()
	err := sqlutil.WithTransaction(context.Background(), db.DB, func(tx *sql.Tx) error {
		return ob.Stage(context.Background(), tx, msgs...)
	})
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
}

func m(key, value string) eventlog.Message {
	return eventlog.Message{Topic: "t", Key: key, Value: []byte(value), Headers: map[string]string{"h": value}}
}

func TestNewOutboxValidates(t *testing.T) {
	db := openDB(t, testenv.SQLitePath(t, "v"))
	tests := []struct {
		component string
		producer  eventlog.Producer
		ok        bool
	}{
		{"roomserver", &fakeProducer{}, true},
		{"room_server2", &fakeProducer{}, true},
		{"", &fakeProducer{}, false},
		{"Roomserver", &fakeProducer{}, false},
		{"room; DROP TABLE x", &fakeProducer{}, false},
		{"roomserver", nil, false},
	}
	for _, tc := range tests {
		_, err := NewOutbox(db, tc.component, tc.producer)
		if (err == nil) != tc.ok {
			t.Errorf("NewOutbox(%q, %v) error = %v, want ok=%v", tc.component, tc.producer, err, tc.ok)
		}
	}
}

func TestOutbox(t *testing.T) {
	for name, mkDSN := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("RelaysCommittedInOrderOnly", func(t *testing.T) { testRelayOrder(t, openDB(t, mkDSN(t))) })
			t.Run("PublishFailureKeepsRows", func(t *testing.T) { testPublishFailure(t, openDB(t, mkDSN(t))) })
			t.Run("ConcurrentStagersKeepKeyOrder", func(t *testing.T) { testConcurrentStagers(t, openDB(t, mkDSN(t))) })
		})
	}
}

// Only committed rows are relayed, oldest first, in batches, headers included; relayed
// rows are gone.
func testRelayOrder(t *testing.T, db *sqlutil.DB) {
	ctx := context.Background()
	p := &fakeProducer{}
	ob, err := NewOutbox(db, "comp", p, WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	stage(t, db, ob, m("a", "1"), m("b", "1"), m("a", "2"))
	err = sqlutil.WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
		if err := ob.Stage(ctx, tx, m("a", "rolled back")); err != nil {
			return err
		}
		return errors.New("rejected")
	})
	if err == nil {
		t.Fatal("rejected transaction committed")
	}
	stage(t, db, ob, m("a", "3"))
	if err := ob.Stage(ctx, nil, eventlog.Message{Key: "x"}); err == nil {
		t.Fatal("Stage accepted a message without topic")
	}
	for _, want := range []int{2, 2, 0} {
		n, err := ob.Relay(ctx)
		if err != nil || n != want {
			t.Fatalf("Relay = %d, %v; want %d", n, err, want)
		}
	}
	want := []string{"a=1", "b=1", "a=2", "a=3"}
	if got := p.values(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	if p.got[0].Headers["h"] != "1" || p.got[0].Topic != "t" {
		t.Fatalf("published %+v: topic or headers lost", p.got[0])
	}
	if n, err := ob.Pending(ctx); err != nil || n != 0 {
		t.Fatalf("Pending = %d, %v after relaying everything", n, err)
	}
}

// A failing publish deletes nothing; Run retries and gets the rows out once it works.
func testPublishFailure(t *testing.T, db *sqlutil.DB) {
	ctx := context.Background()
	p := &fakeProducer{fail: true}
	ob, err := NewOutbox(db, "comp", p, WithPollInterval(20*time.Millisecond),
		WithBackoff(dispatch.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	stage(t, db, ob, m("a", "1"), m("a", "2"))
	if _, err := ob.Relay(ctx); err == nil {
		t.Fatal("Relay succeeded with a failing producer")
	}
	if n, _ := ob.Pending(ctx); n != 2 {
		t.Fatalf("Pending = %d after a failed publish, want 2", n)
	}
	stop := runRelay(t, ob)
	time.Sleep(50 * time.Millisecond)
	p.setFail(false)
	waitPublished(t, p, 2, 10*time.Second) // Run relays once the producer recovered
	stop()
	if got := p.values(); fmt.Sprint(got) != "[a=1 a=2]" {
		t.Fatalf("published %v", got)
	}
}

// Many transactions stage for the same keys at once; with the relay running, every key's
// messages are published in the order their transactions committed.
func testConcurrentStagers(t *testing.T, db *sqlutil.DB) {
	ctx := context.Background()
	p := &fakeProducer{}
	ob, err := NewOutbox(db, "comp", p, WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE counters (k TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	stop := runRelay(t, ob)

	// Each transaction stages the key's next number, read from a counter row in the same
	// transaction: commit order and number order agree only if the outbox keeps commit order.
	const workers, perWorker = 4, 15
	keys := []string{"!a", "!b"}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				key := keys[(w+i)%len(keys)]
				err := sqlutil.WithTransaction(ctx, db.DB, func(tx *sql.Tx) error {
					// Stage first: on Postgres it takes the key's lock, which serialises the
					// counter update below per key.
					var n int
					if err := ob.Stage(ctx, tx, eventlog.Message{Topic: "t", Key: key, Value: []byte("placeholder")}); err != nil {
						return err
					}
					if err := tx.QueryRowContext(ctx, `INSERT INTO counters (k, n) VALUES ($1, 1)
						ON CONFLICT (k) DO UPDATE SET n = counters.n + 1 RETURNING n`, key).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE comp_outbox SET value = $1 WHERE id = (SELECT MAX(id) FROM comp_outbox WHERE msg_key = $2)`,
						[]byte(fmt.Sprint(n)), key)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				ob.Kick()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitPublished(t, p, workers*perWorker, 20*time.Second)
	stop()
	next := map[string]int{}
	for _, v := range p.values() {
		var key string
		var n int
		if _, err := fmt.Sscanf(v, "%2s=%d", &key, &n); err != nil {
			t.Fatalf("bad value %q: %v", v, err)
		}
		next[key]++
		if n != next[key] {
			t.Fatalf("key %s: published %d where %d was due; all: %v", key, n, next[key], p.values())
		}
	}
}
