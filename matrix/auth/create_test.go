package auth

import (
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth/authtest"
)

func TestCreateRules(t *testing.T) {
	type tc struct {
		name   string
		from   int
		to     int
		mutate func(e *authtest.Event)
		want   string
	}
	cases := []tc{
		{"valid", 1, 12, func(e *authtest.Event) {}, ""},
		{"prev events", 1, 12, func(e *authtest.Event) { e.Prev = []string{"$x:a.org"} }, "create.prev_events"},
		{"room on other server", 1, 11, func(e *authtest.Event) { e.Room = "!room:evil.org" }, "create.room_id"},
		{"unknown room version", 1, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{"creator":"@alice:a.org","room_version":"99"}`) }, "create.room_version"},
		{"room version not a string", 1, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{"creator":"@alice:a.org","room_version":5}`) }, "create.room_version"},
		{"no creator before v11", 1, 10, func(e *authtest.Event) { e.ContentJSON = []byte(`{}`) }, "create.creator"},
		{"no creator from v11", 11, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{}`) }, ""},
		{"additional creators valid", 12, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{"additional_creators":["@bob:b.org"]}`) }, ""},
		{"additional creators not array", 12, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{"additional_creators":"@bob:b.org"}`) }, "create.additional_creators"},
		{"additional creators bad id", 12, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{"additional_creators":["bob"]}`) }, "create.additional_creators"},
		{"additional creators non-string", 12, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`{"additional_creators":[1]}`) }, "create.additional_creators"},
		{"content not an object", 1, 12, func(e *authtest.Event) { e.ContentJSON = []byte(`[]`) }, "create.content"},
		{"additional creators ignored before v12", 11, 11, func(e *authtest.Event) { e.ContentJSON = []byte(`{"additional_creators":"x"}`) }, ""},
	}
	for _, c := range cases {
		for _, v := range versions(c.from, c.to) {
			t.Run(c.name+"/v"+string(v.ID), func(t *testing.T) {
				r := authtest.NewRoom(v, alice, "")
				e := *r.Create
				c.mutate(&e)
				expect(t, Allowed(&e, &AuthEvents{}), c.want)
			})
		}
	}
}

// v12 create events carry no room_id: an event JSON with one is rejected.
func TestCreateV12RoomIDPresent(t *testing.T) {
	v := matrix.MustRoomVersion("12")
	r := authtest.NewRoom(v, alice, "")
	e := &withRoomIDJSON{Event: r.Create}
	expect(t, Allowed(e, &AuthEvents{}), "create.room_id")
}

type withRoomIDJSON struct{ *authtest.Event }

func (w *withRoomIDJSON) JSON() []byte {
	return []byte(`{"type":"m.room.create","room_id":"!create","sender":"@alice:a.org","content":{}}`)
}

func TestRoomAndCreateChecks(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := newRoom(v, JoinRulePublic, nil, "")
			// No create event in the auth state.
			e := r.Build("m.room.message", nil, alice, `{}`)
			var noCreate []matrix.PDU
			for _, s := range r.AuthStateEvents() {
				if s.Type() != TypeCreate {
					noCreate = append(noCreate, s)
				}
			}
			p, _ := NewAuthEvents(noCreate)
			expect(t, Allowed(e, p), "auth_events.create")
			// Event in another room than the create event.
			e.Room = "!other:a.org"
			if v.RoomIDFromCreateEvent {
				expect(t, check(t, r, e), "room_id")
			} else {
				expect(t, check(t, r, e), "auth_events.room_id")
			}
		})
	}
}

func TestFederate(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := authtest.NewRoom(v, alice, `"m.federate":false`)
			r.Join(alice)
			r.Add(TypeJoinRules, sk(""), alice, `{"join_rule":"public"}`)
			expect(t, check(t, r, r.Build(TypeMember, sk(bob), bob, `{"membership":"join"}`)), "m.federate")
			expect(t, check(t, r, r.Build(TypeMember, sk("@alice2:a.org"), "@alice2:a.org", `{"membership":"join"}`)), "")
		})
	}
}

func TestAliases(t *testing.T) {
	for _, v := range versions(1, 12) {
		t.Run("v"+string(v.ID), func(t *testing.T) {
			r := newRoom(v, JoinRulePublic, nil, "")
			// bob is not joined: allowed only under the v1–v5 special case.
			own := r.Build(TypeAliases, sk("b.org"), bob, `{"aliases":["#x:b.org"]}`)
			other := r.Build(TypeAliases, sk("a.org"), bob, `{"aliases":["#x:a.org"]}`)
			if v.SpecialCaseAliasesAuth {
				expect(t, check(t, r, own), "")
				expect(t, check(t, r, other), "aliases.domain")
				expect(t, check(t, r, r.Build(TypeAliases, nil, bob, `{}`)), "aliases.state_key")
			} else {
				expect(t, check(t, r, own), "sender.joined")
				expect(t, check(t, r, other), "sender.joined")
			}
		})
	}
}
