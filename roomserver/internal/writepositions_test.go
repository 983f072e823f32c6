package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestQueryWritePosition checks what the roomserver reports against the topic 2 records
// it staged: a room's position is its newest record, a user's the newest record of a
// transaction that wrote for them (as sender or membership target), failures record
// nothing, and a restarted roomserver covers every earlier write.
func TestQueryWritePosition(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		newest := func() int64 {
			evs := rs.outbox.roomEvents(t)
			return evs[len(evs)-1].StreamPos
		}
		q := func(room, u string) int64 {
			t.Helper()
			pos, err := rs.QueryWritePosition(ctx, room, u)
			if err != nil {
				t.Fatal(err)
			}
			return pos
		}
		if got := q("", alice); got != 0 {
			t.Fatalf("empty server: %d", got)
		}
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		created := newest()
		if q(room, "") != created || q("", alice) != created {
			t.Fatalf("after createRoom: room %d alice %d, want %d", q(room, ""), q("", alice), created)
		}
		other := newRoom(t, rs, api.CreateRoomRequest{UserID: carol, Preset: "public_chat"})
		if q(room, "") != created || q("", alice) != created || q(other, "") != newest() {
			t.Fatal("a write to another room moved this room's or alice's position")
		}
		// An invite is written for its target too.
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "invite", RoomID: room, Sender: alice, Target: bob}); err != nil {
			t.Fatal(err)
		}
		invited := newest()
		if q("", bob) != invited || q("", alice) != invited || q(room, "") != invited {
			t.Fatalf("after invite: bob %d alice %d room %d, want %d", q("", bob), q("", alice), q(room, ""), invited)
		}
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		joined := newest()
		if q(room, "") != joined || q("", bob) != joined || q("", alice) != invited {
			t.Fatalf("after join: room %d bob %d alice %d", q(room, ""), q("", bob), q("", alice))
		}
		msg, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.message", Content: json.RawMessage(`{"body":"x"}`)})
		if err != nil {
			t.Fatal(err)
		}
		// A redaction's position covers its redaction record, staged after the event.
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.redaction", Redacts: msg.EventID, Content: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if last := rs.outbox.roomEvents(t)[len(rs.outbox.roomEvents(t))-1]; last.Type != api.OutputRedaction || q("", alice) != last.StreamPos || q(room, "") != last.StreamPos {
			t.Fatalf("after redaction: alice %d room %d, last record %s at %d", q("", alice), q(room, ""), last.Type, last.StreamPos)
		}
		// A refused write records nothing.
		before := q("", carol)
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: carol, Type: "m.room.name", StateKey: sk(""), Content: json.RawMessage(`{"name":"x"}`)}); errCode(err) != "M_FORBIDDEN" {
			t.Fatalf("carol renaming alice's room: %v", err)
		}
		if q("", carol) != before {
			t.Fatal("a refused write moved carol's position")
		}

		// A new process over the same database has recorded nothing: its answer covers
		// every write before it started.
		restarted := newAPI(rs.RoomserverInternalAPI.db, testServer, rs.events, rs.outbox, testTopics)
		all := newest()
		for _, c := range [][2]string{{room, ""}, {"", carol}, {"!unknown:x", "@nobody:x"}} {
			if got, err := restarted.QueryWritePosition(ctx, c[0], c[1]); err != nil || got != all {
				t.Errorf("restarted %v: %d, %v; want %d", c, got, err, all)
			}
		}
	})
}
