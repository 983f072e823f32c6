package internal

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestRoomHeadFollowsTheDatabase runs writes of every kind in one room and, after each,
// checks that the head kept for the room's next write (roomhead.go) says what the database
// says: the current snapshot, the forward extremities with their depths, and every state
// entry it holds. Refused writes, forks and state resolution must leave no stale head.
func TestRoomHeadFollowsTheDatabase(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob := user("alice"), user("bob")
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
		var lastID string
		send := func(sender, typ string, stateKey *string, content string) error {
			resp, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: sender, Type: typ, StateKey: stateKey,
				Content: json.RawMessage(content)})
			if err == nil {
				lastID = resp.EventID
			}
			return err
		}
		member := func(action, sender, target string) error {
			_, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: action, RoomID: room, Sender: sender, Target: target})
			return err
		}
		fork := func() error {
			return rs.writeRoom(ctx, "test", room, func(ctx context.Context, w *roomWriter) error {
				_, err := w.send(ctx, eventTemplate{Type: "m.room.topic", StateKey: sk(""), Content: json.RawMessage(`{"topic":"fork"}`),
					Prev: []string{lastID}}, alice, sendOpts{})
				return err
			})
		}
		steps := []struct {
			name    string
			run     func() error
			wantErr string
		}{
			{"message", func() error { return send(alice, "m.room.message", nil, `{"body":"1"}`) }, ""},
			{"refused: non-member", func() error { return send(bob, "m.room.message", nil, `{"body":"x"}`) }, "M_FORBIDDEN"},
			{"join", func() error { return member("join", bob, bob) }, ""},
			{"message by the new member", func() error { return send(bob, "m.room.message", nil, `{"body":"2"}`) }, ""},
			{"power levels raise events_default", func() error {
				return send(alice, "m.room.power_levels", sk(""), `{"users":{"`+alice+`":100},"events_default":50}`)
			}, ""},
			{"refused: below the new level", func() error { return send(bob, "m.room.message", nil, `{"body":"3"}`) }, "M_FORBIDDEN"},
			{"fork", fork, ""},
			{"message after the fork merges", func() error { return send(alice, "m.room.message", nil, `{"body":"4"}`) }, ""},
			{"leave", func() error { return member("leave", bob, bob) }, ""},
			{"refused: left", func() error { return send(bob, "m.room.message", nil, `{"body":"5"}`) }, "M_FORBIDDEN"},
			{"name", func() error { return send(alice, "m.room.name", sk(""), `{"name":"n"}`) }, ""},
		}
		for _, st := range steps {
			err := st.run()
			if got := errCode(err); got != st.wantErr {
				t.Fatalf("%s: error %v, want %q", st.name, err, st.wantErr)
			}
			head := rs.heads.take(room)
			if head == nil {
				continue // the next write reads the room afresh
			}
			rs.heads.put(room, head)
			db := rs.db2(t)
			r, err := db.GetRoom(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			if head.room != *r {
				t.Fatalf("%s: head room %+v, database %+v", st.name, head.room, *r)
			}
			if head.extremities != nil {
				want, err := db.ExtremityDepths(ctx, room)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(head.extremities, want) {
					t.Fatalf("%s: head extremities %v, database %v", st.name, head.extremities, want)
				}
			}
			if head.joined != nil {
				// Topic 6's destinations follow the joined members (roomhead.go).
				members, err := db.RoomMembers(ctx, room, "join")
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]struct{}{}
				for _, m := range members {
					want[m] = struct{}{}
				}
				if !reflect.DeepEqual(head.joined, want) || head.servers[testServer] != len(members) || len(head.servers) > 1 {
					t.Fatalf("%s: head joined %v (servers %v), database %v", st.name, head.joined, head.servers, members)
				}
			}
			for tuple, ref := range head.state {
				refs, err := db.CurrentStateRefs(ctx, room, nil)
				if err != nil {
					t.Fatal(err)
				}
				if refs[tuple] != ref {
					t.Fatalf("%s: head has %v = %+v, database %+v", st.name, tuple, ref, refs[tuple])
				}
			}
		}
		// The last message's prev_events are the database's extremities before it.
		before, _ := rs.db2(t).ForwardExtremities(ctx, room)
		if err := send(alice, "m.room.message", nil, `{"body":"last"}`); err != nil {
			t.Fatal(err)
		}
		row, err := rs.db2(t).EventByID(ctx, lastID)
		if err != nil {
			t.Fatal(err)
		}
		var parsed struct {
			Prev []string `json:"prev_events"`
		}
		if err := json.Unmarshal(row.JSON, &parsed); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(parsed.Prev, before) {
			t.Fatalf("last prev_events %v, want %v", parsed.Prev, before)
		}
	})
}
