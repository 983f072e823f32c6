package storage

import "context"

// EventByTimestamp returns the ID and origin_server_ts of the room's event closest to ts:
// the earliest at or after it when forward, else the latest at or before it. Outliers and
// rejected events are left out; ties go to the lower depth (forward) or the higher
// (backward). eventID is "" when there is none.
func (s *Store) EventByTimestamp(ctx context.Context, roomID string, ts int64, forward bool) (eventID string, eventTS int64, err error) {
	q := `SELECT event_id, origin_server_ts FROM roomserver_events
		WHERE room_id = $1 AND origin_server_ts >= $2 AND is_outlier = FALSE AND is_rejected = FALSE
		ORDER BY origin_server_ts ASC, depth ASC, event_nid ASC LIMIT 1`
	if !forward {
		q = `SELECT event_id, origin_server_ts FROM roomserver_events
		WHERE room_id = $1 AND origin_server_ts <= $2 AND is_outlier = FALSE AND is_rejected = FALSE
		ORDER BY origin_server_ts DESC, depth DESC, event_nid DESC LIMIT 1`
	}
	err = s.q.QueryRowContext(ctx, q, roomID, ts).Scan(&eventID, &eventTS)
	if noRows(err) {
		return "", 0, nil
	}
	return eventID, eventTS, err
}
