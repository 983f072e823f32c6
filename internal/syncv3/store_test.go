package syncv3

import (
	"context"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestStore: sessions round-trip, the per-device and total bounds evict the oldest idle
// sessions, expired sessions are deleted and stop counting for to-device deletion.
func TestStore(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := NewStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewStore(ctx, db); err != nil { // migrating again is a no-op
				t.Fatal(err)
			}
			t0 := time.UnixMilli(1_700_000_000_000)
			cutoff := t0.Add(-time.Hour)
			ack := func(n int64) *int64 { return &n }
			mk := func(id, dev string, used time.Time, a *int64) {
				t.Helper()
				sess := &Session{ID: id, UserID: "@a:x", DeviceID: dev, LastUsed: used, ToDeviceAck: a,
					Params: Request{Typing: &TypingRequest{RoomID: "!r:x"}}}
				if err := s.Create(ctx, sess, cutoff, 2, 4); err != nil {
					t.Fatal(err)
				}
			}
			exists := func(id string) bool {
				t.Helper()
				sess, err := s.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return sess != nil
			}
			mk("s1", "D1", t0, ack(5))
			got, err := s.Get(ctx, "s1")
			if err != nil || got == nil || got.Params.Typing == nil || got.Params.Typing.RoomID != "!r:x" || *got.ToDeviceAck != 5 || !got.LastUsed.Equal(t0) {
				t.Fatalf("round trip: %+v %v", got, err)
			}
			mk("s2", "D1", t0.Add(time.Second), ack(3))
			mk("s3", "D1", t0.Add(2*time.Second), nil) // third of D1: s1 (oldest idle) goes
			if exists("s1") || !exists("s2") || !exists("s3") {
				t.Fatal("per-device bound")
			}
			if m, ok, err := s.MinToDeviceAck(ctx, "@a:x", "D1", cutoff); err != nil || !ok || m != 3 {
				t.Fatalf("min ack %d %v %v", m, ok, err)
			}
			mk("s4", "D2", t0.Add(3*time.Second), nil)
			mk("s5", "D3", t0.Add(4*time.Second), nil)
			mk("s6", "D4", t0.Add(5*time.Second), nil) // fifth overall: s2 goes
			if exists("s2") || !exists("s6") {
				t.Fatal("total bound")
			}
			if _, ok, _ := s.MinToDeviceAck(ctx, "@a:x", "D1", cutoff); ok {
				t.Fatal("s3 never asked for to-device messages yet counts")
			}
			got, _ = s.Get(ctx, "s3")
			got.ToDeviceAck, got.LastUsed = ack(9), t0.Add(10*time.Second)
			if ok, err := s.Save(ctx, got); err != nil || !ok {
				t.Fatalf("save %v %v", ok, err)
			}
			if m, ok, _ := s.MinToDeviceAck(ctx, "@a:x", "D1", cutoff); !ok || m != 9 {
				t.Fatalf("after save %d %v", m, ok)
			}
			if _, ok, _ := s.MinToDeviceAck(ctx, "@a:x", "D1", t0.Add(11*time.Second)); ok {
				t.Fatal("an expired session counts")
			}
			n, err := s.DeleteExpired(ctx, t0.Add(4*time.Second+time.Millisecond))
			if err != nil || n != 2 || exists("s4") || exists("s5") || !exists("s3") || !exists("s6") {
				t.Fatalf("delete expired: %d %v", n, err)
			}
			if ok, err := s.Save(ctx, &Session{ID: "s4", LastUsed: t0}); err != nil || ok {
				t.Fatalf("saving a deleted session: %v %v", ok, err)
			}
		})
	}
}
