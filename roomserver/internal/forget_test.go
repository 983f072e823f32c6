package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestForgetStagesRecord checks POST /forget's topic 2 record (OutputForget): refusals and
// no-ops stage nothing; a forget stages one record at the next dense position, keyed by
// the room, and records it for read-your-writes under the user and the room; the next
// event takes the position after it.
func TestForgetStagesRecord(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		if _, err := rs.QueryWritePosition(ctx, "", alice); err != nil { // the floor: 0
			t.Fatal(err)
		}
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Preset: "public_chat"})
		for _, action := range []string{"join", "leave"} {
			if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: action, RoomID: room, Sender: bob}); err != nil {
				t.Fatal(err)
			}
		}
		count := func() int { return len(rs.outbox.messages(t, testTopics.RoomEvent)) }
		before := count()
		tests := []struct {
			name, room, user, wantErr string
		}{
			{"joined", room, alice, "M_UNKNOWN"},
			{"never in the room", room, carol, ""},
			{"unknown room", "!nope:" + testServer, bob, "M_NOT_FOUND"},
		}
		for _, tt := range tests {
			if err := rs.Forget(ctx, tt.room, tt.user); errCode(err) != tt.wantErr {
				t.Fatalf("%s: %v, want %q", tt.name, err, tt.wantErr)
			}
			if count() != before {
				t.Fatalf("%s: staged a topic 2 record", tt.name)
			}
		}
		last := rs.outbox.roomEvents(t)[before-1].StreamPos
		for i := 1; i <= 2; i++ { // forgetting again stages again (a no-op downstream)
			if err := rs.Forget(ctx, room, bob); err != nil {
				t.Fatal(err)
			}
			msgs := rs.outbox.messages(t, testTopics.RoomEvent)
			if len(msgs) != before+i {
				t.Fatalf("forget %d: %d records, want %d", i, len(msgs), before+i)
			}
			var out api.OutputEvent
			if err := json.Unmarshal(msgs[len(msgs)-1].Value, &out); err != nil {
				t.Fatal(err)
			}
			want := api.OutputForgetData{RoomID: room, UserID: bob}
			if msgs[len(msgs)-1].Key != room || out.Type != api.OutputForget || out.Forget == nil || *out.Forget != want ||
				out.NewRoomEvent != nil || out.StreamPos != last+int64(i) {
				t.Fatalf("forget %d: key %s record %+v (forget %+v), want position %d", i, msgs[len(msgs)-1].Key, out, out.Forget, last+int64(i))
			}
			for _, who := range [][2]string{{"", bob}, {room, ""}} {
				if pos, err := rs.QueryWritePosition(ctx, who[0], who[1]); err != nil || pos != out.StreamPos {
					t.Fatalf("forget %d: write position of %v is %d (%v), want %d", i, who, pos, err, out.StreamPos)
				}
			}
		}
		if pos, _ := rs.QueryWritePosition(ctx, "", alice); pos > last {
			t.Fatalf("bob's forget moved alice's write position to %d", pos)
		}
		rooms, _ := rs.QueryRoomsForUser(ctx, bob, []string{"leave"})
		if contains(rooms, room) {
			t.Fatalf("forgotten room still listed: %v", rooms)
		}
		// Dense positions: the next event follows the forget.
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message", Content: json.RawMessage(`{"body":"x"}`)}); err != nil {
			t.Fatal(err)
		}
		evs := rs.outbox.roomEvents(t)
		for i, e := range evs {
			if e.StreamPos != evs[0].StreamPos+int64(i) {
				t.Fatalf("positions not dense at record %d: %d after %d", i, e.StreamPos, evs[i-1].StreamPos)
			}
		}
		// Joining again clears the roomserver's flag too.
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		if rooms, _ := rs.QueryRoomsForUser(ctx, bob, []string{"join"}); !contains(rooms, room) {
			t.Fatalf("rejoined room not listed: %v", rooms)
		}
	})
}
