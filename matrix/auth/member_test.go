package auth

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

// step is one event added to a room before the event under test; every step must be
// allowed.
type step struct {
	typ, stateKey, sender, content string
}

func member(target, sender, membership string) step {
	return step{TypeMember, target, sender, fmt.Sprintf(`{"membership":%q}`, membership)}
}

// build makes the step's event. For power levels before v12 it keeps the creator alice
// at 100 in users (where it exists as an object and does not name her), so that the
// cases can be written once for every version.
func (s step) build(r *authtest.Room) *authtest.Event {
	content := s.content
	if s.typ == TypePowerLevels && !r.V.PrivilegedCreators {
		var m map[string]json.RawMessage
		var users map[string]json.RawMessage
		if json.Unmarshal([]byte(content), &m) == nil && json.Unmarshal(m["users"], &users) == nil && users != nil {
			if _, has := users[alice]; !has {
				users[alice] = json.RawMessage("100")
				m["users"], _ = json.Marshal(users)
				b, _ := json.Marshal(m)
				content = string(b)
			}
		}
	}
	return r.Build(s.typ, sk(s.stateKey), s.sender, content)
}

type roomCase struct {
	name     string
	from, to int
	joinRule string
	users    map[string]int
	plExtra  string
	setup    []step
	event    step
	want     string
}

func runRoomCases(t *testing.T, cases []roomCase) {
	t.Helper()
	for _, c := range cases {
		for _, v := range versions(c.from, c.to) {
			t.Run(c.name+"/v"+string(v.ID), func(t *testing.T) {
				jr := c.joinRule
				if jr == "" {
					jr = JoinRuleInvite
				}
				r := newRoom(v, jr, c.users, c.plExtra)
				for i, s := range c.setup {
					e := s.build(r)
					if err := check(t, r, e); err != nil {
						t.Fatalf("setup step %d: %v", i, err)
					}
					r.Apply(e)
				}
				expect(t, check(t, r, c.event.build(r)), c.want)
			})
		}
	}
}

func TestMemberJoin(t *testing.T) {
	runRoomCases(t, []roomCase{
		{name: "public join", from: 1, to: 12, joinRule: JoinRulePublic, event: member(bob, bob, "join")},
		{name: "join for someone else", from: 1, to: 12, joinRule: JoinRulePublic, event: member(bob, alice, "join"), want: "member.join.sender"},
		{name: "invite-only without invite", from: 1, to: 12, event: member(bob, bob, "join"), want: "member.join.invite"},
		{name: "invite-only with invite", from: 1, to: 12, setup: []step{member(bob, alice, "invite")}, event: member(bob, bob, "join")},
		{name: "rejoin while joined", from: 1, to: 12, setup: []step{member(bob, alice, "invite"), member(bob, bob, "join")}, event: member(bob, bob, "join")},
		{name: "banned", from: 1, to: 12, joinRule: JoinRulePublic, setup: []step{member(bob, alice, "ban")}, event: member(bob, bob, "join"), want: "member.join.banned"},
		{name: "private rule", from: 1, to: 12, joinRule: JoinRulePrivate, event: member(bob, bob, "join"), want: "member.join.rule"},
		{name: "knock rule with invite", from: 7, to: 12, joinRule: JoinRuleKnock, setup: []step{member(bob, alice, "invite")}, event: member(bob, bob, "join")},
		{name: "knock rule without invite", from: 7, to: 12, joinRule: JoinRuleKnock, event: member(bob, bob, "join"), want: "member.join.invite"},
		{name: "knock rule unknown before v7", from: 1, to: 6, joinRule: JoinRuleKnock, setup: []step{member(bob, alice, "invite")}, event: member(bob, bob, "join"), want: "member.join.rule"},
		{name: "bad membership content", from: 1, to: 12, joinRule: JoinRulePublic, event: step{TypeMember, bob, bob, `{"membership":1}`}, want: "member.content"},
		{name: "unknown membership", from: 1, to: 12, joinRule: JoinRulePublic, event: member(bob, bob, "dance"), want: "member.membership"},
	})
}

