package internal

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
)

// planSummary is "type/state_key=content-key:value" for each planned event, for comparing plans.
func planTypes(p *roomPlan) string {
	var parts []string
	for _, e := range p.Events {
		parts = append(parts, e.Type+"/"+*e.StateKey)
	}
	return strings.Join(parts, " ")
}

func contentOf(t *testing.T, p *roomPlan, typ string) map[string]any {
	t.Helper()
	for _, e := range p.Events {
		if e.Type == typ {
			var m map[string]any
			if err := json.Unmarshal(e.Content, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	return nil
}

func TestPlanCreateRoom(t *testing.T) {
	alice, bob := "@alice:hs", "@bob:hs"
	tests := []struct {
		name      string
		req       api.CreateRoomRequest
		wantErr   string
		wantOrder string
		check     func(t *testing.T, p *roomPlan)
	}{
		{name: "defaults: private, v10, creator listed at 100", req: api.CreateRoomRequest{UserID: alice},
			wantOrder: "m.room.member/@alice:hs m.room.power_levels/ m.room.join_rules/ m.room.history_visibility/ m.room.guest_access/",
			check: func(t *testing.T, p *roomPlan) {
				if p.Version.ID != matrix.DefaultRoomVersion || matrix.DefaultRoomVersion != "10" {
					t.Errorf("version %s", p.Version.ID)
				}
				pl := contentOf(t, p, "m.room.power_levels")
				if users := pl["users"].(map[string]any); len(users) != 1 || users[alice] != float64(100) {
					t.Errorf("users %v, want the creator at 100", users)
				}
				if ts := pl["events"].(map[string]any)["m.room.tombstone"]; ts != float64(100) {
					t.Errorf("tombstone level %v", ts)
				}
				var create map[string]any
				_ = json.Unmarshal(p.Create, &create)
				if create["creator"] != alice || create["room_version"] != "10" {
					t.Errorf("create content %v", create)
				}
			}},
		{name: "private, v12", req: api.CreateRoomRequest{UserID: alice, RoomVersion: "12"},
			wantOrder: "m.room.member/@alice:hs m.room.power_levels/ m.room.join_rules/ m.room.history_visibility/ m.room.guest_access/",
			check: func(t *testing.T, p *roomPlan) {
				if p.Version.ID != "12" {
					t.Errorf("version %s", p.Version.ID)
				}
				if jr := contentOf(t, p, "m.room.join_rules")["join_rule"]; jr != "invite" {
					t.Errorf("join rule %v", jr)
				}
				pl := contentOf(t, p, "m.room.power_levels")
				if users := pl["users"].(map[string]any); len(users) != 0 {
					t.Errorf("v12 creator listed in users: %v", users)
				}
				if ts := pl["events"].(map[string]any)["m.room.tombstone"]; ts != float64(150) {
					t.Errorf("tombstone level %v", ts)
				}
				if pl["invite"] != float64(0) {
					t.Errorf("private chat invite level %v", pl["invite"])
				}
				var create map[string]any
				_ = json.Unmarshal(p.Create, &create)
				if _, ok := create["creator"]; ok || create["room_version"] != "12" {
					t.Errorf("create content %v", create)
				}
			}},
		{name: "public via visibility, full order", req: api.CreateRoomRequest{UserID: alice, Visibility: "public", RoomVersion: "10",
			Name: "N", Topic: "T", RoomAliasName: "pub", Invite: []string{bob, bob}, IsDirect: true,
			InitialState: []api.InitialStateEvt{{Type: "m.room.encryption", Content: json.RawMessage(`{"algorithm":"m.megolm.v1.aes-sha2"}`)}}},
			wantOrder: "m.room.member/@alice:hs m.room.power_levels/ m.room.canonical_alias/ m.room.join_rules/ m.room.history_visibility/ m.room.guest_access/ m.room.encryption/ m.room.name/ m.room.topic/ m.room.member/@bob:hs",
			check: func(t *testing.T, p *roomPlan) {
				if p.Alias != "#pub:hs" || p.Visibility != "public" {
					t.Errorf("alias %q visibility %q", p.Alias, p.Visibility)
				}
				if c := contentOf(t, p, "m.room.guest_access")["guest_access"]; c != "forbidden" {
					t.Errorf("guest access %v", c)
				}
				var create map[string]any
				_ = json.Unmarshal(p.Create, &create)
				if create["creator"] != alice {
					t.Errorf("v10 creator %v", create["creator"])
				}
				last := p.Events[len(p.Events)-1]
				if !strings.Contains(string(last.Content), `"is_direct":true`) {
					t.Errorf("invite content %s", last.Content)
				}
				if u := contentOf(t, p, "m.room.power_levels")["users"].(map[string]any); u[alice] != float64(100) || len(u) != 1 {
					t.Errorf("users %v", u)
				}
				if inv := contentOf(t, p, "m.room.power_levels")["invite"]; inv != float64(50) {
					t.Errorf("public room invite level %v", inv)
				}
			}},
		{name: "trusted private v11: invitees at 100", req: api.CreateRoomRequest{UserID: alice, Preset: "trusted_private_chat", RoomVersion: "11", Invite: []string{bob}},
			check: func(t *testing.T, p *roomPlan) {
				if u := contentOf(t, p, "m.room.power_levels")["users"].(map[string]any); u[bob] != float64(100) || u[alice] != float64(100) {
					t.Errorf("users %v", u)
				}
			}},
		{name: "trusted private v12: invitees are additional creators", req: api.CreateRoomRequest{UserID: alice, Preset: "trusted_private_chat", Invite: []string{bob}, RoomVersion: "12",
			CreationContent: json.RawMessage(`{"additional_creators":["@carol:hs", "@bob:hs"], "m.federate": false}`)},
			check: func(t *testing.T, p *roomPlan) {
				var create map[string]any
				_ = json.Unmarshal(p.Create, &create)
				if ac, _ := json.Marshal(create["additional_creators"]); string(ac) != `["@carol:hs","@bob:hs"]` || create["m.federate"] != false {
					t.Errorf("create %v", create)
				}
				if u := contentOf(t, p, "m.room.power_levels")["users"].(map[string]any); len(u) != 0 {
					t.Errorf("users %v", u)
				}
			}},
		{name: "override and initial_state win over defaults", req: api.CreateRoomRequest{UserID: alice, Preset: "public_chat",
			PowerLevelContentOverride: json.RawMessage(`{"ban": 10, "users": {"@alice:hs": 90}}`),
			InitialState:              []api.InitialStateEvt{{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"invite"}`)}}},
			wantOrder: "m.room.member/@alice:hs m.room.power_levels/ m.room.history_visibility/ m.room.guest_access/ m.room.join_rules/",
			check: func(t *testing.T, p *roomPlan) {
				pl := contentOf(t, p, "m.room.power_levels")
				if pl["ban"] != float64(10) || pl["users"].(map[string]any)[alice] != float64(90) || pl["kick"] != float64(50) {
					t.Errorf("power levels %v", pl)
				}
				if jr := contentOf(t, p, "m.room.join_rules")["join_rule"]; jr != "invite" {
					t.Errorf("join rule %v", jr)
				}
			}},
		{name: "creator profile in the join", req: api.CreateRoomRequest{UserID: alice, CreatorMemberContent: json.RawMessage(`{"displayname":"Alice","membership":"leave"}`)},
			check: func(t *testing.T, p *roomPlan) {
				if c := contentOf(t, p, "m.room.member"); c["displayname"] != "Alice" || c["membership"] != "join" {
					t.Errorf("join content %v", c)
				}
			}},
		{name: "creator content not an object", req: api.CreateRoomRequest{UserID: alice, CreatorMemberContent: json.RawMessage(`1`)}, wantErr: "M_BAD_JSON"},
		{name: "unknown version", req: api.CreateRoomRequest{UserID: alice, RoomVersion: "99"}, wantErr: "M_UNSUPPORTED_ROOM_VERSION"},
		{name: "unknown preset", req: api.CreateRoomRequest{UserID: alice, Preset: "party"}, wantErr: "M_INVALID_PARAM"},
		{name: "creation_content not an object", req: api.CreateRoomRequest{UserID: alice, CreationContent: json.RawMessage(`[1]`)}, wantErr: "M_BAD_JSON"},
		{name: "override not an object", req: api.CreateRoomRequest{UserID: alice, PowerLevelContentOverride: json.RawMessage(`"x"`)}, wantErr: "M_BAD_JSON"},
		{name: "initial_state content not an object", req: api.CreateRoomRequest{UserID: alice,
			InitialState: []api.InitialStateEvt{{Type: "m.room.topic", Content: json.RawMessage(`"x"`)}}}, wantErr: "M_BAD_JSON"},
		{name: "bad alias", req: api.CreateRoomRequest{UserID: alice, RoomAliasName: "a:b"}, wantErr: "M_INVALID_PARAM"},
		{name: "bad invitee", req: api.CreateRoomRequest{UserID: alice, Invite: []string{"bob"}}, wantErr: "M_INVALID_PARAM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planCreateRoom(&tc.req, "hs")
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("error %q, want %q (%v)", got, tc.wantErr, err)
			}
			if err != nil {
				return
			}
			if tc.wantOrder != "" && planTypes(p) != tc.wantOrder {
				t.Errorf("order\n got %s\nwant %s", planTypes(p), tc.wantOrder)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}
