package internal

import (
	"context"
	"sort"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// roomData is the timeline and state of one room in a /sync response.
type roomData struct {
	timeline Timeline
	state    EventList
	// summaryChanged: the members, name or canonical alias changed (or the client gets the
	// room's full state), so the summary is sent.
	summaryChanged bool
}

func (r *roomData) empty() bool { return len(r.timeline.Events) == 0 && len(r.state.Events) == 0 }

// scanBatch is how many rows one storage read takes while looking for timeline events.
const scanBatch = 100

// maxScan bounds the rows one timeline or pagination request reads looking for events the
// filter and history visibility let through; past it the answer is cut short (limited
// timeline, or an end token to continue from), so a room whose history the user may not
// see costs a bounded amount per request.
const maxScan = 2000

// roomData builds a room's timeline of the events in (from, to] (the newest `limit` that
// pass the filter and the user may see) and its state section: with full, the whole state
// at the start of the timeline; otherwise the state that changed between from and the
// start of the timeline (the spec's "state between since and the start of the timeline").
// Either way, state changes inside the timeline's span that no timeline event explains
// (state resolution chose another event, or the filter hid the event) are added, so the
// client's state after the timeline is the room's state at `to`. joinedThroughout says the
// user was joined during all of (from, to], so every event is visible to them.
func (s *Syncer) roomData(ctx context.Context, req *SyncRequest, fo FormatOptions, roomID string, from, to int64, full, joinedThroughout bool) (*roomData, error) {
	f := req.Filter
	vis := &roomVisibility{userID: req.UserID, all: true}
	if !joinedThroughout {
		var err error
		if vis, err = s.loadVisibility(ctx, roomID, req.UserID, to); err != nil {
			return nil, err
		}
	}
	vis.ignored = req.ignored
	events, limited, err := s.scanTimeline(ctx, roomID, from, to, f.TimelineLimit(), &f.Room.Timeline, vis)
	if err != nil {
		return nil, err
	}
	start := to + 1
	if len(events) > 0 {
		start = events[0].StreamPos
	}
	rd := &roomData{}
	// The state changes of (from, start-1] (not full) and of (start-1, to] (a timeline) are
	// read in one query and split at start-1: one read fewer for every woken /sync.
	var before, inTimeline []storage.StateDelta
	if !full || len(events) > 0 {
		lo := from
		if full {
			lo = start - 1
		}
		var changes []storage.StateDelta
		if s.NoShortcuts || !s.notifier.RoomStateQuiet(roomID, lo, to) {
			if changes, err = s.db.StateChangesBetween(ctx, roomID, lo, to); err != nil {
				return nil, err
			}
		}
		i := sort.Search(len(changes), func(i int) bool { return changes[i].Pos > start-1 })
		before, inTimeline = changes[:i], changes[i:]
	}
	var state []storage.Event
	have := map[string]bool{}
	if full {
		if state, err = s.db.StateAt(ctx, roomID, start-1); err != nil {
			return nil, err
		}
		rd.summaryChanged = true
	} else {
		rd.summaryChanged = rd.summaryChanged || touchesSummary(before)
		if state, err = s.db.EventsByIDs(ctx, latestIDs(before, nil)); err != nil {
			return nil, err
		}
	}
	for _, e := range state {
		have[e.EventID] = true
	}
	if len(events) > 0 {
		changes := inTimeline
		rd.summaryChanged = rd.summaryChanged || touchesSummary(changes)
		skip := map[string]bool{}
		for k := range have {
			skip[k] = true
		}
		for _, e := range events {
			skip[e.EventID] = true
		}
		extra, err := s.db.EventsByIDs(ctx, latestIDs(changes, skip))
		if err != nil {
			return nil, err
		}
		state = append(state, extra...)
	}
	sortEvents(state)
	var extraMembers []storage.Event
	if f.Room.State.LazyLoadMembers && !full {
		// The timeline senders' membership events, even when unchanged since the token.
		if extraMembers, err = s.membersAt(ctx, roomID, timelineSenders(events), start-1); err != nil {
			return nil, err
		}
	}
	state = filterState(roomID, state, extraMembers, events, &f.Room.State, req.UserID)
	rd.timeline = Timeline{Events: ClientEvents(events, withMembership(fo, vis)), Limited: limited, PrevBatch: types.PaginationToken{Pos: start - 1}.String()}
	rd.state = EventList{Events: ClientEvents(state, fo)}
	return rd, nil
}

// latestIDs returns, per (type, state_key) changed in changes, the newest event ID unless
// it is skipped or the tuple left the state.
func latestIDs(changes []storage.StateDelta, skip map[string]bool) []string {
	latest := map[[2]string]string{}
	var order [][2]string
	for _, c := range changes {
		k := [2]string{c.EventType, c.StateKey}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = c.EventID
	}
	var ids []string
	for _, k := range order {
		if id := latest[k]; id != "" && !skip[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// touchesSummary reports whether changes alter what the room summary is made of.
func touchesSummary(changes []storage.StateDelta) bool {
	for _, c := range changes {
		switch c.EventType {
		case "m.room.member", "m.room.name", "m.room.canonical_alias":
			return true
		}
	}
	return false
}

func timelineSenders(evs []storage.Event) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range evs {
		if !seen[e.Sender] {
			seen[e.Sender] = true
			out = append(out, e.Sender)
		}
	}
	return out
}

// membersAt returns the membership events of users at position pos (skipping users without one).
func (s *Syncer) membersAt(ctx context.Context, roomID string, users []string, pos int64) ([]storage.Event, error) {
	var out []storage.Event
	for _, u := range users {
		m, err := s.shared(ctx, readKey{kind: readMember, room: roomID, user: u, to: pos}, func() ([]storage.Event, error) {
			m, err := s.db.StateEventAt(ctx, roomID, "m.room.member", u, pos)
			if m == nil {
				return nil, err
			}
			return []storage.Event{*m}, err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

func sortEvents(evs []storage.Event) {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].StreamPos != evs[j].StreamPos {
			return evs[i].StreamPos < evs[j].StreamPos
		}
		return evs[i].EventID < evs[j].EventID
	})
}

func tupleOf(e *storage.Event) matrix.StateKeyTuple {
	sk := ""
	if e.StateKey != nil {
		sk = *e.StateKey
	}
	return matrix.StateKeyTuple{EventType: e.Type, StateKey: sk}
}

// scanTimeline returns, oldest first, the newest `limit` events of a room in (from, to]
// that pass the filter and that the user may see, and whether older such events exist in
// the range (the timeline is limited).
func (s *Syncer) scanTimeline(ctx context.Context, roomID string, from, to int64, limit int, f *RoomEventFilter, vis *roomVisibility) ([]storage.Event, bool, error) {
	var picked []storage.Event
	cur, scanned := to, 0
	for cur > from && len(picked) <= limit {
		if scanned >= maxScan {
			// Older matching events may exist; the client can page back from prev_batch.
			return reverse(picked), true, nil
		}
		c := cur
		batch, err := s.shared(ctx, readKey{kind: readTimeline, room: roomID, from: from, to: c}, func() ([]storage.Event, error) {
			return s.db.RoomEvents(ctx, roomID, from, c, true, scanBatch)
		})
		if err != nil {
			return nil, false, err
		}
		scanned += len(batch)
		for i := range batch {
			e := &batch[i]
			cur = e.StreamPos - 1
			if f.MatchesEvent(roomID, e.Type, e.Sender, eventContent(e)) && vis.canSee(e) {
				picked = append(picked, *e)
				if len(picked) > limit {
					break
				}
			}
		}
		if len(batch) < scanBatch {
			break
		}
	}
	limited := len(picked) > limit
	if limited {
		picked = picked[:limit]
	}
	return reverse(picked), limited, nil
}

func reverse(evs []storage.Event) []storage.Event {
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// filterState applies the state filter and lazy loading of members: with
// lazy_load_members, only the membership events of the timeline's senders and of the user
// are kept, and extraMembers (the senders' unchanged membership events) are added unless
// already present.
func filterState(roomID string, state, extraMembers, timeline []storage.Event, f *RoomEventFilter, userID string) []storage.Event {
	var keepMember map[string]bool
	if f.LazyLoadMembers {
		keepMember = map[string]bool{userID: true}
		for _, e := range timeline {
			keepMember[e.Sender] = true
		}
	}
	present := map[string]bool{}
	out := make([]storage.Event, 0, len(state)+len(extraMembers))
	for _, list := range [][]storage.Event{state, extraMembers} {
		for _, e := range list {
			if present[e.EventID] {
				continue
			}
			if keepMember != nil && e.Type == "m.room.member" && (e.StateKey == nil || !keepMember[*e.StateKey]) {
				continue
			}
			if !f.MatchesEvent(roomID, e.Type, e.Sender, eventContent(&e)) {
				continue
			}
			present[e.EventID] = true
			out = append(out, e)
		}
	}
	return out
}
