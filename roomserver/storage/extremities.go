package storage

import "context"

// ForwardExtremities returns the room's forward extremities (its DAG's current leaves),
// which new local events take as prev_events.
func (s *Store) ForwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT event_id FROM roomserver_forward_extremities WHERE room_id = $1 ORDER BY event_id`, roomID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// UpdateForwardExtremities removes the events that a new event references and adds the new
// event: a new local event replaces all of them; a federated event may replace only some.
// The common case, one extremity replaced by the new event, is one UPDATE.
func (s *Store) UpdateForwardExtremities(ctx context.Context, roomID string, remove []string, add string) error {
	remove = dedupe(remove)
	if len(remove) == 1 && remove[0] != add {
		res, err := s.q.ExecContext(ctx, `UPDATE roomserver_forward_extremities SET event_id = $1 WHERE room_id = $2 AND event_id = $3`,
			add, roomID, remove[0])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
	} else if len(remove) > 0 {
		args := make([]any, 0, len(remove)+1)
		args = append(args, roomID)
		for _, id := range remove {
			args = append(args, id)
		}
		if _, err := s.q.ExecContext(ctx, `DELETE FROM roomserver_forward_extremities WHERE room_id = $1 AND event_id IN (`+
			placeholders(len(remove), 2)+`)`, args...); err != nil {
			return err
		}
	}
	_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_forward_extremities (room_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, roomID, add)
	return err
}

// ExtremityDepths returns the room's forward extremities with their depths.
func (s *Store) ExtremityDepths(ctx context.Context, roomID string) (map[string]int64, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT f.event_id, e.depth FROM roomserver_forward_extremities f
		JOIN roomserver_events e ON e.event_id = f.event_id WHERE f.room_id = $1`, roomID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var depth int64
		if err := rows.Scan(&id, &depth); err != nil {
			return nil, err
		}
		out[id] = depth
	}
	return out, rows.Err()
}
