package internal

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

func TestMembershipFlows(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol, dave := user("alice"), user("bob"), user("carol"), user("dave")
		for _, version := range []string{"1", "6", "7", "10", "11", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: version, Preset: "private_chat", RoomAliasName: "m" + version})
				type step struct {
					name           string
					req            api.MembershipRequest
					wantErr        string
					target         string
					wantMembership string
					noop           bool // answers with the current event, stores nothing
				}
				steps := []step{
					{name: "uninvited join to invite-only room", req: api.MembershipRequest{Action: "join", Sender: bob}, wantErr: "M_FORBIDDEN", target: bob},
					{name: "member without power invites", req: api.MembershipRequest{Action: "invite", Sender: carol, Target: bob}, wantErr: "M_FORBIDDEN", target: bob},
					{name: "invite", req: api.MembershipRequest{Action: "invite", Sender: alice, Target: bob}, target: bob, wantMembership: "invite"},
					{name: "invited join by alias", req: api.MembershipRequest{Action: "join", Sender: bob, RoomID: "#m" + version + ":" + testServer}, target: bob, wantMembership: "join"},
					{name: "member kicks admin", req: api.MembershipRequest{Action: "kick", Sender: bob, Target: alice}, wantErr: "M_FORBIDDEN", target: alice, wantMembership: "join"},
					{name: "member bans admin", req: api.MembershipRequest{Action: "ban", Sender: bob, Target: alice}, wantErr: "M_FORBIDDEN", target: alice, wantMembership: "join"},
					{name: "join again is a no-op", req: api.MembershipRequest{Action: "join", Sender: bob}, target: bob, wantMembership: "join", noop: true},
					{name: "leave", req: api.MembershipRequest{Action: "leave", Sender: bob, Reason: "bye"}, target: bob, wantMembership: "leave"},
					{name: "leave again", req: api.MembershipRequest{Action: "leave", Sender: bob}, wantErr: "M_FORBIDDEN", target: bob, wantMembership: "leave"},
					{name: "invite carol", req: api.MembershipRequest{Action: "invite", Sender: alice, Target: carol}, target: carol, wantMembership: "invite"},
					{name: "reject invite", req: api.MembershipRequest{Action: "leave", Sender: carol}, target: carol, wantMembership: "leave"},
					{name: "invite dave", req: api.MembershipRequest{Action: "invite", Sender: alice, Target: dave}, target: dave, wantMembership: "invite"},
					{name: "dave joins", req: api.MembershipRequest{Action: "join", Sender: dave}, target: dave, wantMembership: "join"},
					{name: "kick dave", req: api.MembershipRequest{Action: "kick", Sender: alice, Target: dave, Reason: "r"}, target: dave, wantMembership: "leave"},
					{name: "kick someone not there", req: api.MembershipRequest{Action: "kick", Sender: alice, Target: dave}, wantErr: "M_FORBIDDEN", target: dave, wantMembership: "leave"},
					{name: "ban dave", req: api.MembershipRequest{Action: "ban", Sender: alice, Target: dave}, target: dave, wantMembership: "ban"},
					{name: "banned re-invite", req: api.MembershipRequest{Action: "invite", Sender: alice, Target: dave}, wantErr: "M_FORBIDDEN", target: dave, wantMembership: "ban"},
					{name: "unban", req: api.MembershipRequest{Action: "unban", Sender: alice, Target: dave}, target: dave, wantMembership: "leave"},
					{name: "unban again is a no-op", req: api.MembershipRequest{Action: "unban", Sender: alice, Target: dave}, target: dave, wantMembership: "leave", noop: true},
					{name: "unban not banned", req: api.MembershipRequest{Action: "unban", Sender: alice, Target: dave, Reason: "again"}, wantErr: "M_FORBIDDEN", target: dave, wantMembership: "leave"},
					{name: "unknown room", req: api.MembershipRequest{Action: "join", Sender: bob, RoomID: "!nowhere:" + testServer}, wantErr: "M_NOT_FOUND", target: bob, wantMembership: "leave"},
					{name: "unknown alias", req: api.MembershipRequest{Action: "join", Sender: bob, RoomID: "#nowhere:" + testServer}, wantErr: "M_NOT_FOUND", target: bob, wantMembership: "leave"},
					{name: "remote invite needs federation", req: api.MembershipRequest{Action: "invite", Sender: alice, Target: "@x:elsewhere"}, wantErr: "M_FORBIDDEN", target: "@x:elsewhere"},
					{name: "bad action", req: api.MembershipRequest{Action: "dance", Sender: alice}, wantErr: "M_INVALID_PARAM", target: alice, wantMembership: "join"},
				}
				if version != "1" && version != "6" { // knocking exists from v7
					steps = append(steps, step{name: "knock on invite-only room", req: api.MembershipRequest{Action: "knock", Sender: carol}, wantErr: "M_FORBIDDEN", target: carol, wantMembership: "leave"})
				}
				for _, st := range steps {
					before := eventCount(t, rs)
					beforeMemb := len(rs.outbox.messages(t, testTopics.Membership))
					req := st.req
					if req.RoomID == "" {
						req.RoomID = room
					}
					resp, err := rs.PerformMembership(ctx, &req)
					if got := errCode(err); got != st.wantErr {
						t.Fatalf("%s: error %q, want %q (%v)", st.name, got, st.wantErr, err)
					}
					m, eventID, err := rs.QueryMembership(ctx, room, st.target)
					if err != nil {
						t.Fatal(err)
					}
					if m != st.wantMembership {
						t.Fatalf("%s: membership %q, want %q", st.name, m, st.wantMembership)
					}
					memb := rs.outbox.messages(t, testTopics.Membership)[beforeMemb:]
					if st.noop {
						if eventCount(t, rs) != before || len(memb) != 0 || resp.EventID != eventID {
							t.Fatalf("%s: not a no-op (event %s, current %s)", st.name, resp.EventID, eventID)
						}
						continue
					}
					if st.wantErr != "" {
						if eventCount(t, rs) != before || len(memb) != 0 {
							t.Fatalf("%s: refused request stored something", st.name)
						}
						continue
					}
					if resp.EventID != eventID {
						t.Fatalf("%s: membership event %s, QueryMembership says %s", st.name, resp.EventID, eventID)
					}
					// Topic 4: the local target's new membership, keyed by user.
					if len(memb) != 1 {
						t.Fatalf("%s: %d topic 4 records", st.name, len(memb))
					}
					var om api.OutputMembership
					_ = json.Unmarshal(memb[0].Value, &om)
					if memb[0].Key != st.target || om != (api.OutputMembership{RoomID: room, UserID: st.target, Membership: st.wantMembership, EventID: eventID}) {
						t.Fatalf("%s: topic 4 %s %+v", st.name, memb[0].Key, om)
					}
				}
				rooms, _ := rs.QueryRoomsForUser(ctx, bob, []string{"leave"})
				if !contains(rooms, room) {
					t.Fatalf("bob's left rooms %v", rooms)
				}
				if err := rs.Forget(ctx, room, alice); errCode(err) != "M_UNKNOWN" {
					t.Fatalf("forget while joined: %v", err)
				}
				if err := rs.Forget(ctx, room, bob); err != nil {
					t.Fatal(err)
				}
				rooms, _ = rs.QueryRoomsForUser(ctx, bob, []string{"leave"})
				if contains(rooms, room) {
					t.Fatalf("forgotten room still listed: %v", rooms)
				}
			})
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestKnockAndRestrictedJoin(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		space := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", Preset: "public_chat"})
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: space, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		restricted := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", InitialState: []api.InitialStateEvt{{
			Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` + space + `"}]}`)}}})
		knock := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, RoomVersion: "10", InitialState: []api.InitialStateEvt{{
			Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"knock"}`)}}})
		tests := []struct {
			name    string
			req     api.MembershipRequest
			wantErr string
		}{
			{"restricted join by member of the allowed room", api.MembershipRequest{Action: "join", RoomID: restricted, Sender: bob}, ""},
			{"restricted join by outsider", api.MembershipRequest{Action: "join", RoomID: restricted, Sender: carol}, "M_FORBIDDEN"},
			{"knock", api.MembershipRequest{Action: "knock", RoomID: knock, Sender: carol}, ""},
			{"join after knock without invite", api.MembershipRequest{Action: "join", RoomID: knock, Sender: carol}, "M_FORBIDDEN"},
			{"knock on public room", api.MembershipRequest{Action: "knock", RoomID: space, Sender: carol}, "M_FORBIDDEN"},
		}
		for _, tc := range tests {
			_, err := rs.PerformMembership(ctx, &tc.req)
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("%s: error %q, want %q (%v)", tc.name, got, tc.wantErr, err)
			}
		}
		ev, _ := rs.QueryCurrentState(ctx, restricted, []api.StateTuple{{EventType: "m.room.member", StateKey: bob}})
		if len(ev) != 1 || !json.Valid(ev[0]) || !strings.Contains(string(ev[0]), `"join_authorised_via_users_server":"`+alice+`"`) {
			t.Fatalf("restricted join event %s", ev)
		}
		if m, _, _ := rs.QueryMembership(ctx, knock, carol); m != "knock" {
			t.Fatalf("carol's membership %q", m)
		}
	})
}
