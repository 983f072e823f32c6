package internal

import "github.com/axon-matrix/axon/syncapi/storage"

// maxPendingReports bounds the out-of-order reports moves holds back; past it (a report
// that never came) moves gives up its knowledge up to the newest report.
const maxPendingReports = 1024

// moves is the Notifier's record of what moved on topic 2 since this process started, so
// that an incremental /sync can skip the queries whose windows are provably empty: the
// last position of a timeline event per room, of a state change per room, and of a
// membership change per user. It is kept under the Notifier's lock.
//
// It is exact only for windows (lo, hi] with lo ≥ exactFrom and hi ≤ upTo. upTo advances
// over the consumers' reports in watermark order (each report covers a watermark advance
// (from, to], and the advances tile the positions), so a report that is applied late — the
// consumers of two partitions report in any order — never lets a window look empty early.
// A report that does not say what it changed (records that became visible together after
// a gap, skipped positions, redactions) moves exactFrom past it.
type moves struct {
	exactFrom, upTo int64
	pending         map[int64]moveReport // by from, waiting for upTo to reach it
	roomEvent       map[string]int64     // room → position of its newest timeline event
	roomState       map[string]int64     // room → position of its newest state change
	userMember      map[string]int64     // user → position of their newest membership change
}

// moveReport is one watermark advance (from, to]; an exact report carries every timeline
// event that became visible and every state change at the positions it covers.
type moveReport struct {
	to     int64
	exact  bool
	events []storage.Event
	deltas []storage.RoomStateDelta
}

func newMoves(start int64) moves {
	return moves{exactFrom: start, upTo: start, pending: map[int64]moveReport{},
		roomEvent: map[string]int64{}, roomState: map[string]int64{}, userMember: map[string]int64{}}
}

// report records the advance (from, to].
func (m *moves) report(from int64, r moveReport) {
	switch {
	case r.to <= m.upTo:
		return // covered by a non-exact report already
	case from > m.upTo:
		m.pending[from] = r
		if len(m.pending) > maxPendingReports {
			for _, p := range m.pending {
				m.upTo = max(m.upTo, p.to)
			}
			m.exactFrom = m.upTo
			clear(m.pending)
		}
		return
	case from < m.upTo: // overlaps what is known: keep nothing of it
		r.exact = false
	}
	m.apply(r)
	m.drain()
}

// untracked records that positions up to pos moved in ways not reported in detail.
func (m *moves) untracked(pos int64) {
	m.exactFrom = max(m.exactFrom, pos)
	if pos > m.upTo {
		m.upTo = pos
		m.drain()
	}
}

// drain applies the held-back reports that continue upTo and drops those it overtook.
func (m *moves) drain() {
	for {
		p, ok := m.pending[m.upTo]
		if !ok {
			break
		}
		delete(m.pending, m.upTo)
		m.apply(p)
	}
	for from, p := range m.pending {
		if p.to <= m.upTo || from < m.upTo {
			delete(m.pending, from) // overtaken by a non-exact report
		}
	}
}

func (m *moves) apply(r moveReport) {
	m.upTo = r.to
	if !r.exact {
		m.exactFrom = r.to
		return
	}
	for i := range r.events {
		e := &r.events[i]
		m.roomEvent[e.RoomID] = max(m.roomEvent[e.RoomID], e.StreamPos)
	}
	for _, d := range r.deltas {
		m.roomState[d.RoomID] = max(m.roomState[d.RoomID], d.Pos)
		if d.EventType == "m.room.member" {
			m.userMember[d.StateKey] = max(m.userMember[d.StateKey], d.Pos)
		}
	}
}

// quiet reports whether last (the position of the newest change of something) proves that
// nothing changed in (lo, hi].
func (m *moves) quiet(last, lo, hi int64) bool {
	return lo >= m.exactFrom && hi <= m.upTo && last <= lo
}

// RoomQuiet reports whether the room provably has no timeline events in (lo, hi].
func (n *Notifier) RoomQuiet(roomID string, lo, hi int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.moves.quiet(n.moves.roomEvent[roomID], lo, hi)
}

// RoomStateQuiet reports whether the room provably has no state changes in (lo, hi].
func (n *Notifier) RoomStateQuiet(roomID string, lo, hi int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.moves.quiet(n.moves.roomState[roomID], lo, hi)
}

// MembershipQuiet reports whether the user's membership provably changed in no room in (lo, hi].
func (n *Notifier) MembershipQuiet(userID string, lo, hi int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.moves.quiet(n.moves.userMember[userID], lo, hi)
}

// RoomsWithEvents answers storage.RoomsWithEvents(rooms, lo, hi) from what moved, when it
// can (ok); a room may be reported active when its only events are after hi.
func (n *Notifier) RoomsWithEvents(rooms []string, lo, hi int64) (active map[string]bool, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.moves.quiet(0, lo, hi) {
		return nil, false
	}
	active = map[string]bool{}
	for _, r := range rooms {
		if n.moves.roomEvent[r] > lo {
			active[r] = true
		}
	}
	return active, true
}
