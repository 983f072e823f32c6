package internal

import (
	"context"
	"slices"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// deviceLists computes an incremental /sync's device_lists (and GET /keys/changes) for
// the window (since, pos] of topics 2 and 7:
//   - changed: the users who share a room with userID at pos.Room (and userID themself)
//     whose device list or cross-signing keys changed (topic 7) in the window, plus the
//     users who share a room with userID at pos.Room but did not at since.Room;
//   - left: the users who shared a room with userID at since.Room and share none at
//     pos.Room.
//
// memberships are userID's memberships at pos.Room. ownChanged names the rooms where
// userID's own membership changed in the window, and before their membership there at
// since.Room. A window with no key change and no membership change in userID's rooms (the
// Notifier's record of moves and of topic 7 changes says so) costs no query.
func (s *Syncer) deviceLists(ctx context.Context, userID string, since, pos types.StreamToken, memberships []storage.Membership,
	ownChanged map[string]bool, before map[string]string) (DeviceLists, error) {
	out := DeviceLists{Changed: []string{}, Left: []string{}}
	if since.Room >= pos.Room && since.KeyChange >= pos.KeyChange {
		// Neither topic 2 nor topic 7 moved (a wake-up by typing, receipts or to-device
		// messages): nothing to report, and nothing to set up for it.
		return out, nil
	}
	var joinedNow, joinedThen []string
	nowSet := map[string]bool{}
	for _, m := range memberships {
		if m.Membership == "join" {
			joinedNow = append(joinedNow, m.RoomID)
			nowSet[m.RoomID] = true
		}
		if ownChanged[m.RoomID] {
			if before[m.RoomID] == "join" {
				joinedThen = append(joinedThen, m.RoomID)
			}
		} else if m.Membership == "join" {
			joinedThen = append(joinedThen, m.RoomID)
		}
	}
	changed, left := map[string]bool{}, map[string]bool{}
	var sharingNow map[string]bool // users joined to a room of userID's at pos.Room, read once when needed
	readSharingNow := func() error {
		if sharingNow != nil {
			return nil
		}
		var err error
		sharingNow, err = s.db.JoinedUsersInRooms(ctx, joinedNow, pos.Room)
		return err
	}

	// Topic 2: who newly shares a room, and who shares none any more.
	if since.Room < pos.Room {
		moved := len(ownChanged) > 0
		if !moved {
			var maybe []string
			for _, r := range joinedNow {
				if s.NoShortcuts || !s.notifier.RoomStateQuiet(r, since.Room, pos.Room) {
					maybe = append(maybe, r)
				}
			}
			if len(maybe) > 0 {
				var err error
				if moved, err = s.db.MemberChangesIn(ctx, maybe, since.Room, pos.Room); err != nil {
					return out, err
				}
			}
		}
		if moved {
			then, err := s.db.JoinedUsersInRooms(ctx, joinedThen, since.Room)
			if err != nil {
				return out, err
			}
			if err := readSharingNow(); err != nil {
				return out, err
			}
			for u := range sharingNow {
				if !then[u] && u != userID {
					changed[u] = true
				}
			}
			for u := range then {
				if !sharingNow[u] {
					left[u] = true
				}
			}
		}
	}

	// Topic 7: whose keys changed.
	if since.KeyChange < pos.KeyChange {
		kcs, rooms, ok := s.notifier.keyChangesBetween(since.KeyChange, pos.KeyChange)
		if !ok || s.NoShortcuts {
			var err error
			if kcs, err = s.db.KeyChangesBetween(ctx, since.KeyChange, pos.KeyChange); err != nil {
				return out, err
			}
			rooms = nil
		}
		for i, c := range kcs {
			switch {
			case c.UserID == "": // a skipped position
			case len(c.Audience) > 0:
				if slices.Contains(c.Audience, userID) {
					changed[c.UserID] = true
				}
			case c.UserID == userID:
				changed[c.UserID] = true
			case rooms != nil:
				// The rooms the user was in when the change was consumed.
				if slices.ContainsFunc(rooms[i], func(r string) bool { return nowSet[r] }) {
					changed[c.UserID] = true
				}
			default:
				if err := readSharingNow(); err != nil {
					return out, err
				}
				if sharingNow[c.UserID] {
					changed[c.UserID] = true
				}
			}
		}
	}
	delete(left, userID)
	for u := range changed {
		if !left[u] {
			out.Changed = append(out.Changed, u)
		}
	}
	for u := range left {
		out.Left = append(out.Left, u)
	}
	slices.Sort(out.Changed)
	slices.Sort(out.Left)
	return out, nil
}
