package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
)

// TestCreatorPowerLevelsByVersion: a room made without room_version is
// matrix.DefaultRoomVersion (10); before v12 its creator is listed at 100 in
// m.room.power_levels and may send power levels that list them (the pre-12 way every
// client uses); in v12 the creators are privileged and listing one is refused.
func TestCreatorPowerLevelsByVersion(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob := user("alice"), user("bob")
		tests := []struct {
			version     string // "" = the default
			wantVersion string
			wantListed  bool   // the creator in users at 100 after createRoom
			wantPutErr  string // PUT of power levels listing alice at 100 and bob at 50
		}{
			{"", string(matrix.DefaultRoomVersion), true, ""},
			{"1", "1", true, ""},
			{"6", "6", true, ""},
			{"10", "10", true, ""},
			{"11", "11", true, ""},
			{"12", "12", false, "M_FORBIDDEN"},
		}
		for _, tt := range tests {
			t.Run("v"+tt.wantVersion, func(t *testing.T) {
				room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: tt.version, Preset: "public_chat"})
				if got, _ := rs.QueryRoomVersion(ctx, room); got != tt.wantVersion {
					t.Fatalf("room version %q, want %q", got, tt.wantVersion)
				}
				pl, err := rs.QueryCurrentState(ctx, room, []api.StateTuple{{EventType: "m.room.power_levels"}})
				if err != nil || len(pl) != 1 {
					t.Fatalf("power levels %v %v", pl, err)
				}
				var ev struct {
					Content struct {
						Users map[string]int `json:"users"`
					} `json:"content"`
				}
				_ = json.Unmarshal(pl[0], &ev)
				if listed := ev.Content.Users[alice] == 100; listed != tt.wantListed {
					t.Fatalf("creator listed at 100 = %v, want %v (users %v)", listed, tt.wantListed, ev.Content.Users)
				}
				if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: bob}); err != nil {
					t.Fatal(err)
				}
				content := json.RawMessage(`{"users":{"` + alice + `":100,"` + bob + `":50},"users_default":0,"events_default":0,"state_default":50,"ban":50,"kick":50,"redact":50,"invite":0,"events":{"m.room.power_levels":100}}`)
				_, err = rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.power_levels", StateKey: sk(""), Content: content})
				if got := errCode(err); got != tt.wantPutErr {
					t.Fatalf("PUT power levels: %q, want %q (%v)", got, tt.wantPutErr, err)
				}
			})
		}
	})
}

// TestJoinContent: a join's extra content keys reach the member event; membership and
// join_authorised_via_users_server stay the server's.
func TestJoinContent(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		public := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
		other := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "private_chat"})
		restricted := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", InitialState: []api.InitialStateEvt{{
			Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` + other + `"}]}`)}}})

		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: public, Sender: bob, Reason: "hi",
			Content: json.RawMessage(`{"org.example.tag":{"x":1},"displayname":"Bobby","membership":"leave"}`)}); err != nil {
			t.Fatal(err)
		}
		ev, _ := rs.QueryCurrentState(ctx, public, []api.StateTuple{{EventType: "m.room.member", StateKey: bob}})
		var member struct {
			Content map[string]any `json:"content"`
		}
		if len(ev) != 1 || json.Unmarshal(ev[0], &member) != nil {
			t.Fatalf("bob's member event %s", ev)
		}
		c := member.Content
		if c["membership"] != "join" || c["displayname"] != "Bobby" || c["reason"] != "hi" {
			t.Fatalf("content %v", c)
		}
		if tag, _ := c["org.example.tag"].(map[string]any); tag["x"] != float64(1) {
			t.Fatalf("custom key lost: %v", c)
		}

		// carol is in no allowed room: naming alice as her authoriser must not let her in.
		_, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: restricted, Sender: carol,
			Content: json.RawMessage(`{"join_authorised_via_users_server":"` + alice + `"}`)})
		if got := errCode(err); got != "M_FORBIDDEN" {
			t.Fatalf("restricted join with a forged authoriser: %q (%v), want M_FORBIDDEN", got, err)
		}
	})
}
