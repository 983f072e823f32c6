package syncv3

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/httputil"
)

// Room stream limits and its one sort.
const (
	DefaultTimelineLimit = 10
	MaxTimelineLimit     = 100
	// SortByPosition: pages go back through the room's history, newest page first; the
	// events of a page are oldest first.
	SortByPosition = "by_position"
)

// Event is an event the Source rendered for the client, with its ID.
type Event struct {
	ID   string
	JSON json.RawMessage
}

// StateFilter is a room request's required_state: [type, state_key] pairs, "*" matching
// any type or any state key.
type StateFilter [][]string

// Matches reports whether the filter asks for the state event (type, stateKey).
func (f StateFilter) Matches(typ, stateKey string) bool {
	for _, p := range f {
		if (p[0] == "*" || p[0] == typ) && (p[1] == "*" || p[1] == stateKey) {
			return true
		}
	}
	return false
}

// room: with p.since, a page of the room's timeline at the snapshot going back through
// history (the first page with the required state at the snapshot); without it, the
// events after the since token (the newest timeline_limit of them, limited when there were
// more) and the required state that changed.
func (b *build) room(ctx context.Context, pos Pos, resp *Response) error {
	p := b.sess.Params.Room
	if p == nil || p.RoomID == "" {
		return nil
	}
	limit := DefaultTimelineLimit
	if p.TimelineLimit > 0 {
		limit = min(p.TimelineLimit, MaxTimelineLimit)
	}
	if p.P != nil && p.P.Limit > 0 {
		limit = min(p.P.Limit, MaxTimelineLimit)
	}
	src, user := b.e.Source, b.sess.UserID
	var pageSince string
	if r := b.body.Room; r != nil && r.P != nil {
		pageSince = r.P.Since
	}
	if pageSince == "" {
		if b.fresh {
			return nil // no since: nothing changed after it; the client asks for pages
		}
		if pos.Room <= b.from.Pos.Room {
			return nil
		}
		evs, _, more, err := src.Timeline(ctx, user, p.RoomID, pos.Room, b.from.Pos.Room, limit)
		if err != nil {
			return err
		}
		changed, err := src.StateChanges(ctx, user, p.RoomID, b.from.Pos.Room, pos.Room, StateFilter(p.RequiredState))
		if err != nil {
			return err
		}
		out := &RoomResponse{Timeline: jsonOf(evs), Limited: more}
		inTimeline := make(map[string]bool, len(evs))
		for _, e := range evs {
			inTimeline[e.ID] = true
		}
		for _, e := range changed {
			if !inTimeline[e.ID] {
				out.State = append(out.State, e.JSON)
			}
		}
		if len(out.Timeline) > 0 || len(out.State) > 0 {
			resp.Room = out
		}
		return nil
	}
	snapshot := b.snapshot(pos)
	from := snapshot
	if pageSince != FirstPage {
		n, ok := parseCursor(pageSince, snapshot)
		if !ok || n > snapshot {
			return httputil.InvalidParam("room.p.since is not a page of this snapshot (keep ?since= while paginating)")
		}
		from = n
	}
	evs, next, more, err := src.Timeline(ctx, user, p.RoomID, from, 0, limit)
	if err != nil {
		return err
	}
	out := &RoomResponse{P: &P{Limit: limit, Sort: SortByPosition}, Timeline: jsonOf(evs)}
	if more {
		out.P.Next = cursor(snapshot, next)
	}
	if pageSince == FirstPage && len(p.RequiredState) > 0 {
		if out.State, err = src.State(ctx, user, p.RoomID, snapshot, StateFilter(p.RequiredState)); err != nil {
			return err
		}
	}
	resp.Room = out
	return nil
}

func jsonOf(evs []Event) []json.RawMessage {
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		out[i] = e.JSON
	}
	return out
}
