package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
)

// stateTypes returns "type/state_key" of each current state event of a room.
func stateOf(t *testing.T, rs *testRS, roomID string) map[string]json.RawMessage {
	t.Helper()
	evs, err := rs.QueryCurrentState(context.Background(), roomID, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for _, raw := range evs {
		var e struct {
			Type     string          `json:"type"`
			StateKey string          `json:"state_key"`
			Content  json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		out[e.Type+"/"+e.StateKey] = e.Content
	}
	return out
}

func TestCreateRoomEveryPresetAndVersion(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob := user("alice"), user("bob")
		for _, v := range matrix.RoomVersions() {
			for _, preset := range []string{"private_chat", "trusted_private_chat", "public_chat"} {
				t.Run(fmt.Sprintf("v%s/%s", v.ID, preset), func(t *testing.T) {
					before := len(rs.outbox.roomEvents(t))
					resp, err := rs.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, RoomVersion: string(v.ID), Preset: preset,
						Name: "room " + string(v.ID), Topic: "topic", Invite: []string{bob},
						RoomAliasName: fmt.Sprintf("r%s-%s", v.ID, preset)})
					if err != nil {
						t.Fatal(err)
					}
					if got, _ := rs.QueryRoomVersion(ctx, resp.RoomID); got != string(v.ID) {
						t.Fatalf("room version %q", got)
					}
					state := stateOf(t, rs, resp.RoomID)
					for _, k := range []string{"m.room.create/", "m.room.member/" + alice, "m.room.member/" + bob, "m.room.power_levels/",
						"m.room.join_rules/", "m.room.history_visibility/", "m.room.guest_access/", "m.room.name/", "m.room.topic/", "m.room.canonical_alias/"} {
						if state[k] == nil {
							t.Errorf("state has no %s", k)
						}
					}
					if len(state) != 10 {
						t.Errorf("state has %d entries", len(state))
					}
					wantRule := map[string]string{"private_chat": "invite", "trusted_private_chat": "invite", "public_chat": "public"}[preset]
					if string(state["m.room.join_rules/"]) != `{"join_rule":"`+wantRule+`"}` {
						t.Errorf("join rules %s", state["m.room.join_rules/"])
					}
					if m, _, _ := rs.QueryMembership(ctx, resp.RoomID, bob); m != "invite" {
						t.Errorf("bob's membership %q", m)
					}
					// Topic 2 got all 10 events (create, join, pl, alias, 3 preset, name, topic, invite), in DAG order.
					outs := rs.outbox.roomEvents(t)[before:]
					if len(outs) != 10 {
						t.Fatalf("%d topic 2 records", len(outs))
					}
					var prevID string
					for i, o := range outs {
						var ev struct {
							Type       string            `json:"type"`
							Depth      int64             `json:"depth"`
							PrevEvents []json.RawMessage `json:"prev_events"`
						}
						_ = json.Unmarshal(o.NewRoomEvent.Event, &ev)
						if ev.Depth != int64(i+1) {
							t.Errorf("event %d has depth %d", i, ev.Depth)
						}
						if i > 0 && (len(ev.PrevEvents) != 1 || !json.Valid(ev.PrevEvents[0]) || !containsID(ev.PrevEvents[0], prevID)) {
							t.Errorf("event %d prev_events %s, want %s", i, ev.PrevEvents, prevID)
						}
						prevID = o.NewRoomEvent.EventID
					}
					if outs[0].NewRoomEvent.RoomVersion != string(v.ID) {
						t.Errorf("output room version %q", outs[0].NewRoomEvent.RoomVersion)
					}
				})
			}
		}
	})
}

func containsID(raw json.RawMessage, id string) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == id
	}
	var pair []json.RawMessage
	return json.Unmarshal(raw, &pair) == nil && len(pair) == 2 && containsID(pair[0], id)
}

// TestCreateRoomRefusedLeavesNothing checks that a createRoom the auth rules refuse half-way
// (the override takes the creator's power away, so the preset events fail) stores no room,
// no event, no output and no alias.
func TestCreateRoomRefusedLeavesNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice := user("alice")
		tests := []struct {
			name    string
			req     api.CreateRoomRequest
			wantErr string
		}{
			{"override removes creator's power", api.CreateRoomRequest{UserID: alice, RoomVersion: "10", RoomAliasName: "gone",
				PowerLevelContentOverride: json.RawMessage(`{"users":{}}`)}, "M_INVALID_ROOM_STATE"},
			{"initial_state the creator may not send", api.CreateRoomRequest{UserID: alice, RoomVersion: "11", RoomAliasName: "gone",
				PowerLevelContentOverride: json.RawMessage(`{"events":{"m.room.encryption":101}}`),
				InitialState:              []api.InitialStateEvt{{Type: "m.room.encryption", Content: json.RawMessage(`{"algorithm":"x"}`)}}}, "M_INVALID_ROOM_STATE"},
			{"float in a v6+ room", api.CreateRoomRequest{UserID: alice, RoomVersion: "6", Name: "x", RoomAliasName: "gone",
				InitialState: []api.InitialStateEvt{{Type: "m.custom", Content: json.RawMessage(`{"n":1.5}`)}}}, "M_BAD_JSON"},
		}
		for _, tc := range tests {
			before, beforeOut := eventCount(t, rs), len(rs.outbox.roomEvents(t))
			_, err := rs.CreateRoom(ctx, &tc.req)
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("%s: error %q, want %q (%v)", tc.name, got, tc.wantErr, err)
			}
			if eventCount(t, rs) != before || len(rs.outbox.roomEvents(t)) != beforeOut {
				t.Fatalf("%s: refused createRoom left events or outputs", tc.name)
			}
			if _, _, err := rs.ResolveRoomAlias(ctx, "#gone:"+testServer); errCode(err) != "M_NOT_FOUND" {
				t.Fatalf("%s: alias of a refused room exists: %v", tc.name, err)
			}
			if rooms, _ := rs.QueryRoomsForUser(ctx, alice, nil); len(rooms) != 0 {
				t.Fatalf("%s: alice is in %v", tc.name, rooms)
			}
			var n int
			if err := rs.db.QueryRow(`SELECT COUNT(*) FROM roomserver_rooms`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%s: %d rooms stored (%v)", tc.name, n, err)
			}
		}
	})
}
