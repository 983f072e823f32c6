package internal

import (
	"context"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// roomData is the timeline and state of one room in a /sync response.
type roomData struct {
	timeline Timeline
	state    EventList
}

func (r *roomData) empty() bool { return len(r.timeline.Events) == 0 && len(r.state.Events) == 0 }

// scanBatch is how many rows one storage read takes while looking for timeline events.
const scanBatch = 100

// roomData builds a room's timeline of the events in (from, to] (the newest `limit` that
// pass the filter and the user may see) and its state section: with full, the whole state
// at the start of the timeline; otherwise the state that changed between from and the
// start of the timeline (the spec's "state between since and the start of the timeline").
func (s *Syncer) roomData(ctx context.Context, req *SyncRequest, fo FormatOptions, roomID string, from, to int64, full bool) (*roomData, error) {
	f := req.Filter
	vis, err := s.loadVisibility(ctx, roomID, req.UserID, to)
	if err != nil {
		return nil, err
	}
	events, limited, err := s.scanTimeline(ctx, roomID, from, to, f.TimelineLimit(), &f.Room.Timeline, vis)
	if err != nil {
		return nil, err
	}
	start := to + 1
	if len(events) > 0 {
		start = events[0].StreamPos
	}
	atStart, err := s.db.StateAt(ctx, roomID, start-1)
	if err != nil {
		return nil, err
	}
	state := atStart
	if !full {
		old, err := s.db.StateAt(ctx, roomID, from)
		if err != nil {
			return nil, err
		}
		had := map[matrix.StateKeyTuple]string{}
		for _, e := range old {
			had[tupleOf(&e)] = e.EventID
		}
		state = nil
		for _, e := range atStart {
			if had[tupleOf(&e)] != e.EventID {
				state = append(state, e)
			}
		}
	}
	if len(events) > 0 {
		// State changes inside the timeline that no timeline event explains (state
		// resolution picked another event) go into the state section, so the client's
		// state after applying the timeline is the room's state at `to`.
		atEnd, err := s.db.StateAt(ctx, roomID, to)
		if err != nil {
			return nil, err
		}
		known := map[string]bool{}
		for _, e := range atStart {
			known[e.EventID] = true
		}
		for _, e := range events {
			known[e.EventID] = true
		}
		for _, e := range atEnd {
			if !known[e.EventID] {
				state = append(state, e)
			}
		}
	}
	state = filterState(roomID, state, atStart, events, &f.Room.State, req.UserID)
	return &roomData{
		timeline: Timeline{Events: ClientEvents(events, fo), Limited: limited, PrevBatch: types.PaginationToken{Pos: start - 1}.String()},
		state:    EventList{Events: ClientEvents(state, fo)},
	}, nil
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
	cur := to
	for cur > from && len(picked) <= limit {
		batch, err := s.db.RoomEvents(ctx, roomID, from, cur, true, scanBatch)
		if err != nil {
			return nil, false, err
		}
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
	for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
		picked[i], picked[j] = picked[j], picked[i]
	}
	return picked, limited, nil
}

// filterState applies the state filter and lazy loading of members: with
// lazy_load_members, only the membership events of the timeline's senders and of the user
// are kept (taken from the state at the timeline's start when the delta lacks them).
func filterState(roomID string, state, atStart, timeline []storage.Event, f *RoomEventFilter, userID string) []storage.Event {
	var senders map[string]bool
	if f.LazyLoadMembers {
		senders = map[string]bool{userID: true}
		for _, e := range timeline {
			senders[e.Sender] = true
		}
	}
	out := make([]storage.Event, 0, len(state))
	have := map[string]bool{}
	for _, e := range state {
		if senders != nil && e.Type == "m.room.member" && (e.StateKey == nil || !senders[*e.StateKey]) {
			continue
		}
		if !f.MatchesEvent(roomID, e.Type, e.Sender, eventContent(&e)) {
			continue
		}
		have[e.EventID] = true
		out = append(out, e)
	}
	if senders != nil {
		// The senders' membership events the client needs to show the timeline, even
		// when they did not change since the token.
		inTimeline := map[string]bool{}
		timelineSenders := map[string]bool{}
		for _, e := range timeline {
			inTimeline[e.EventID] = true
			timelineSenders[e.Sender] = true
		}
		for _, e := range atStart {
			if e.Type == "m.room.member" && e.StateKey != nil && timelineSenders[*e.StateKey] && !have[e.EventID] &&
				!inTimeline[e.EventID] && f.MatchesEvent(roomID, e.Type, e.Sender, eventContent(&e)) {
				have[e.EventID] = true
				out = append(out, e)
			}
		}
	}
	return out
}
