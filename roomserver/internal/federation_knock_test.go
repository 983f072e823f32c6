package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestRemoteKnock: b.test's bob knocks on a room of a.test whose join rule is knock
// (arrow 17: make_knock and send_knock on a through the fake federationsender): both
// servers hold his knock, b's topic 2 carries it with the room's stripped state in
// unsigned.knock_room_state (what /sync's knock section shows), and withdrawing it is a
// remote leave. A public room, or a room of a version without knocking, refuses the knock.
func TestRemoteKnock(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		room := func(version, joinRule string) string {
			t.Helper()
			cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat", RoomVersion: version, Name: "door"})
			if err != nil {
				t.Fatal(err)
			}
			if joinRule != "" {
				empty := ""
				if _, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: cr.RoomID, Sender: alice, Type: "m.room.join_rules",
					StateKey: &empty, Content: json.RawMessage(`{"join_rule":"` + joinRule + `"}`)}); err != nil {
					t.Fatal(err)
				}
			}
			return cr.RoomID
		}
		knockRoom := room("10", "knock")
		for name, r := range map[string]string{"public": room("10", ""), "v6": room("6", "knock")} {
			if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "knock", RoomID: r, Sender: bob,
				ServerNames: []string{"a.test"}}); errCode(err) != "M_FORBIDDEN" {
				t.Fatalf("knock on the %s room: %v", name, err)
			}
		}

		before := len(p.b.outbox.roomEvents(t))
		resp, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "knock", RoomID: knockRoom, Sender: bob,
			ServerNames: []string{"a.test"}, Reason: "let me in"})
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range []*testRS{p.a, p.b} {
			if m, id, err := rs.QueryMembership(ctx, knockRoom, bob); err != nil || m != "knock" || id != resp.EventID {
				t.Fatalf("%s: bob's membership %q %q %v", rs.serverName, m, id, err)
			}
		}
		outs := p.b.outbox.roomEvents(t)[before:]
		if len(outs) != 1 || outs[0].NewRoomEvent == nil || outs[0].NewRoomEvent.EventID != resp.EventID {
			t.Fatalf("b's topic 2 after the knock: %+v", outs)
		}
		var ev struct {
			Content  map[string]string `json:"content"`
			Unsigned struct {
				KnockRoomState []struct {
					Type string `json:"type"`
				} `json:"knock_room_state"`
			} `json:"unsigned"`
		}
		if err := json.Unmarshal(outs[0].NewRoomEvent.Event, &ev); err != nil {
			t.Fatal(err)
		}
		types := map[string]bool{}
		for _, s := range ev.Unsigned.KnockRoomState {
			types[s.Type] = true
		}
		if ev.Content["reason"] != "let me in" || !types["m.room.create"] || !types["m.room.join_rules"] || !types["m.room.name"] {
			t.Fatalf("the knock on b's topic 2: %s", outs[0].NewRoomEvent.Event)
		}

		// Withdrawn: a remote leave.
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "leave", RoomID: knockRoom, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		for _, rs := range []*testRS{p.a, p.b} {
			if m, _, err := rs.QueryMembership(ctx, knockRoom, bob); err != nil || m != "leave" {
				t.Fatalf("%s: bob's membership after withdrawing %q %v", rs.serverName, m, err)
			}
		}
	})
}
