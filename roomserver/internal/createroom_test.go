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
