package storage

import (
	"context"

	"github.com/axon-matrix/axon/matrix"
)

// CurrentState returns the room's current state, or only the given tuples when tuples is
// non-empty (missing tuples are absent from the result).
func (s *Store) CurrentState(ctx context.Context, roomID string, tuples []matrix.StateKeyTuple) (StateMap, error) {
	out := StateMap{}
	if len(tuples) > 0 {
		for _, t := range tuples {
			var nid int64
			err := s.q.QueryRowContext(ctx, `SELECT event_nid FROM roomserver_current_state WHERE room_id = $1 AND event_type = $2 AND state_key = $3`,
				roomID, t.EventType, t.StateKey).Scan(&nid)
			if noRows(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[t] = nid
		}
		return out, nil
	}
	rows, err := s.q.QueryContext(ctx, `SELECT event_type, state_key, event_nid FROM roomserver_current_state WHERE room_id = $1`, roomID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t matrix.StateKeyTuple
		var nid int64
		if err := rows.Scan(&t.EventType, &t.StateKey, &nid); err != nil {
			return nil, err
		}
		out[t] = nid
	}
	return out, rows.Err()
}

// UpdateCurrentState applies a change to the room's current state: set holds new or
// replaced entries, remove the tuples that leave the state.
func (s *Store) UpdateCurrentState(ctx context.Context, roomID string, set StateMap, remove []matrix.StateKeyTuple) error {
	for _, t := range remove {
		if _, err := s.q.ExecContext(ctx, `DELETE FROM roomserver_current_state WHERE room_id = $1 AND event_type = $2 AND state_key = $3`,
			roomID, t.EventType, t.StateKey); err != nil {
			return err
		}
	}
	for t, nid := range set {
		if _, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_current_state (room_id, event_type, state_key, event_nid) VALUES ($1, $2, $3, $4)
			ON CONFLICT (room_id, event_type, state_key) DO UPDATE SET event_nid = excluded.event_nid`,
			roomID, t.EventType, t.StateKey, nid); err != nil {
			return err
		}
	}
	return nil
}
