package storage

import (
	"context"
	"fmt"
)

// PromoteOutlier turns the stored outlier nid into the event e describes (federation's
// outlier promotion): no longer an outlier, rejected or not, with e's state snapshots. Its
// numeric ID stays (snapshots and the current state may name it) and so do its DAG edges,
// written when it was stored as an outlier. Anything but an outlier of that ID fails.
// The two copies of one event ID differ at most in content stripped for a content hash
// that did not match (both redact to the same form), so the longer JSON is the full event:
// e's replaces the stored one when it is longer (the outlier came redacted, the live copy
// whole).
func (s *Store) PromoteOutlier(ctx context.Context, nid int64, e *EventRow) error {
	res, err := s.q.ExecContext(ctx, `UPDATE roomserver_events SET is_outlier = FALSE, is_rejected = $1,
		state_before_snapshot_id = $2, state_after_snapshot_id = $3,
		event_json = CASE WHEN LENGTH(event_json) < LENGTH(CAST($6 AS TEXT)) THEN CAST($6 AS TEXT) ELSE event_json END
		WHERE event_nid = $4 AND event_id = $5 AND is_outlier`,
		e.IsRejected, e.StateBefore, e.StateAfter, nid, e.EventID, string(e.JSON))
	if err != nil {
		return fmt.Errorf("storage: promoting outlier %s: %w", e.EventID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("storage: promoting outlier %s: no outlier %d of that ID", e.EventID, nid)
	}
	e.NID = nid
	return nil
}

// ChildrenOf says whether stored events that are not rejected name eventID among their
// prev_events: timeline, one that is not an outlier; any, one of any kind.
func (s *Store) ChildrenOf(ctx context.Context, eventID string) (timeline, any bool, err error) {
	rows, err := s.q.QueryContext(ctx, `SELECT DISTINCT e.is_outlier FROM roomserver_prev_edges p
		JOIN roomserver_events e ON e.event_nid = p.event_nid WHERE p.prev_event_id = $1 AND NOT e.is_rejected`, eventID)
	if err != nil {
		return false, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var outlier bool
		if err := rows.Scan(&outlier); err != nil {
			return false, false, err
		}
		any = true
		timeline = timeline || !outlier
	}
	return timeline, any, rows.Err()
}

// RemoveForwardExtremity removes one event from the room's forward extremities.
func (s *Store) RemoveForwardExtremity(ctx context.Context, roomID, eventID string) error {
	_, err := s.q.ExecContext(ctx, `DELETE FROM roomserver_forward_extremities WHERE room_id = $1 AND event_id = $2`, roomID, eventID)
	return err
}
