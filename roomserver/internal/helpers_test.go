package internal

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// testOutbox is an eventlog.Outbox that stages messages into a table of the roomserver's
// own database inside the caller's transaction, like the real outbox: a rolled-back
// transaction leaves no message behind, which the tests check.
type testOutbox struct {
	db    *sqlutil.DB
	kicks atomic.Int64
}

func newTestOutbox(t testing.TB, db *sqlutil.DB) *testOutbox {
	if _, err := db.Exec(`CREATE TABLE test_outbox (seq ` + map[sqlutil.Dialect]string{sqlutil.SQLite: "INTEGER PRIMARY KEY AUTOINCREMENT", sqlutil.Postgres: "BIGSERIAL PRIMARY KEY"}[db.Dialect] +
		`, topic TEXT NOT NULL, msg_key TEXT NOT NULL, value TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return &testOutbox{db: db}
}

func (o *testOutbox) Stage(ctx context.Context, tx *sql.Tx, msgs ...eventlog.Message) error {
	for _, m := range msgs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO test_outbox (topic, msg_key, value) VALUES ($1, $2, $3)`, m.Topic, m.Key, string(m.Value)); err != nil {
			return err
		}
	}
	return nil
}
func (o *testOutbox) Kick()                         { o.kicks.Add(1) }
func (o *testOutbox) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// messages returns the staged messages of a topic, in staging order.
func (o *testOutbox) messages(t testing.TB, topic string) []eventlog.Message {
	t.Helper()
	rows, err := o.db.Query(`SELECT topic, msg_key, value FROM test_outbox WHERE topic = $1 ORDER BY seq`, topic)
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

// roomEvents decodes the topic 2 messages.
func (o *testOutbox) roomEvents(t testing.TB) []api.OutputEvent {
	var out []api.OutputEvent
	for _, m := range o.messages(t, testTopics.RoomEvent) {
		var e api.OutputEvent
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

var testTopics = Topics{RoomEvent: "test.room_event", Membership: "test.membership", Federation: "test.federation"}

const testServer = "test.local"

type testRS struct {
	*RoomserverInternalAPI
	outbox *testOutbox
	db     *sqlutil.DB
}

func newTestRoomserver(t testing.TB, dsn string) *testRS {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ob := newTestOutbox(t, db)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testRS{RoomserverInternalAPI: newAPI(sdb, testServer, newMatrixEventLib(testServer, "ed25519:test", key), ob, testTopics), outbox: ob, db: db}
}

// forEachDB runs fn on a fresh roomserver on SQLite and on Postgres.
func forEachDB(t *testing.T, fn func(t *testing.T, rs *testRS)) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) { fn(t, newTestRoomserver(t, dsn(t))) })
	}
}

// errCode returns the Matrix errcode of err, "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.ErrCode
	}
	return "internal: " + err.Error()
}

func user(local string) string { return "@" + local + ":" + testServer }

// db2 returns a storage reader for assertions.
func (rs *testRS) db2(t testing.TB) *storage.Store { return rs.RoomserverInternalAPI.db.Reader() }
