package internal

import (
	"context"

	"github.com/axon-matrix/axon/syncapi/types"
)

// KeyChanges answers GET /keys/changes?from=&to= for userID (spec: the users whose device
// lists changed between two sync tokens, and those who left): device_lists of an
// incremental /sync from `from` to `to` (devicelists.go), at the positions this instance
// serves. A `to` ahead of this instance waits for it (bounded like any catching up: the
// client may have had the token from another instance); a `from` past `to` is an empty
// answer.
func (s *Syncer) KeyChanges(ctx context.Context, userID string, from, to types.StreamToken) (DeviceLists, error) {
	if _, err := s.catchUp(ctx, func(now types.StreamToken) (bool, error) { return !to.IsAfter(now), nil }); err != nil {
		return DeviceLists{}, err
	}
	now := s.notifier.Position()
	to.Room, to.KeyChange = min(to.Room, now.Room), min(to.KeyChange, now.KeyChange)
	from.Room, from.KeyChange = min(from.Room, to.Room), min(from.KeyChange, to.KeyChange)
	memberships, err := s.membershipsAt(ctx, userID, to.Room)
	if err != nil {
		return DeviceLists{}, err
	}
	ownChanged, before := map[string]bool{}, map[string]string{}
	changes, err := s.db.MembershipChanges(ctx, userID, from.Room, to.Room)
	if err != nil {
		return DeviceLists{}, err
	}
	if len(changes) > 0 {
		for _, c := range changes {
			ownChanged[c.RoomID] = true
		}
		old, err := s.db.MembershipsAt(ctx, userID, from.Room)
		if err != nil {
			return DeviceLists{}, err
		}
		for _, m := range old {
			before[m.RoomID] = m.Membership
		}
	}
	return s.deviceLists(ctx, userID, from, to, memberships, ownChanged, before)
}
