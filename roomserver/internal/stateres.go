package internal

import (
	"context"
	"fmt"
	"sort"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/stateres"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// This file holds the state of a room where its DAG forks: the state before an event with
// several prev_events, and the current state of a room with several forward extremities,
// are the resolution (matrix/stateres) of the states after each of them. Local events
// never fork a room on their own (their prev_events are all the extremities); forks come
// from federation (arrow 3), which stores events through storeWithPrevState and so reuses
// this without change.

// resolveSnapshots returns a snapshot holding the resolved state of the given snapshots
// (the states after each prev event or extremity). One distinct snapshot needs no work;
// otherwise the result is written as a new snapshot, a delta over the first one.
func (w *roomWriter) resolveSnapshots(ctx context.Context, snapshots []int64) (int64, error) {
	distinct := make([]int64, 0, len(snapshots))
	seen := map[int64]bool{}
	for _, s := range snapshots {
		if !seen[s] {
			seen[s] = true
			distinct = append(distinct, s)
		}
	}
	switch len(distinct) {
	case 0:
		return 0, nil
	case 1:
		return distinct[0], nil
	}
	sets := make([]storage.StateMap, len(distinct))
	var allNIDs []int64
	for i, id := range distinct {
		m, err := w.s.LoadSnapshot(ctx, id)
		if err != nil {
			return 0, err
		}
		sets[i] = m
		for _, nid := range m {
			allNIDs = append(allNIDs, nid)
		}
	}
	ids, err := w.s.EventIDsByNID(ctx, allNIDs)
	if err != nil {
		return 0, err
	}
	nidOf := make(map[string]int64, len(ids))
	idSets := make([]stateres.StateMap, len(sets))
	for i, m := range sets {
		idSets[i] = make(stateres.StateMap, len(m))
		for t, nid := range m {
			idSets[i][t] = ids[nid]
			nidOf[ids[nid]] = nid
		}
	}
	resolved, err := stateres.Resolve(ctx, w.version, idSets, w.fetchForStateRes, w.s.AuthChain)
	if err != nil {
		return 0, fmt.Errorf("roomserver: resolving state of %s: %w", w.room.RoomID, err)
	}
	delta := storage.StateMap{}
	for t, id := range resolved {
		nid, ok := nidOf[id]
		if !ok {
			return 0, fmt.Errorf("roomserver: state resolution chose unknown event %s", id)
		}
		if sets[0][t] != nid {
			delta[t] = nid
		}
	}
	for t := range sets[0] {
		if _, ok := resolved[t]; !ok {
			delta[t] = 0
		}
	}
	return w.s.NewSnapshot(ctx, w.room.RoomID, distinct[0], delta)
}

// fetchForStateRes loads events for state resolution, leaving out rejected ones.
func (w *roomWriter) fetchForStateRes(ctx context.Context, eventIDs []string) ([]matrix.PDU, error) {
	rows, err := w.s.EventsByID(ctx, eventIDs)
	if err != nil {
		return nil, err
	}
	out := make([]matrix.PDU, 0, len(rows))
	for _, r := range rows {
		if r.IsRejected || r.RoomID != w.room.RoomID {
			continue
		}
		e := w.parsed[r.NID]
		if e == nil {
			if e, err = w.a.events.Parse(w.version, r.EventID, r.JSON); err != nil {
				return nil, err
			}
			w.parsed[r.NID] = e
		}
		out = append(out, e)
	}
	return out, nil
}

// stateBefore returns the snapshot of the state before an event with these prev events:
// the resolved states after them, and after prev events this server lacks (extra: their
// states as another server reported them, federation_gap.go).
func (w *roomWriter) stateBefore(ctx context.Context, prevRows map[string]*storage.EventRow, extra ...int64) (int64, error) {
	snaps := make([]int64, 0, len(prevRows)+len(extra))
	keys := make([]string, 0, len(prevRows))
	for id := range prevRows {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		snaps = append(snaps, prevRows[id].StateAfter)
	}
	return w.resolveSnapshots(ctx, append(snaps, extra...))
}

// recomputeCurrentState sets the room's current state to the resolved states after its
// forward extremities, updating the current state rows and memberships, and returns the
// event IDs that entered and left the current state (for topic 2).
func (w *roomWriter) recomputeCurrentState(ctx context.Context) (adds, removes []string, err error) {
	w.stale = true // the room's head does not follow state resolution (roomhead.go)
	extremities, err := w.s.ForwardExtremities(ctx, w.room.RoomID)
	if err != nil {
		return nil, nil, err
	}
	rows, err := w.s.EventsByID(ctx, extremities)
	if err != nil {
		return nil, nil, err
	}
	snap, err := w.stateBefore(ctx, rows)
	if err != nil {
		return nil, nil, err
	}
	if snap == w.room.SnapshotID {
		return nil, nil, nil
	}
	newState, err := w.s.LoadSnapshot(ctx, snap)
	if err != nil {
		return nil, nil, err
	}
	oldState, err := w.s.CurrentState(ctx, w.room.RoomID, nil)
	if err != nil {
		return nil, nil, err
	}
	set := storage.StateMap{}
	var gone []matrix.StateKeyTuple
	var addNIDs, removeNIDs []int64
	for t, nid := range newState {
		if old, ok := oldState[t]; !ok || old != nid {
			set[t] = nid
			addNIDs = append(addNIDs, nid)
			if ok {
				removeNIDs = append(removeNIDs, old)
			}
		}
	}
	for t, old := range oldState {
		if _, ok := newState[t]; !ok {
			gone = append(gone, t)
			removeNIDs = append(removeNIDs, old)
		}
	}
	if err := w.s.UpdateCurrentState(ctx, w.room.RoomID, set, gone); err != nil {
		return nil, nil, err
	}
	if err := w.s.SetRoomSnapshot(ctx, w.room.RoomID, snap); err != nil {
		return nil, nil, err
	}
	w.room.SnapshotID = snap
	// Memberships follow the new member events.
	if len(set) > 0 {
		nids := make([]int64, 0, len(set))
		for _, nid := range set {
			nids = append(nids, nid)
		}
		evs, err := w.s.EventsByNID(ctx, nids)
		if err != nil {
			return nil, nil, err
		}
		for t, nid := range set {
			if t.EventType != "m.room.member" {
				continue
			}
			r := evs[nid]
			if r == nil {
				continue
			}
			e, err := w.a.events.Parse(w.version, r.EventID, r.JSON)
			if err != nil {
				return nil, nil, err
			}
			if err := w.setMembership(ctx, t.StateKey, e, nid); err != nil {
				return nil, nil, err
			}
		}
	}
	ids, err := w.s.EventIDsByNID(ctx, append(append([]int64(nil), addNIDs...), removeNIDs...))
	if err != nil {
		return nil, nil, err
	}
	for _, n := range addNIDs {
		adds = append(adds, ids[n])
	}
	for _, n := range removeNIDs {
		removes = append(removes, ids[n])
	}
	sort.Strings(adds)
	sort.Strings(removes)
	return adds, removes, nil
}

// storeWithPrevState stores an authorised event whose state before is the snapshot before
// (the resolved state after its prev events), adds it to the forward extremities, and
// recomputes the current state by resolving the states after every extremity. Topic 2
// carries the resulting change of the current state. This is the path of events that fork
// the DAG; federation (arrow 3) will store received events through it.
func (w *roomWriter) storeWithPrevState(ctx context.Context, e matrix.PDU, before int64, hv string, opts sendOpts) error {
	w.stale = true // the room's head does not follow a fork (roomhead.go)
	row := &storage.EventRow{EventID: e.EventID(), RoomID: w.room.RoomID, Type: e.Type(), StateKey: e.StateKey(),
		Sender: e.Sender(), Depth: e.Depth(), OriginServerTS: e.OriginServerTS(), JSON: e.JSON(),
		StateBefore: before, StateAfter: before, PrevEventIDs: e.PrevEventIDs(), AuthEventIDs: e.AuthEventIDs()}
	nid, err := w.insertEvent(ctx, row) // a new row, or a promoted outlier (federation_promote.go)
	if err != nil {
		return err
	}
	w.parsed[nid] = e
	w.countStored(e)
	if tuple, ok := matrix.Tuple(e); ok {
		snap, err := w.s.NewSnapshot(ctx, w.room.RoomID, before, storage.StateMap{tuple: nid})
		if err != nil {
			return err
		}
		if err := w.s.SetEventStateAfter(ctx, nid, snap); err != nil {
			return err
		}
	}
	if err := w.updateExtremities(ctx, e); err != nil {
		return err
	}
	adds, removes, err := w.recomputeCurrentState(ctx)
	if err != nil {
		return err
	}
	if opts.TxnID != "" {
		if err := w.s.InsertTxn(ctx, w.room.RoomID, e.Sender(), opts.DeviceID, opts.TxnID, e.EventID()); err != nil {
			return err
		}
	}
	// Topic 2 (roomserver → syncapi), with the current state change after resolution.
	w.pending = append(w.pending, pendingOutput{topic: w.a.topics.RoomEvent, key: w.room.RoomID, eventNID: nid,
		roomEvent: &api.OutputEvent{Type: api.OutputNewRoomEvent, NewRoomEvent: &api.OutputNewRoomEventData{
			RoomVersion: string(w.version.ID), Event: e.JSON(), EventID: e.EventID(), AddsStateEventIDs: adds,
			RemovesStateEventIDs: removes, TxnDeviceID: opts.DeviceID, TxnID: opts.TxnID, HistoryVisibility: hv}}})
	// Topic 6 (roomserver → federationsender), for a local sender.
	return w.stageFederation(ctx, e)
}
