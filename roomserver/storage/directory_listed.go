package storage

import "context"

// RoomsStateByID is PublicRoomsState for the given rooms whatever their visibility (the
// rooms an application service lists in the directory for a third-party network), in the
// order of ids; unknown rooms are left out.
func (s *Store) RoomsStateByID(ctx context.Context, types, ids []string) ([]*PublicRoomState, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	idArgs := make([]any, len(ids))
	for i, id := range ids {
		idArgs[i] = id
	}
	known, err := s.q.QueryContext(ctx, `SELECT room_id FROM roomserver_rooms WHERE room_id IN (`+placeholders(len(ids), 1)+`)`, idArgs...)
	if err != nil {
		return nil, err
	}
	have, err := scanStrings(known)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*PublicRoomState, len(have))
	for _, id := range have {
		byID[id] = &PublicRoomState{RoomID: id, State: map[string][]byte{}}
	}
	args := append(append([]any{}, idArgs...), make([]any, len(types))...)
	for i, t := range types {
		args[len(ids)+i] = t
	}
	rows, err := s.q.QueryContext(ctx, `SELECT c.room_id, c.event_type, e.event_json FROM roomserver_current_state c
		JOIN roomserver_events e ON e.event_nid = c.event_nid
		WHERE c.room_id IN (`+placeholders(len(ids), 1)+`) AND c.state_key = '' AND c.event_type IN (`+placeholders(len(types), len(ids)+1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var roomID, typ, js string
		if err := rows.Scan(&roomID, &typ, &js); err != nil {
			return nil, err
		}
		if r := byID[roomID]; r != nil {
			r.State[typ] = []byte(js)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	counts, err := s.q.QueryContext(ctx, `SELECT room_id, COUNT(*) FROM roomserver_memberships
		WHERE room_id IN (`+placeholders(len(ids), 1)+`) AND membership = 'join' GROUP BY room_id`, idArgs...)
	if err != nil {
		return nil, err
	}
	defer counts.Close()
	for counts.Next() {
		var roomID string
		var n int
		if err := counts.Scan(&roomID, &n); err != nil {
			return nil, err
		}
		if r := byID[roomID]; r != nil {
			r.Joined = n
		}
	}
	if err := counts.Err(); err != nil {
		return nil, err
	}
	var out []*PublicRoomState
	for _, id := range ids {
		if r := byID[id]; r != nil {
			out = append(out, r)
			delete(byID, id) // an ID listed twice comes once
		}
	}
	return out, nil
}