// The creator's first join: only directly after the create event, only for the creator
// (content.creator before v11, the sender from v11, additional creators in v12).
func TestCreatorFirstJoin(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := authtest.NewRoom(v, alice, `"additional_creators":["@bob:b.org"]`)
			expect(t, check(t, r, r.Build(TypeMember, sk(alice), alice, `{"membership":"join"}`)), "")
			// Additional creators (v12) get no first-join exception.
			bobJoin := r.Build(TypeMember, sk(bob), bob, `{"membership":"join"}`)
			expect(t, check(t, r, bobJoin), "member.join.invite")
			r.Join(alice)
			// Not the first event after create any more; no join rules means invite.
			expect(t, check(t, r, r.Build(TypeMember, sk(carol), carol, `{"membership":"join"}`)), "member.join.invite")
		})
	}
	// Before v11, a create event sent by someone else naming alice as creator.
	v := matrix.MustRoomVersion("10")
	r := authtest.NewRoom(v, alice, "")
	r.Create.SenderID = "@other:a.org"
	expect(t, check(t, r, r.Build(TypeMember, sk(alice), alice, `{"membership":"join"}`)), "")
	expect(t, check(t, r, r.Build(TypeMember, sk("@other:a.org"), "@other:a.org", `{"membership":"join"}`)), "member.join.invite")
	v11 := matrix.MustRoomVersion("11")
	r = authtest.NewRoom(v11, alice, `"creator":"@other:a.org"`)
	expect(t, check(t, r, r.Build(TypeMember, sk("@other:a.org"), "@other:a.org", `{"membership":"join"}`)), "member.join.invite")
}

func restrictedJoin(via string) step {
	return step{TypeMember, dave, dave, fmt.Sprintf(`{"membership":"join","join_authorised_via_users_server":%q}`, via)}
}

func TestRestrictedJoin(t *testing.T) {
	joinBob := []step{member(bob, bob, "join")}
	runRoomCases(t, []roomCase{
		{name: "via joined inviter", from: 8, to: 12, joinRule: JoinRuleRestricted, event: restrictedJoin(alice)},
		{name: "via joined user at invite level", from: 8, to: 12, joinRule: JoinRuleRestricted, setup: []step{member(bob, alice, "invite"), member(bob, bob, "join")}, event: restrictedJoin(bob)},
		{name: "via user below invite level", from: 8, to: 12, joinRule: JoinRuleRestricted, plExtra: `"invite":50`,
			setup: []step{member(bob, alice, "invite"), member(bob, bob, "join")}, event: restrictedJoin(bob), want: "member.join.restricted"},
		{name: "via user not joined", from: 8, to: 12, joinRule: JoinRuleRestricted, event: restrictedJoin(bob), want: "member.join.restricted"},
		{name: "no via", from: 8, to: 12, joinRule: JoinRuleRestricted, event: member(dave, dave, "join"), want: "member.join.restricted"},
		{name: "invited needs no via", from: 8, to: 12, joinRule: JoinRuleRestricted, setup: []step{member(dave, alice, "invite")}, event: member(dave, dave, "join")},
		{name: "restricted unknown before v8", from: 1, to: 7, joinRule: JoinRuleRestricted, event: restrictedJoin(alice), want: "member.join.rule"},
		{name: "knock_restricted join", from: 10, to: 12, joinRule: JoinRuleKnockRestricted, event: restrictedJoin(alice)},
		{name: "knock_restricted unknown before v10", from: 8, to: 9, joinRule: JoinRuleKnockRestricted, event: restrictedJoin(alice), want: "member.join.rule"},
		{name: "public room", from: 8, to: 12, joinRule: JoinRulePublic, setup: nil, event: member(bob, bob, "join")},
		{name: "public with via", from: 8, to: 12, joinRule: JoinRulePublic, setup: []step{member(bob, alice, "invite")}, event: joinBob[0]},
	})
	// join_authorised_via_users_server's server must have signed the join (v8+).
	for _, v := range versions(8, 12) {
		r := newRoom(v, JoinRuleRestricted, nil, "")
		e := restrictedJoin(alice).build(r)
		e.Signatures = map[string]map[string]string{"d.org": {"ed25519:x": "s"}}
		expect(t, check(t, r, e), "member.authorised_via.signature")
	}
}

