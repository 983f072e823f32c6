package internal

import (
	"context"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// Outlier promotion (arrow 3). An event first stored as an outlier — backfilled history
// (backfill.go), an auth or state event of a join or of a gap (remotejoin.go,
// federation_authchain.go, federation_gap.go) — that later arrives live (in /send, or as
// a prev_event fetched by get_missing_events) is checked like any received event
// (federation_input.go: its auth events, the state before it, the current state) and its
// stored row becomes that verdict: a timeline event with its state snapshots, a forward
// extremity unless events held already name it as a prev_event (updateExtremities), and
// one topic 2 record (and topic 6 for a local sender) — or soft-failed, or rejected. An
// outlier from before the timeline this server follows (beforeTimeline: no prev_events, or
// prev_events held only as outliers, as backfilled history and a join's state are) is not
// promoted and is answered as before. The row keeps its
// numeric ID, which snapshots may name. An outlier rejected by its own auth events keeps
// that verdict. Promotion happens once: the row is no longer an outlier afterwards, so the
// event arriving again gets the same verdict and writes nothing.
//
// The syncapi shows a promoted event once: one it already holds as backfilled history keeps
// its negative position (syncapi/storage/backfill.go: a topic 2 record of an event already
// positioned changes only the state), so it stays in /messages where it was and does not
// appear again in /sync; one it holds as position-less state (a state event of a join)
// takes the record's position and enters the timeline.

// beforeTimeline says whether an outlier lies before the timeline this server follows, and
// so is not promoted: it has no prev_events (a create event), or one of them is held only
// as an outlier too (history from before this server joined, the state of a join). As
// Synapse ignores events older than the room's minimum depth, such an event is history,
// not a new leaf of the DAG: checked against a state rebuilt from outliers it could be
// refused, and refusing an event the room's state is built on would refuse all that
// follows. Prev events not held at all are reported missing as for any received event.
func (w *roomWriter) beforeTimeline(ctx context.Context, e matrix.PDU) (bool, error) {
	if len(e.PrevEventIDs()) == 0 {
		return true, nil
	}
	rows, err := w.s.EventsByID(ctx, e.PrevEventIDs())
	if err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.IsOutlier {
			return true, nil
		}
	}
	return false, nil
}

// promote marks the stored outlier old as the event being input, so that insertEvent turns
// the outlier into it instead of inserting a new row; the returned func unmarks it.
func (w *roomWriter) promote(old *storage.EventRow) func() {
	if w.promoting == nil {
		w.promoting = map[string]int64{}
	}
	w.promoting[old.EventID] = old.NID
	return func() { delete(w.promoting, old.EventID) }
}

// insertEvent stores an event row: a new row, or the outlier being promoted (promote).
func (w *roomWriter) insertEvent(ctx context.Context, row *storage.EventRow) (int64, error) {
	if nid, ok := w.promoting[row.EventID]; ok {
		return nid, w.s.PromoteOutlier(ctx, nid, row)
	}
	return w.s.InsertEvent(ctx, row)
}

// updateExtremities makes e a forward extremity in place of its prev_events. A promoted
// event may have children held already: when one is a timeline event (accepted across a
// gap while e was an outlier), e and its prev_events are no leaves of the DAG and e is not
// kept as an extremity (unless that would leave the room none); when its children are
// outliers only, the extremities are left as they are (e lies behind what they follow).
func (w *roomWriter) updateExtremities(ctx context.Context, e matrix.PDU) error {
	if _, ok := w.promoting[e.EventID()]; ok {
		timeline, any, err := w.s.ChildrenOf(ctx, e.EventID())
		if err != nil {
			return err
		}
		if any && !timeline {
			return nil
		}
		if timeline {
			if err := w.s.UpdateForwardExtremities(ctx, w.room.RoomID, e.PrevEventIDs(), e.EventID()); err != nil {
				return err
			}
			left, err := w.s.ForwardExtremities(ctx, w.room.RoomID)
			if err != nil || len(left) <= 1 {
				return err // e alone is kept
			}
			if w.head.extremities != nil {
				delete(w.head.extremities, e.EventID())
			}
			return w.s.RemoveForwardExtremity(ctx, w.room.RoomID, e.EventID())
		}
	}
	return w.s.UpdateForwardExtremities(ctx, w.room.RoomID, e.PrevEventIDs(), e.EventID())
}
