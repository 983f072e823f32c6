package event

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

func TestAuthEventTuples(t *testing.T) {
	tup := func(typ, sk string) matrix.StateKeyTuple { return matrix.StateKeyTuple{EventType: typ, StateKey: sk} }
	create, pl, jr := tup("m.room.create", ""), tup("m.room.power_levels", ""), tup("m.room.join_rules", "")
	alice, bob := tup("m.room.member", "@alice:x"), tup("m.room.member", "@bob:x")
	tests := []struct {
		name      string
		version   matrix.RoomVersionID
		eventType string
		stateKey  *string
		content   string
		want      []matrix.StateKeyTuple
	}{
		{"create needs nothing", "10", "m.room.create", strp(""), `{}`, nil},
		{"message", "10", "m.room.message", nil, `{"body":"x"}`, []matrix.StateKeyTuple{create, pl, alice}},
		{"message v12 omits create", "12", "m.room.message", nil, `{}`, []matrix.StateKeyTuple{pl, alice}},
		{"state event", "10", "m.room.name", strp(""), `{"name":"n"}`, []matrix.StateKeyTuple{create, pl, alice}},
		{"own join", "10", "m.room.member", strp("@alice:x"), `{"membership":"join"}`, []matrix.StateKeyTuple{create, pl, alice, jr}},
		{"invite", "10", "m.room.member", strp("@bob:x"), `{"membership":"invite"}`, []matrix.StateKeyTuple{create, pl, alice, bob, jr}},
		{"knock", "10", "m.room.member", strp("@alice:x"), `{"membership":"knock"}`, []matrix.StateKeyTuple{create, pl, alice, jr}},
		{"knock before v7", "6", "m.room.member", strp("@alice:x"), `{"membership":"knock"}`, []matrix.StateKeyTuple{create, pl, alice}},
		{"kick", "10", "m.room.member", strp("@bob:x"), `{"membership":"leave"}`, []matrix.StateKeyTuple{create, pl, alice, bob}},
		{"ban", "10", "m.room.member", strp("@bob:x"), `{"membership":"ban"}`, []matrix.StateKeyTuple{create, pl, alice, bob}},
		{"third party invite", "10", "m.room.member", strp("@bob:x"),
			`{"membership":"invite","third_party_invite":{"display_name":"b","signed":{"mxid":"@bob:x","token":"tok"}}}`,
			[]matrix.StateKeyTuple{create, pl, alice, bob, jr, tup("m.room.third_party_invite", "tok")}},
		{"restricted join", "10", "m.room.member", strp("@alice:x"), `{"membership":"join","join_authorised_via_users_server":"@carol:y"}`,
			[]matrix.StateKeyTuple{create, pl, alice, jr, tup("m.room.member", "@carol:y")}},
		{"restricted key ignored before v8", "7", "m.room.member", strp("@alice:x"), `{"membership":"join","join_authorised_via_users_server":"@carol:y"}`,
			[]matrix.StateKeyTuple{create, pl, alice, jr}},
		{"restricted key ignored on invite", "10", "m.room.member", strp("@bob:x"), `{"membership":"invite","join_authorised_via_users_server":"@carol:y"}`,
			[]matrix.StateKeyTuple{create, pl, alice, bob, jr}},
		{"malformed member content", "10", "m.room.member", strp("@bob:x"), `"junk"`, []matrix.StateKeyTuple{create, pl, alice, bob}},
	}
	for _, tt := range tests {
		got := AuthEventTuples(matrix.MustRoomVersion(tt.version), tt.eventType, tt.stateKey, "@alice:x", json.RawMessage(tt.content))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

type fakePDU struct {
	matrix.PDU
	id string
}

func (f fakePDU) EventID() string { return f.id }

func TestSelectAuthEvents(t *testing.T) {
	state := map[matrix.StateKeyTuple]matrix.PDU{
		{EventType: "m.room.create"}:                           fakePDU{id: "$create"},
		{EventType: "m.room.member", StateKey: "@alice:x"}:     fakePDU{id: "$alice"},
		{EventType: "m.room.join_rules"}:                       fakePDU{id: "$jr"},
		{EventType: "m.room.member", StateKey: "@unrelated"}:   fakePDU{id: "$other"},
		{EventType: "m.room.name"}:                             fakePDU{id: "$name"},
		{EventType: "m.room.third_party_invite", StateKey: ""}: fakePDU{id: "$tpi"},
	}
	lookup := func(t matrix.StateKeyTuple) matrix.PDU { return state[t] }
	b := Builder{Type: "m.room.member", StateKey: strp("@bob:x"), Sender: "@alice:x", Content: map[string]string{"membership": "invite"}}
	if err := b.SelectAuthEvents("10", lookup); err != nil {
		t.Fatal(err)
	}
	// No power levels and no membership for bob yet: those are skipped.
	if want := []string{"$create", "$alice", "$jr"}; !reflect.DeepEqual(b.AuthEvents, want) {
		t.Fatalf("AuthEvents = %v, want %v", b.AuthEvents, want)
	}
	if err := b.SelectAuthEvents("12", lookup); err != nil {
		t.Fatal(err)
	}
	if want := []string{"$alice", "$jr"}; !reflect.DeepEqual(b.AuthEvents, want) {
		t.Fatalf("v12 AuthEvents = %v, want %v", b.AuthEvents, want)
	}
	if err := b.SelectAuthEvents("nope", lookup); err == nil {
		t.Fatal("unknown version accepted")
	}
}
