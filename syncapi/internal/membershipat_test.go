package internal

import (
	"testing"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// TestMembershipAt: the requester's membership in the state after an event, the event's
// own change included; "leave" before any; "join" throughout for a roomVisibility that
// knows the user was joined during the whole window.
func TestMembershipAt(t *testing.T) {
	v := &roomVisibility{userID: "@b:t", memberships: []storage.Membership{
		{Pos: 5, Membership: "invite"}, {Pos: 7, Membership: "join"}, {Pos: 10, Membership: "leave"}, {Pos: 12, Membership: "ban"}}}
	for _, c := range []struct {
		pos  int64
		want string
	}{{1, "leave"}, {4, "leave"}, {5, "invite"}, {6, "invite"}, {7, "join"}, {9, "join"}, {10, "leave"}, {11, "leave"}, {12, "ban"}, {99, "ban"}} {
		if got := v.membershipAt(&storage.Event{StreamPos: c.pos}); got != c.want {
			t.Errorf("pos %d: %q, want %q", c.pos, got, c.want)
		}
	}
	if got := (&roomVisibility{all: true}).membershipAt(&storage.Event{StreamPos: 3}); got != "join" {
		t.Errorf("joined throughout: %q", got)
	}
	if got := (&roomVisibility{}).membershipAt(&storage.Event{StreamPos: 3}); got != "leave" {
		t.Errorf("never a member: %q", got)
	}
}
