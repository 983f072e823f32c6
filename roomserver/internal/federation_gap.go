package internal

import (
	"context"
	"fmt"
	"sort"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// Arrow 3, a gap in the DAG: a received event whose prev_events this server lacks even
// after get_missing_events (more than its limit were missed). The federationapi then
// sends, with the event, the state after each missing prev event as the origin reports
// it, and the events of those states and their auth chains (api.FederationEvent's
// PrevStates and Outliers). Those events are stored as outliers, each authorised against
// its own auth events (storeOutliers); each reported state becomes a snapshot; the state
// before the event is the resolution of them with the states after the prev events held
// (matrix/stateres), and the event is then checked and stored like any forking event
// (storeWithPrevState), the room's current state being resolved again with it — so a
// server that reported a state the room's own history contradicts cannot impose it.

// maxGapPrevEvents bounds the missing prev events a gap may be bridged for.
const maxGapPrevEvents = 10

// gapSnapshots stores gap's outliers and returns a snapshot of the reported state after
// each missing prev event. refusal is set (and no snapshot) when the gap cannot be
// bridged with what was sent: a missing prev event without a state, a state naming an
// unknown event or the same (type, state_key) twice.
func (w *roomWriter) gapSnapshots(ctx context.Context, gap *api.FederationEvent, missing []string) (snaps []int64, refusal string, err error) {
	if len(missing) > maxGapPrevEvents {
		return nil, fmt.Sprintf("%d missing prev_events (at most %d are bridged)", len(missing), maxGapPrevEvents), nil
	}
	for _, id := range missing {
		if _, ok := gap.PrevStates[id]; !ok {
			return nil, "no state given for missing prev event " + id, nil
		}
	}
	byID := map[string]matrix.PDU{}
	for _, raw := range gap.Outliers {
		e, err := w.a.events.ParseReceived(w.version, raw)
		if err != nil || e.RoomID() != w.room.RoomID {
			continue // not an event of this room: left out (the state naming it fails below)
		}
		byID[e.EventID()] = e
	}
	// Events referred to (as auth events or state) that are held already: storeOutliers
	// needs every auth event in byID, and keeps held ones as they are.
	var refs []string
	for _, e := range byID {
		for _, aid := range e.AuthEventIDs() {
			if byID[aid] == nil {
				refs = append(refs, aid)
			}
		}
	}
	for _, id := range missing {
		for _, sid := range gap.PrevStates[id] {
			if byID[sid] == nil {
				refs = append(refs, sid)
			}
		}
	}
	if len(refs) > 0 {
		rows, err := w.s.EventsByID(ctx, refs)
		if err != nil {
			return nil, "", err
		}
		for id, r := range rows {
			if r.RoomID != w.room.RoomID {
				continue
			}
			p, err := w.parsedRow(r)
			if err != nil {
				return nil, "", err
			}
			byID[id] = p
		}
	}
	// Every event a state names must have been sent or be held: checked before anything
	// is stored, so a refused gap leaves nothing behind.
	for _, id := range missing {
		for _, sid := range gap.PrevStates[id] {
			if byID[sid] == nil {
				return nil, fmt.Sprintf("the state after %s names unknown event %s", id, sid), nil
			}
		}
	}
	create, err := w.stateEvent(ctx, "m.room.create", "")
	if err != nil {
		return nil, "", err
	}
	rejected, nids, err := w.storeOutliers(ctx, byID, create)
	if err != nil {
		return nil, "", err
	}
	sorted := append([]string(nil), missing...)
	sort.Strings(sorted)
	for _, id := range sorted {
		state := storage.StateMap{}
		for _, sid := range gap.PrevStates[id] {
			nid, ok := nids[sid]
			if !ok {
				return nil, fmt.Sprintf("the state after %s names unknown event %s", id, sid), nil
			}
			if rejected[sid] {
				continue // a refused event is part of no state
			}
			t, ok := matrix.Tuple(byID[sid])
			if !ok {
				return nil, fmt.Sprintf("the state after %s names non-state event %s", id, sid), nil
			}
			if _, dup := state[t]; dup {
				return nil, fmt.Sprintf("the state after %s has %s|%s twice", id, t.EventType, t.StateKey), nil
			}
			state[t] = nid
		}
		if nid, ok := state[matrix.StateKeyTuple{EventType: "m.room.create"}]; !ok || nid != nids[create.EventID()] {
			return nil, fmt.Sprintf("the state after %s lacks the room's create event", id), nil
		}
		snap, err := w.s.NewSnapshot(ctx, w.room.RoomID, 0, state)
		if err != nil {
			return nil, "", err
		}
		snaps = append(snaps, snap)
	}
	return snaps, "", nil
}

// currentWithGap is the state the soft-fail check of an event at a gap uses: the states
// after the room's forward extremities resolved with before, the state before the event.
func (w *roomWriter) currentWithGap(ctx context.Context, before int64) (storage.StateMap, error) {
	depths, err := w.extremityDepths(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(depths))
	for id := range depths {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rows, err := w.s.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	snaps := make([]int64, 0, len(ids)+1)
	for _, id := range ids {
		if r := rows[id]; r != nil {
			snaps = append(snaps, r.StateAfter)
		}
	}
	snap, err := w.resolveSnapshots(ctx, append(snaps, before))
	if err != nil {
		return nil, err
	}
	return w.s.LoadSnapshot(ctx, snap)
}
