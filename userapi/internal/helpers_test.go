package internal

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

const testServer = "example.org"
const testTopic = "axon.account_data"

// fakeOutbox stages messages as rows of its own table inside the caller's transaction, like
// a real outbox, so a rolled-back transaction leaves no staged message behind.
type fakeOutbox struct {
	db      *sqlutil.DB
	mu      sync.Mutex
	kicks   int
	failErr error // when set, Stage writes its row and then fails
}

func newFakeOutbox(t testing.TB, db *sqlutil.DB) *fakeOutbox {
	t.Helper()
	if _, err := db.Exec(`CREATE TABLE test_outbox (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, msg_key TEXT NOT NULL, value TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return &fakeOutbox{db: db}
}

func (o *fakeOutbox) Stage(ctx context.Context, tx *sql.Tx, msgs ...eventlog.Message) error {
	for _, m := range msgs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO test_outbox (id, topic, msg_key, value)
			SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3 FROM test_outbox`, m.Topic, m.Key, string(m.Value)); err != nil {
			return err
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failErr
}

func (o *fakeOutbox) Kick() {
	o.mu.Lock()
	o.kicks++
	o.mu.Unlock()
}

func (o *fakeOutbox) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (o *fakeOutbox) setFail(err error) {
	o.mu.Lock()
	o.failErr = err
	o.mu.Unlock()
}

func (o *fakeOutbox) kickCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.kicks
}

// staged returns the committed staged messages in order.
func (o *fakeOutbox) staged(t *testing.T) []eventlog.Message {
	t.Helper()
	rows, err := o.db.Query(`SELECT topic, msg_key, value FROM test_outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventlog.Message
	for rows.Next() {
		var m eventlog.Message
		var v string
		if err := rows.Scan(&m.Topic, &m.Key, &v); err != nil {
			t.Fatal(err)
		}
		m.Value = []byte(v)
		out = append(out, m)
	}
	return out
}

// fakeClock is a settable clock for last-seen and cache tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	api    *UserAPI
	db     *sqlutil.DB
	outbox *fakeOutbox
	clock  *fakeClock
}

// forEachDB runs fn as a subtest on SQLite and on Postgres.
func forEachDB(t *testing.T, cfg Config, fn func(t *testing.T, e *testEnv)) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			fn(t, newTestEnv(t, dsn(t), cfg))
		})
	}
}

func newTestEnv(t testing.TB, dsn string, cfg Config) *testEnv {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob := newFakeOutbox(t, db)
	clock := &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.MinCost
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	u, err := New(context.Background(), db, testServer, ob, testTopic, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{api: u, db: db, outbox: ob, clock: clock}
}

func (e *testEnv) mustAccount(t testing.TB, localpart, password string) *api.Account {
	t.Helper()
	a, err := e.api.CreateAccount(context.Background(), &api.CreateAccountRequest{Localpart: localpart, Password: password})
	if err != nil {
		t.Fatalf("CreateAccount(%s): %v", localpart, err)
	}
	return a
}

func (e *testEnv) mustDevice(t testing.TB, userID, deviceID string) *api.Device {
	t.Helper()
	d, err := e.api.CreateDevice(context.Background(), &api.CreateDeviceRequest{UserID: userID, DeviceID: deviceID, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("CreateDevice(%s, %s): %v", userID, deviceID, err)
	}
	return d
}

// wantErrCode fails unless err carries errcode want ("" means no error).
func wantErrCode(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var me *httputil.MatrixError
	if !errors.As(err, &me) {
		t.Fatalf("error = %v, want %s", err, want)
	}
	if me.ErrCode != want {
		t.Fatalf("errcode = %s (%s), want %s", me.ErrCode, me.Err, want)
	}
}

func cachedTestDevice(deviceID string) storage.TokenDevice {
	return storage.TokenDevice{DeviceRow: storage.DeviceRow{Localpart: "alice", DeviceID: deviceID}, AccountType: 1}
}
