package syncapi_test

import (
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// BenchmarkIncrementalSync measures one incremental /sync (timeout 0) through the HTTP
// handler for a user in 10 rooms of 5 members and 30 events each, on SQLite: with nothing
// new, and with one new event in one of the rooms (the event's consumption is not timed).
func BenchmarkIncrementalSync(b *testing.B) {
	h := newHarness(b, testenv.SQLitePath(b, "bench"))
	alice := user("alice")
	for r := 0; r < 10; r++ {
		rid := fmt.Sprintf("!bench%d:test", r)
		h.createRoom(rid, alice)
		for m := 0; m < 4; m++ {
			h.member(rid, user(fmt.Sprint("m", m)), user(fmt.Sprint("m", m)), "join")
		}
		for i := 0; i < 23; i++ {
			h.msg(rid, alice, fmt.Sprint(i))
		}
	}
	since := h.sync("alice_tok", "").NextBatch

	b.Run("nothing_new", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if s := h.sync("alice_tok", "since="+since); len(s.Rooms.Join) != 0 {
				b.Fatal("unexpected rooms")
			}
		}
	})
	b.Run("one_new_event", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			h.msg("!bench3:test", user("m1"), "new")
			b.StartTimer()
			s := h.sync("alice_tok", "since="+since)
			if n := len(s.Rooms.Join["!bench3:test"].Timeline.Events); n != 1 {
				b.Fatalf("timeline of %d events", n)
			}
			since = s.NextBatch
		}
	})
}