func TestMemberKnock(t *testing.T) {
	runRoomCases(t, []roomCase{
		{name: "knock", from: 7, to: 12, joinRule: JoinRuleKnock, event: member(bob, bob, "knock")},
		{name: "knock unknown before v7", from: 1, to: 6, joinRule: JoinRuleKnock, event: member(bob, bob, "knock"), want: "member.membership"},
		{name: "knock on public room", from: 7, to: 12, joinRule: JoinRulePublic, event: member(bob, bob, "knock"), want: "member.knock.rule"},
		{name: "knock for someone else", from: 7, to: 12, joinRule: JoinRuleKnock, event: member(bob, alice, "knock"), want: "member.knock.sender"},
		{name: "knock while invited", from: 7, to: 12, joinRule: JoinRuleKnock, setup: []step{member(bob, alice, "invite")}, event: member(bob, bob, "knock"), want: "member.knock.membership"},
		{name: "knock while banned", from: 7, to: 12, joinRule: JoinRuleKnock, setup: []step{member(bob, alice, "ban")}, event: member(bob, bob, "knock"), want: "member.knock.membership"},
		{name: "knock after leave", from: 7, to: 12, joinRule: JoinRuleKnock, setup: []step{member(bob, alice, "invite"), member(bob, bob, "leave")}, event: member(bob, bob, "knock")},
		{name: "knock_restricted", from: 10, to: 12, joinRule: JoinRuleKnockRestricted, event: member(bob, bob, "knock")},
		{name: "knock_restricted before v10", from: 7, to: 9, joinRule: JoinRuleKnockRestricted, event: member(bob, bob, "knock"), want: "member.knock.rule"},
		{name: "rescind knock", from: 7, to: 12, joinRule: JoinRuleKnock, setup: []step{member(bob, bob, "knock")}, event: member(bob, bob, "leave")},
	})
}

func TestMemberInvite(t *testing.T) {
	runRoomCases(t, []roomCase{
		{name: "invite", from: 1, to: 12, event: member(bob, alice, "invite")},
		{name: "sender not joined", from: 1, to: 12, event: member(carol, bob, "invite"), want: "member.invite.sender"},
		{name: "target joined", from: 1, to: 12, joinRule: JoinRulePublic, setup: []step{member(bob, bob, "join")}, event: member(bob, alice, "invite"), want: "member.invite.target"},
		{name: "target banned", from: 1, to: 12, setup: []step{member(bob, alice, "ban")}, event: member(bob, alice, "invite"), want: "member.invite.target"},
		{name: "below invite level", from: 1, to: 12, joinRule: JoinRulePublic, plExtra: `"invite":50`, setup: []step{member(bob, bob, "join")}, event: member(carol, bob, "invite"), want: "member.invite.level"},
		{name: "default invite level 0", from: 1, to: 12, joinRule: JoinRulePublic, setup: []step{member(bob, bob, "join")}, event: member(carol, bob, "invite")},
	})
}

func TestMemberLeaveKickBan(t *testing.T) {
	joined := []step{member(bob, alice, "invite"), member(bob, bob, "join"), member(carol, alice, "invite"), member(carol, carol, "join")}
	withBan := append(append([]step{}, joined...), member(dave, alice, "ban"))
	runRoomCases(t, []roomCase{
		{name: "leave", from: 1, to: 12, setup: joined, event: member(bob, bob, "leave")},
		{name: "reject invite", from: 1, to: 12, setup: []step{member(bob, alice, "invite")}, event: member(bob, bob, "leave")},
		{name: "leave never joined", from: 1, to: 12, event: member(bob, bob, "leave"), want: "member.leave.self"},
		{name: "leave while banned", from: 1, to: 12, setup: []step{member(bob, alice, "ban")}, event: member(bob, bob, "leave"), want: "member.leave.self"},
		{name: "kick", from: 1, to: 12, users: map[string]int{bob: 50}, setup: joined, event: member(carol, bob, "leave")},
		{name: "kick below kick level", from: 1, to: 12, users: map[string]int{bob: 49}, setup: joined, event: member(carol, bob, "leave"), want: "member.leave.kick"},
		{name: "kick equal level", from: 1, to: 12, users: map[string]int{bob: 50, carol: 50}, setup: joined, event: member(carol, bob, "leave"), want: "member.leave.kick"},
		{name: "kick higher", from: 1, to: 12, users: map[string]int{bob: 50}, setup: joined, event: member(alice, bob, "leave"), want: "member.leave.kick"},
		{name: "kick by non-member", from: 1, to: 12, users: map[string]int{dave: 100}, setup: joined, event: member(carol, dave, "leave"), want: "member.leave.sender"},
		{name: "unban", from: 1, to: 12, setup: withBan, event: member(dave, alice, "leave")},
		{name: "unban needs ban level", from: 1, to: 12, users: map[string]int{bob: 60}, plExtra: `"ban":70,"kick":50`, setup: withBan, event: member(dave, bob, "leave"), want: "member.leave.unban"},
		{name: "unban needs kick level too", from: 1, to: 12, users: map[string]int{bob: 60}, plExtra: `"ban":50,"kick":70`, setup: withBan, event: member(dave, bob, "leave"), want: "member.leave.kick"},
		{name: "ban", from: 1, to: 12, users: map[string]int{bob: 50}, setup: joined, event: member(carol, bob, "ban")},
		{name: "ban non-member", from: 1, to: 12, users: map[string]int{bob: 50}, setup: joined, event: member(dave, bob, "ban")},
		{name: "ban below ban level", from: 1, to: 12, users: map[string]int{bob: 50}, plExtra: `"ban":51`, setup: joined, event: member(carol, bob, "ban"), want: "member.ban.level"},
		{name: "ban equal", from: 1, to: 12, users: map[string]int{bob: 50, carol: 50}, setup: joined, event: member(carol, bob, "ban"), want: "member.ban.level"},
		{name: "ban by non-member", from: 1, to: 12, users: map[string]int{dave: 100}, event: member(carol, dave, "ban"), want: "member.ban.sender"},
		{name: "ban higher", from: 1, to: 12, users: map[string]int{bob: 99}, setup: joined, event: member(alice, bob, "ban"), want: "member.ban.level"},
	})
}

