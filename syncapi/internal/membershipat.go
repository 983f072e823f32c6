package internal

import "github.com/axon-matrix/axon/syncapi/storage"

// membershipAt is the spec's unsigned.membership (1.11) of a timeline event for the user
// of v: their m.room.member membership in the state after the event (the event's own
// change included), "leave" when they had none yet. A roomVisibility built with all (the
// user joined throughout the /sync window) answers "join" without a membership history.
// ClientEvent asks it for the events v let through (withMembership).
func (v *roomVisibility) membershipAt(e *storage.Event) string {
	if v.all {
		return "join"
	}
	m := "leave"
	for _, c := range v.memberships {
		if c.Pos > e.StreamPos {
			break
		}
		m = c.Membership
	}
	return m
}

// withMembership returns fo set to write each event's unsigned.membership for v's user.
func withMembership(fo FormatOptions, v *roomVisibility) FormatOptions {
	fo.membership = v
	return fo
}
