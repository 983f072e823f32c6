package internal

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/axon-matrix/axon/internal/syncv3"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// Timeline pages back through the room's timeline in (after, upTo] as /messages does
// (access and history visibility, ignored users), newest events first, returned oldest
// first.
func (v *V3Source) Timeline(ctx context.Context, userID, roomID string, upTo, after int64, limit int) ([]syncv3.Event, int64, bool, error) {
	acc, err := v.access(ctx, roomID, userID)
	if err != nil {
		return nil, 0, false, err
	}
	upTo = min(upTo, acc.upTo)
	if upTo <= after {
		return nil, upTo, false, nil
	}
	var evs []storage.Event
	var next int64
	var more bool
	if after > 0 {
		// A delta (the newest events after a since token): read as the spec's /sync reads
		// a timeline, once for all the sessions woken together (sharedreads.go).
		evs, more, err = v.s.scanTimeline(ctx, roomID, after, upTo, limit, &RoomEventFilter{}, acc.vis)
		next = after
		if more && len(evs) > 0 {
			next = evs[0].StreamPos - 1
		}
	} else {
		evs, next, more, err = v.s.page(ctx, roomID, upTo, after, true, limit, &RoomEventFilter{}, acc.vis)
		slices.Reverse(evs)
	}
	if err != nil {
		return nil, 0, false, err
	}
	fo := withMembership(FormatOptions{IncludeRoomID: true, UserID: userID, Now: v.s.Now()}, acc.vis)
	out := make([]syncv3.Event, len(evs))
	for i := range evs {
		out[i] = syncv3.Event{ID: evs[i].EventID, JSON: ClientEvent(&evs[i], fo)}
	}
	return out, next, more, nil
}

// State is the room's state at room position at (no later than the user may read), the
// events f asks for.
func (v *V3Source) State(ctx context.Context, userID, roomID string, at int64, f syncv3.StateFilter) ([]json.RawMessage, error) {
	acc, err := v.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	var types []string
	for _, p := range f {
		if p[0] == "*" {
			types = nil
			break
		}
		types = append(types, p[0])
	}
	evs, err := v.s.db.StateAt(ctx, roomID, min(at, acc.upTo), types...)
	if err != nil {
		return nil, err
	}
	fo := FormatOptions{IncludeRoomID: true, UserID: userID, Now: v.s.Now()}
	out := []json.RawMessage{}
	for i := range evs {
		if e := &evs[i]; e.StateKey != nil && f.Matches(e.Type, *e.StateKey) {
			out = append(out, ClientEvent(e, fo))
		}
	}
	return out, nil
}

// StateChanges are the state events f asks for that entered the room's state in
// (after, upTo], oldest first, up to what the user may read.
func (v *V3Source) StateChanges(ctx context.Context, userID, roomID string, after, upTo int64, f syncv3.StateFilter) ([]syncv3.Event, error) {
	if len(f) == 0 {
		return nil, nil
	}
	return v.stateChanges(ctx, userID, roomID, after, upTo, f.Matches)
}

// stateChanges reads the state events that entered the room's state in (after, upTo]
// (capped at what the user may read) and whose (type, state_key) match wants.
func (v *V3Source) stateChanges(ctx context.Context, userID, roomID string, after, upTo int64, wants func(typ, stateKey string) bool) ([]syncv3.Event, error) {
	if upTo <= after {
		return nil, nil
	}
	acc, err := v.access(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	upTo = min(upTo, acc.upTo)
	if upTo <= after || (!v.s.NoShortcuts && v.s.notifier.RoomStateQuiet(roomID, after, upTo)) {
		return nil, nil // nothing entered the room's state (moves.go)
	}
	deltas, err := v.s.db.StateChangesBetween(ctx, roomID, after, upTo)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range deltas {
		if d.EventID != "" && wants(d.EventType, d.StateKey) {
			ids = append(ids, d.EventID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	evs, err := v.s.db.EventsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*storage.Event, len(evs))
	for i := range evs {
		byID[evs[i].EventID] = &evs[i]
	}
	fo := FormatOptions{IncludeRoomID: true, UserID: userID, Now: v.s.Now()}
	out := make([]syncv3.Event, 0, len(ids))
	for _, id := range ids {
		if e := byID[id]; e != nil {
			out = append(out, syncv3.Event{ID: id, JSON: ClientEvent(e, fo)})
		}
	}
	return out, nil
}