// v12: creators have infinite power: a level-100 user cannot ban a creator, a creator can
// ban anyone listed at any level, and two creators cannot ban each other (equal power).
func TestPrivilegedCreators(t *testing.T) {
	for _, v := range versions(11, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := authtest.NewRoom(v, alice, `"additional_creators":["@bob:b.org"]`)
			r.Join(alice)
			users := map[string]int{carol: 100}
			if !v.PrivilegedCreators {
				users[alice] = 100
			}
			r.Add(TypePowerLevels, sk(""), alice, plContent(v, users, ""))
			r.Add(TypeJoinRules, sk(""), alice, `{"join_rule":"public"}`)
			r.Join(bob)
			r.Join(carol)
			carolBansAlice := check(t, r, r.Build(TypeMember, sk(alice), carol, `{"membership":"ban"}`))
			aliceBansCarol := check(t, r, r.Build(TypeMember, sk(carol), alice, `{"membership":"ban"}`))
			bobBansAlice := check(t, r, r.Build(TypeMember, sk(alice), bob, `{"membership":"ban"}`))
			bobBansCarol := check(t, r, r.Build(TypeMember, sk(carol), bob, `{"membership":"ban"}`))
			if v.PrivilegedCreators {
				expect(t, carolBansAlice, "member.ban.level")
				expect(t, aliceBansCarol, "")
				expect(t, bobBansAlice, "member.ban.level")
				expect(t, bobBansCarol, "")
			} else {
				// v11: alice and carol both 100; bob (not a creator) has 0.
				expect(t, carolBansAlice, "member.ban.level")
				expect(t, aliceBansCarol, "member.ban.level")
				expect(t, bobBansAlice, "member.ban.level")
				expect(t, bobBansCarol, "member.ban.level")
			}
		})
	}
}

// With no power_levels event, the creator has 100 (v1–v11) or infinite (v12) power and
// everyone else 0; state_default is 0.
func TestNoPowerLevelsEvent(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := authtest.NewRoom(v, alice, "")
			r.Join(alice)
			r.Add(TypeJoinRules, sk(""), alice, `{"join_rule":"public"}`)
			r.Join(bob)
			expect(t, check(t, r, r.Build(TypeMember, sk(bob), alice, `{"membership":"ban"}`)), "")
			expect(t, check(t, r, r.Build(TypeMember, sk(alice), bob, `{"membership":"ban"}`)), "member.ban.level")
			expect(t, check(t, r, r.Build("m.room.topic", sk(""), bob, `{"topic":"x"}`)), "")
		})
	}
}

func TestNotJoinedSender(t *testing.T) {
	for _, v := range versions(1, 12) {
		r := newRoom(v, JoinRulePublic, nil, "")
		expect(t, check(t, r, r.Build("m.room.message", nil, bob, `{}`)), "sender.joined")
		expect(t, check(t, r, r.Build("m.room.message", nil, alice, `{}`)), "")
	}
}
