package storage

import (
	"context"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// TestReadPositionsSameRoom: a read receipt counts where the event it names is, in its
// own room only; one naming an event of another room (POST /receipt does not check that
// the event is in the room) moves nothing and is pending, as an unknown event is.
func TestReadPositionsSameRoom(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			_, d := openDB(t, dsn(t))
			ctx := context.Background()
			other := msg("$other")
			other.RoomID = "!other:test"
			for i, e := range []Event{msg("$a1"), msg("$a2"), other} {
				if _, err := d.StoreRoomEvent(ctx, int64(i+1), &NewRoomEvent{Event: e}); err != nil {
					t.Fatal(err)
				}
			}
			for i, r := range []Receipt{
				{RoomID: room, UserID: "@u:test", Type: "m.read", EventID: "$a1"},
				// A private receipt in room naming the other room's newer event.
				{RoomID: room, UserID: "@u:test", Type: "m.read.private", EventID: "$other"},
			} {
				r.TS, r.StreamPos = int64(i+1), int64(i+1)
				if _, err := d.StoreReceipt(ctx, &r); err != nil {
					t.Fatal(err)
				}
			}
			pos, pending, err := d.ReadPositions(ctx, "@u:test", []string{room, "!other:test"})
			if err != nil {
				t.Fatal(err)
			}
			if pos[room] != 1 || len(pos) != 1 || !pending[room] {
				t.Fatalf("positions %v pending %v, want %s at 1 (the other room's event ignored) and pending", pos, pending, room)
			}
		})
	}
}
