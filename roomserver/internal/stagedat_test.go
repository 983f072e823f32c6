package internal

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// headerOutbox keeps the staged messages in memory, headers included.
type headerOutbox struct {
	mu   sync.Mutex
	msgs []eventlog.Message
}

func (o *headerOutbox) Stage(_ context.Context, _ *sql.Tx, msgs ...eventlog.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, msgs...)
	return nil
}
func (o *headerOutbox) Kick()                         {}
func (o *headerOutbox) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// TestOutputsNoteStagingTime: every record a write stages (topics 2, 4 and 6) carries the
// time it was staged (eventlog.HeaderStagedAt), between the write's start and its end.
func TestOutputsNoteStagingTime(t *testing.T) {
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "rs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sdb, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ob := &headerOutbox{}
	rs := newAPI(sdb, testServer, newMatrixEventLib(testServer, "ed25519:test", key), ob, testTopics)
	start := time.Now().Truncate(time.Microsecond)
	if _, err := rs.CreateRoom(context.Background(), &api.CreateRoomRequest{UserID: "@alice:" + testServer, Preset: "public_chat"}); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	topics := map[string]int{}
	for _, m := range ob.msgs {
		topics[m.Topic]++
		at, ok := eventlog.StagedAt(m)
		if !ok || at.Before(start) || at.After(end) {
			t.Fatalf("%s record staged at %v (%v), want between %v and %v", m.Topic, at, ok, start, end)
		}
	}
	if topics[testTopics.RoomEvent] == 0 || topics[testTopics.Membership] == 0 {
		t.Fatalf("staged records by topic: %v", topics)
	}
}
