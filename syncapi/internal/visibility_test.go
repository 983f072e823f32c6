package internal

import (
	"testing"

	"github.com/axon-matrix/axon/syncapi/storage"
)

func TestCanSee(t *testing.T) {
	const me = "@me:test"
	msgAt := func(pos int64, hv string) *storage.Event {
		return &storage.Event{StreamPos: pos, Type: "m.room.message", Sender: "@x:test", HistoryVisibility: hv}
	}
	// me is invited at 10, joins at 20, leaves at 30.
	life := []storage.Membership{{Membership: "invite", Pos: 10}, {Membership: "join", Pos: 20}, {Membership: "leave", Pos: 30}}
	// me is invited at 10 and joined at 20, still joined.
	joined := life[:2]
	tests := []struct {
		name        string
		memberships []storage.Membership
		ev          *storage.Event
		want        bool
	}{
		{"world_readable before anything", nil, msgAt(5, "world_readable"), true},
		{"shared before invite, not joined now", life, msgAt(5, "shared"), false},
		{"shared before invite, joined now", joined, msgAt(5, "shared"), true},
		{"invited sees invited history while invited", life, msgAt(15, "invited"), true},
		{"joined history not while invited", life, msgAt(15, "joined"), false},
		{"joined history while joined", life, msgAt(25, "joined"), true},
		{"the join event's own position is still before the join", life, msgAt(20, "joined"), false},
		{"after leaving", life, msgAt(35, "shared"), false},
		{"after leaving, world readable", life, msgAt(35, "world_readable"), true},
		{"own leave event", life, &storage.Event{StreamPos: 30, Type: "m.room.member", StateKey: strp(me), Membership: "leave"}, true},
		{"never a member", nil, msgAt(5, "shared"), false},
	}
	for _, tc := range tests {
		v := &roomVisibility{userID: me, memberships: tc.memberships}
		if got := v.canSee(tc.ev); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestHistoryVisibilityFromState(t *testing.T) {
	v := &roomVisibility{userID: "@me:test", memberships: []storage.Membership{{Membership: "join", Pos: 5}},
		visibility: []visChange{{pos: 2, value: "shared"}, {pos: 10, value: "joined"}}}
	tests := []struct {
		pos  int64
		want string
	}{{1, "shared"}, {2, "shared"}, {10, "shared"}, {11, "joined"}}
	for _, tc := range tests {
		if got := v.historyVisibilityBefore(tc.pos); got != tc.want {
			t.Errorf("before %d: %s", tc.pos, got)
		}
	}
	if v.worldReadableNow() {
		t.Fatal("not world readable")
	}
}

func strp(s string) *string { return &s }
