package storage

import "context"

// CurrentStateOfType returns the JSON of the room's current state events of one type,
// whatever their state key, ordered by state key: a space's m.space.child events for
// /hierarchy.
func (s *Store) CurrentStateOfType(ctx context.Context, roomID, eventType string) ([][]byte, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT e.event_json FROM roomserver_current_state c
		JOIN roomserver_events e ON e.event_nid = c.event_nid
		WHERE c.room_id = $1 AND c.event_type = $2 ORDER BY c.state_key`, roomID, eventType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var js string
		if err := rows.Scan(&js); err != nil {
			return nil, err
		}
		out = append(out, []byte(js))
	}
	return out, rows.Err()
}

// ServerHasMember says whether a user of server has one of memberships in the room (a
// server "in" the room for /hierarchy; one query, however many members).
func (s *Store) ServerHasMember(ctx context.Context, roomID, server string, memberships []string) (bool, error) {
	suffix := ":" + server
	args := []any{roomID, suffix}
	for _, m := range memberships {
		args = append(args, m)
	}
	var n int
	err := s.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM roomserver_memberships
		WHERE room_id = $1 AND SUBSTR(user_id, LENGTH(user_id) - LENGTH(CAST($2 AS TEXT)) + 1) = CAST($2 AS TEXT)
		AND membership IN (`+placeholders(len(memberships), 3)+`) LIMIT 1) m`, args...).Scan(&n)
	return n > 0, err
}
