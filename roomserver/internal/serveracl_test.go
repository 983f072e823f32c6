package internal

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestServerACLFiltersTopic6: once a room's m.room.server_acl denies b.test, a's events
// no longer name b.test as a topic 6 destination; allowing it again restores it.
func TestServerACLFiltersTopic6(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		p.seenA = len(p.a.fedEvents(t))
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
			t.Fatal(err)
		}
		p.toA(t)
		send := func(typ, stateKey, content string) []string {
			t.Helper()
			req := &api.SendEventRequest{RoomID: room, Sender: alice, Type: typ, Content: json.RawMessage(content)}
			if typ != "m.room.message" {
				req.StateKey = &stateKey
			}
			resp, err := p.a.SendEvent(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			fa := p.a.fedEvents(t)
			if len(fa) == 0 || fa[len(fa)-1].EventID != resp.EventID {
				return nil // nothing staged for this event
			}
			return fa[len(fa)-1].Destinations
		}
		if d := send("m.room.message", "", `{"msgtype":"m.text","body":"before"}`); !slices.Equal(d, []string{"b.test"}) {
			t.Fatalf("before the ACL: %v", d)
		}
		send("m.room.server_acl", "", `{"allow":["*"],"deny":["b.test"]}`)
		if d := send("m.room.message", "", `{"msgtype":"m.text","body":"denied"}`); len(d) != 0 {
			t.Fatalf("b.test denied but still a destination: %v", d)
		}
		send("m.room.server_acl", "", `{"allow":["*.test"]}`)
		if d := send("m.room.message", "", `{"msgtype":"m.text","body":"again"}`); !slices.Equal(d, []string{"b.test"}) {
			t.Fatalf("b.test allowed again: %v", d)
		}
	})
}
