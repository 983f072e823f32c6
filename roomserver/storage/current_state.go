package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// CurrentState returns the room's current state, or only the given tuples when tuples is
// non-empty (missing tuples are absent from the result).
func (s *Store) CurrentState(ctx context.Context, roomID string, tuples []matrix.StateKeyTuple) (StateMap, error) {
	out := StateMap{}
	err := s.currentState(ctx, roomID, tuples, func(t matrix.StateKeyTuple, nid int64, _ string) { out[t] = nid })
	return out, err
}

// StateRef is a state entry's event, by numeric and by event ID.
type StateRef struct {
	NID     int64
	EventID string
}

// CurrentStateRefs is CurrentState with the event IDs.
func (s *Store) CurrentStateRefs(ctx context.Context, roomID string, tuples []matrix.StateKeyTuple) (map[matrix.StateKeyTuple]StateRef, error) {
	out := map[matrix.StateKeyTuple]StateRef{}
	err := s.currentState(ctx, roomID, tuples, func(t matrix.StateKeyTuple, nid int64, id string) { out[t] = StateRef{NID: nid, EventID: id} })
	return out, err
}

func (s *Store) currentState(ctx context.Context, roomID string, tuples []matrix.StateKeyTuple, add func(matrix.StateKeyTuple, int64, string)) error {
	q := `SELECT c.event_type, c.state_key, c.event_nid, e.event_id FROM roomserver_current_state c
		JOIN roomserver_events e ON e.event_nid = c.event_nid WHERE c.room_id = $1`
	args := []any{roomID}
	if len(tuples) > 0 {
		// One query for all tuples: (type = $2 AND state_key = $3) OR …
		var cond strings.Builder
		for i, t := range tuples {
			if i > 0 {
				cond.WriteString(" OR ")
			}
			fmt.Fprintf(&cond, "(c.event_type = $%d AND c.state_key = $%d)", len(args)+1, len(args)+2)
			args = append(args, t.EventType, t.StateKey)
		}
		q += " AND (" + cond.String() + ")"
	}
	rows, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t matrix.StateKeyTuple
		var nid int64
		var id string
		if err := rows.Scan(&t.EventType, &t.StateKey, &nid, &id); err != nil {
			return err
		}
		add(t, nid, id)
	}
	return rows.Err()
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
