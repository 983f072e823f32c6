package internal

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
)

// TestRemoteInviteRejectAccept: alice@a.test invites bob@b.test (a builds the invite, b
// countersigns and keeps it as an outlier with its stripped state on topic 2); bob rejects
// it (make_leave/send_leave through a); alice invites again and bob joins through the
// inviter's server (no server name given: v12 room IDs name none), the stored invite
// outlier being part of the join's auth chain.
func TestRemoteInviteRejectAccept(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var a, b *testRS
			a = newNamedRoomserver(t, dsn(t), "a.test", WithFederationSender(&fakeSender{t: t, invitee: func() *testRS { return b }}))
			b = newNamedRoomserver(t, dsn(t), "b.test", WithFederationSender(&fakeSender{t: t, resident: a, joiner: func() *testRS { return b }}))
			alice, bob := "@alice:a.test", "@bob:b.test"
			membership := func(t *testing.T, rs *testRS, room, user string) string {
				t.Helper()
				m, _, err := rs.QueryMembership(ctx, room, user)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			for _, version := range []string{"10", "11", "12"} {
				t.Run("v"+version, func(t *testing.T) {
					cr, err := a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "private_chat", Name: "secret"})
					if err != nil {
						t.Fatal(err)
					}
					room := cr.RoomID
					fedBefore, rsBefore := len(a.fedEvents(t)), len(b.outbox.roomEvents(t))
					inv, err := a.PerformMembership(ctx, &api.MembershipRequest{Action: "invite", RoomID: room, Sender: alice, Target: bob})
					if err != nil {
						t.Fatal(err)
					}
					if m := membership(t, a, room, bob); m != "invite" {
						t.Fatalf("a: bob is %q", m)
					}
					if m := membership(t, b, room, bob); m != "invite" {
						t.Fatalf("b: bob is %q", m)
					}
					// The invite, stored on a with b's signature, goes to b.test on topic 6.
					fed := a.fedEvents(t)[fedBefore:]
					if len(fed) != 1 || fed[0].EventID != inv.EventID || !slices.Contains(fed[0].Destinations, "b.test") ||
						!strings.Contains(string(fed[0].Event), `"b.test"`) {
						t.Fatalf("topic 6 after the invite: %d records", len(fed))
					}
					// b's topic 2: the invite with the stripped state in unsigned.
					outs := b.outbox.roomEvents(t)[rsBefore:]
					if len(outs) != 1 || outs[0].NewRoomEvent == nil || outs[0].NewRoomEvent.EventID != inv.EventID {
						t.Fatalf("b topic 2 after the invite: %+v", outs)
					}
					var ev struct {
						Unsigned struct {
							State []struct {
								Type string `json:"type"`
							} `json:"invite_room_state"`
						} `json:"unsigned"`
					}
					_ = json.Unmarshal(outs[0].NewRoomEvent.Event, &ev)
					var types []string
					for _, s := range ev.Unsigned.State {
						types = append(types, s.Type)
					}
					if !slices.Contains(types, "m.room.create") || !slices.Contains(types, "m.room.name") || !slices.Contains(types, "m.room.member") {
						t.Fatalf("invite_room_state types %v", types)
					}

					// Rejected through a.
					if _, err := b.PerformMembership(ctx, &api.MembershipRequest{Action: "leave", RoomID: room, Sender: bob}); err != nil {
						t.Fatal(err)
					}
					if ma, mb := membership(t, a, room, bob), membership(t, b, room, bob); ma != "leave" || mb != "leave" {
						t.Fatalf("after the rejection: a %q, b %q", ma, mb)
					}
					// A leave of a room b does not hold and where bob is not invited: not found.
					if _, err := b.PerformMembership(ctx, &api.MembershipRequest{Action: "leave", RoomID: room, Sender: bob}); errCodeOf(err) != "M_NOT_FOUND" {
						t.Fatalf("second leave: %v", err)
					}

					// Invited again, accepted: joined through the inviter's server.
					if _, err := a.PerformMembership(ctx, &api.MembershipRequest{Action: "invite", RoomID: room, Sender: alice, Target: bob}); err != nil {
						t.Fatal(err)
					}
					if _, err := b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob}); err != nil {
						t.Fatal(err)
					}
					if ma, mb := membership(t, a, room, bob), membership(t, b, room, bob); ma != "join" || mb != "join" {
						t.Fatalf("after the join: a %q, b %q", ma, mb)
					}
				})
			}
		})
	}
}

// TestRejoinReplacesStaleState: b.test leaves a room of a.test (its last member), misses a
// topic change and messages, and joins again: through a (make_join/send_join), not on the
// state it held; the answered state becomes b's current state and the join its only
// forward extremity, and topic 2 carries the new topic as added state.
func TestRejoinReplacesStaleState(t *testing.T) {
	forEachPair(t, func(t *testing.T, p *pair) {
		ctx := context.Background()
		alice, bob := "@alice:a.test", "@bob:b.test"
		cr, err := p.a.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat", Name: "shared"})
		if err != nil {
			t.Fatal(err)
		}
		room := cr.RoomID
		p.seenA = len(p.a.fedEvents(t))
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob, ServerNames: []string{"a.test"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "leave", RoomID: room, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		p.toA(t)
		if m, _, _ := p.a.QueryMembership(ctx, room, bob); m != "leave" {
			t.Fatalf("a: bob is %q after his leave", m)
		}
		// Missed by b (a no longer sends to it: no member of b is joined).
		topic := "while you were away"
		if _, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.topic", StateKey: strPtr(""),
			Content: mustJSON(map[string]string{"topic": topic})}); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := p.a.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.message",
				Content: mustJSON(map[string]any{"msgtype": "m.text", "body": i})}); err != nil {
				t.Fatal(err)
			}
		}
		p.seenA = len(p.a.fedEvents(t))
		calls, before := p.sender.calls, len(p.b.outbox.roomEvents(t))
		resp, err := p.b.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob})
		if err != nil {
			t.Fatal(err)
		}
		if p.sender.calls != calls+1 {
			t.Fatalf("the rejoin did not go through a (%d PerformJoin calls)", p.sender.calls-calls)
		}
		if got := currentStateMap(t, p.b, room)["m.room.topic|"]; !strings.Contains(got, topic) {
			t.Fatalf("b's topic after the rejoin: %s", got)
		}
		if m, _, _ := p.a.QueryMembership(ctx, room, bob); m != "join" {
			t.Fatalf("a: bob is %q after the rejoin", m)
		}
		ext, err := p.b.RoomserverInternalAPI.db.Reader().ForwardExtremities(ctx, room)
		if err != nil || len(ext) != 1 || ext[0] != resp.EventID {
			t.Fatalf("b's forward extremities %v (join %s) %v", ext, resp.EventID, err)
		}
		outs := p.b.outbox.roomEvents(t)[before:]
		found := false
		for _, o := range outs {
			if o.NewRoomEvent != nil && o.NewRoomEvent.EventID == resp.EventID && len(o.NewRoomEvent.AddsStateEventIDs) > 1 {
				found = true
			}
		}
		if !found {
			t.Fatalf("topic 2 has no join adding the state: %+v", outs)
		}
		// b writes on top of the new state; a accepts it.
		if _, err := p.b.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: bob, Type: "m.room.message",
			Content: mustJSON(map[string]any{"msgtype": "m.text", "body": "back"})}); err != nil {
			t.Fatal(err)
		}
		p.toA(t)
	})
}
