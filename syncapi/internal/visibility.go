package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// roomVisibility decides which of a room's events one user may see, following the spec's
// history visibility rules (client-server API, "Room history visibility"):
//   - world_readable: everyone;
//   - shared: users joined at the event, and users joined now;
//   - invited: users joined or invited at the event;
//   - joined: users joined at the event.
//
// A user always sees their own membership events (so a rejected invite or a leave shows).
type roomVisibility struct {
	userID string
	// memberships are the user's membership changes in the room, oldest first.
	memberships []storage.Membership
	// visibility are the changes of m.room.history_visibility, oldest first.
	visibility []visChange
	// all: the user was joined throughout the range asked about; everything is visible.
	all bool
	// ignored is the user's ignore list (ignore.go): its users' non-state events are hidden,
	// whatever the history visibility. Per user, like the rest: shared reads stay shared.
	ignored IgnoreList
}

type visChange struct {
	pos   int64
	value string
}

// loadVisibility reads what roomVisibility needs for the room up to position upTo.
func (s *Syncer) loadVisibility(ctx context.Context, roomID, userID string, upTo int64) (*roomVisibility, error) {
	ms, err := s.db.MembershipHistory(ctx, roomID, userID, upTo)
	if err != nil {
		return nil, err
	}
	hist, err := s.db.TupleHistory(ctx, roomID, "m.room.history_visibility", "", upTo)
	if err != nil {
		return nil, err
	}
	v := &roomVisibility{userID: userID, memberships: ms}
	for _, h := range hist {
		val := "shared"
		if h.JSON != nil {
			var ev struct {
				Content struct {
					HistoryVisibility string `json:"history_visibility"`
				} `json:"content"`
			}
			if json.Unmarshal(h.JSON, &ev) == nil && ev.Content.HistoryVisibility != "" {
				val = ev.Content.HistoryVisibility
			}
		}
		v.visibility = append(v.visibility, visChange{pos: h.Pos, value: val})
	}
	return v, nil
}

// membershipBefore is the user's membership in the state before position pos.
func (v *roomVisibility) membershipBefore(pos int64) string {
	m := ""
	for _, c := range v.memberships {
		if c.Pos >= pos {
			break
		}
		m = c.Membership
	}
	return m
}

// current is the user's membership at the newest loaded position.
func (v *roomVisibility) current() string {
	if len(v.memberships) == 0 {
		return ""
	}
	return v.memberships[len(v.memberships)-1].Membership
}

// everJoined reports whether the user was ever joined.
func (v *roomVisibility) everJoined() bool {
	for _, m := range v.memberships {
		if m.Membership == "join" {
			return true
		}
	}
	return false
}

// historyVisibilityBefore is the room's history visibility in the state before pos
// ("shared" when none is set, as the spec says).
func (v *roomVisibility) historyVisibilityBefore(pos int64) string {
	val := "shared"
	for _, c := range v.visibility {
		if c.pos >= pos {
			break
		}
		val = c.value
	}
	return val
}

// worldReadableNow reports whether the newest loaded history visibility is world_readable.
func (v *roomVisibility) worldReadableNow() bool {
	return len(v.visibility) > 0 && v.visibility[len(v.visibility)-1].value == "world_readable"
}

// canSee applies the rules, and the user's ignore list, to one timeline event.
func (v *roomVisibility) canSee(e *storage.Event) bool {
	if v.ignored != nil && e.Sender != v.userID && v.ignored.hides(e) {
		return false
	}
	if v.all {
		return true
	}
	if e.Type == "m.room.member" && e.StateKey != nil && *e.StateKey == v.userID {
		return true
	}
	hv := e.HistoryVisibility
	if hv == "" {
		hv = v.historyVisibilityBefore(e.StreamPos)
	}
	m := v.membershipBefore(e.StreamPos)
	switch hv {
	case "world_readable":
		return true
	case "invited":
		return m == "join" || m == "invite"
	case "joined":
		return m == "join"
	default: // shared
		return m == "join" || v.current() == "join"
	}
}
