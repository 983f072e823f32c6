package auth

import (
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

func TestNewAuthEvents(t *testing.T) {
	v := matrix.MustRoomVersion("10")
	r := newRoom(v, JoinRulePublic, nil, "")
	msg := r.Add("m.room.message", nil, alice, `{}`)
	topic := r.Add("m.room.topic", sk(""), alice, `{}`)
	pl2 := r.Build(TypePowerLevels, sk(""), alice, `{}`)
	badKey := r.Build(TypeJoinRules, sk("x"), alice, `{}`)
	cases := []struct {
		name    string
		events  []matrix.PDU
		wantErr bool
	}{
		{"auth state", r.AuthStateEvents(), false},
		{"message event", append(r.AuthStateEvents(), msg), true},
		{"unrelated type", append(r.AuthStateEvents(), topic), true},
		{"duplicate power levels", append(r.AuthStateEvents(), pl2), true},
		{"join rules with state key", []matrix.PDU{badKey}, true},
		{"nil", []matrix.PDU{nil}, true},
	}
	for _, c := range cases {
		a, err := NewAuthEvents(c.events)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v, want error %v", c.name, err, c.wantErr)
		}
		if err == nil && (a.Create() == nil || a.PowerLevels() == nil || a.JoinRules() == nil || a.Member(alice) == nil || a.Member(bob) != nil) {
			t.Errorf("%s: index incomplete", c.name)
		}
	}
}

// authEventsOf returns the events e lists in auth_events.
func authEventsOf(r *authtest.Room, e *authtest.Event) []matrix.PDU {
	var out []matrix.PDU
	for _, id := range e.Auth {
		out = append(out, r.Events[id])
	}
	return out
}

func TestCheckAuthEvents(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := newRoom(v, JoinRulePublic, nil, "")
			bobJoin := r.Join(bob)
			topic := r.Add("m.room.topic", sk(""), alice, `{"topic":"t"}`)

			e := r.Build("m.room.message", nil, bob, `{}`)
			a, err := CheckAuthEvents(e, authEventsOf(r, e), r.Create)
			if err != nil {
				t.Fatalf("valid auth events: %v", err)
			}
			if err := Allowed(e, a); err != nil {
				t.Fatalf("Allowed: %v", err)
			}

			// A member event of someone else than sender and target.
			e2 := r.Build("m.room.message", nil, bob, `{}`)
			e2.Auth = append(e2.Auth, r.State[matrix.StateKeyTuple{EventType: TypeMember, StateKey: alice}].ID)
			_, err = CheckAuthEvents(e2, authEventsOf(r, e2), r.Create)
			expect(t, err, "auth_events.selection")

			// Join rules for a message.
			e3 := r.Build("m.room.message", nil, bob, `{}`)
			e3.Auth = append(e3.Auth, r.State[matrix.StateKeyTuple{EventType: TypeJoinRules}].ID)
			_, err = CheckAuthEvents(e3, authEventsOf(r, e3), r.Create)
			expect(t, err, "auth_events.selection")

			// A type that never authorises.
			e4 := r.Build("m.room.message", nil, bob, `{}`)
			e4.Auth = append(e4.Auth, topic.ID)
			_, err = CheckAuthEvents(e4, authEventsOf(r, e4), r.Create)
			expect(t, err, "auth_events.selection")

			// Two member events for bob.
			e5 := r.Build("m.room.message", nil, bob, `{}`)
			old := r.Build(TypeMember, sk(bob), bob, `{"membership":"join"}`)
			r.Events[old.ID] = old
			e5.Auth = append(e5.Auth, old.ID)
			_, err = CheckAuthEvents(e5, authEventsOf(r, e5), r.Create)
			expect(t, err, "auth_events.duplicate")

			// Missing from the supplied list.
			e6 := r.Build("m.room.message", nil, bob, `{}`)
			_, err = CheckAuthEvents(e6, authEventsOf(r, e6)[1:], r.Create)
			expect(t, err, "auth_events.missing")

			// The create event: required before v12, forbidden in v12.
			e7 := r.Build("m.room.message", nil, bob, `{}`)
			if v.RoomIDFromCreateEvent {
				e7.Auth = append(e7.Auth, r.Create.ID)
				_, err = CheckAuthEvents(e7, authEventsOf(r, e7), r.Create)
				expect(t, err, "auth_events.selection")
			} else {
				var noCreate []string
				for _, id := range e7.Auth {
					if id != r.Create.ID {
						noCreate = append(noCreate, id)
					}
				}
				e7.Auth = noCreate
				_, err = CheckAuthEvents(e7, authEventsOf(r, e7), nil)
				expect(t, err, "auth_events.create")
			}

			// An auth event from another room.
			e8 := r.Build("m.room.message", nil, bob, `{}`)
			foreign := *bobJoin
			foreign.ID, foreign.Room = "$foreign:b.org", "!other:b.org"
			r.Events[foreign.ID] = &foreign
			for i, id := range e8.Auth {
				if id == bobJoin.ID {
					e8.Auth[i] = foreign.ID
				}
			}
			_, err = CheckAuthEvents(e8, authEventsOf(r, e8), r.Create)
			expect(t, err, "auth_events.room_id")

			// Membership events may cite the target, join rules, and the via user.
			j := r.Build(TypeMember, sk(carol), carol, `{"membership":"join"}`)
			if _, err := CheckAuthEvents(j, authEventsOf(r, j), r.Create); err != nil {
				t.Fatalf("join auth events: %v", err)
			}
			if !AuthEventAllowed(j, matrix.StateKeyTuple{EventType: TypeJoinRules}) {
				t.Error("join may not cite join rules")
			}
			leave := r.Build(TypeMember, sk(bob), bob, `{"membership":"leave"}`)
			if AuthEventAllowed(leave, matrix.StateKeyTuple{EventType: TypeJoinRules}) {
				t.Error("leave may cite join rules")
			}
			via := r.Build(TypeMember, sk(carol), carol, `{"membership":"join","join_authorised_via_users_server":"@alice:a.org"}`)
			if got := AuthEventAllowed(via, matrix.StateKeyTuple{EventType: TypeMember, StateKey: alice}); got != v.RestrictedJoins {
				t.Errorf("via member allowed = %v, want %v", got, v.RestrictedJoins)
			}
		})
	}
}
