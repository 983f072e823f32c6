package internal

import (
	"testing"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// The record of moves answers only for windows it knows completely: reports applied in
// watermark order, out-of-order reports held back, and non-exact advances closing off
// everything before them.
func TestMovesQuiet(t *testing.T) {
	msg := func(room string) storage.Event { return storage.Event{RoomID: room, Type: "m.room.message"} }
	at := func(e storage.Event, pos int64) storage.Event { e.StreamPos = pos; return e }
	one := func(from int64, e storage.Event, deltas ...storage.StateDelta) func(n *Notifier) {
		return func(n *Notifier) {
			var rd []storage.RoomStateDelta
			for _, d := range deltas {
				d.Pos = e.StreamPos
				rd = append(rd, storage.RoomStateDelta{RoomID: e.RoomID, StateDelta: d})
			}
			n.OnRoomAdvance(from, e.StreamPos, []storage.Event{e}, rd)
		}
	}
	member := storage.StateDelta{EventType: "m.room.member", StateKey: "@u:t", EventID: "$m"}
	type check struct {
		room       string
		lo, hi     int64
		roomQuiet  bool
		userQuiet  bool
		stateQuiet bool
	}
	for _, tc := range []struct {
		name   string
		play   func(n *Notifier)
		checks []check
	}{
		{"in order", func(n *Notifier) {
			one(10, at(msg("!a"), 11))(n)
			one(11, at(msg("!b"), 12), member)(n)
		}, []check{
			{"!a", 10, 12, false, false, true},  // !a moved at 11, the user at 12
			{"!a", 11, 12, true, false, true},   // nothing in !a after 11
			{"!b", 11, 12, false, false, false}, // !b's state moved at 12
			{"!b", 12, 12, true, true, true},
			{"!a", 9, 12, false, false, false},  // before the start: unknown
			{"!a", 11, 13, false, false, false}, // beyond what was reported: unknown
		}},
		{"out of order: held back until the gap closes", func(n *Notifier) {
			one(11, at(msg("!b"), 12))(n) // arrives before (10, 11]
		}, []check{
			{"!a", 10, 12, false, false, false}, // 11 not reported yet
			{"!a", 10, 10, true, true, true},
		}},
		{"out of order, then the gap closes", func(n *Notifier) {
			one(11, at(msg("!b"), 12))(n)
			one(10, at(msg("!a"), 11))(n)
		}, []check{
			{"!a", 11, 12, true, true, true},
			{"!b", 11, 12, false, true, true},
		}},
		{"an advance over several positions", func(n *Notifier) {
			n.OnRoomAdvance(10, 13, []storage.Event{at(msg("!a"), 11), at(msg("!b"), 13)},
				[]storage.RoomStateDelta{{RoomID: "!a", StateDelta: storage.StateDelta{Pos: 11, EventType: "m.room.member", StateKey: "@u:t"}}})
		}, []check{
			{"!a", 10, 13, false, false, false},
			{"!a", 11, 13, true, true, true},
			{"!b", 11, 13, false, true, true},
			{"!b", 13, 13, true, true, true},
		}},
		{"a non-exact advance closes off what came before", func(n *Notifier) {
			one(10, at(msg("!a"), 11))(n)
			n.OnRoomEvents(14, []storage.Event{at(msg("!a"), 13)})
			one(14, at(msg("!b"), 15))(n)
		}, []check{
			{"!a", 11, 15, false, false, false},
			{"!a", 14, 15, true, true, true},
			{"!b", 14, 15, false, true, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNotifier(types.StreamToken{Room: 10})
			tc.play(n)
			for _, c := range tc.checks {
				if got := n.RoomQuiet(c.room, c.lo, c.hi); got != c.roomQuiet {
					t.Errorf("RoomQuiet(%s, %d, %d) = %v", c.room, c.lo, c.hi, got)
				}
				if got := n.MembershipQuiet("@u:t", c.lo, c.hi); got != c.userQuiet {
					t.Errorf("MembershipQuiet(%d, %d) = %v", c.lo, c.hi, got)
				}
				if got := n.RoomStateQuiet(c.room, c.lo, c.hi); got != c.stateQuiet {
					t.Errorf("RoomStateQuiet(%s, %d, %d) = %v", c.room, c.lo, c.hi, got)
				}
			}
		})
	}
}
