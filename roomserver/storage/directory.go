package storage

import "context"

// PublicRoomState is what the directory shows of a published room: the JSON of its
// current state events of the types asked for (state_key ""), by type, and its joined
// member count.
type PublicRoomState struct {
	RoomID string
	State  map[string][]byte
	Joined int
}

// PublicRoomsState returns every published room (oldest first) with its current state
// events of the given types and its joined count, in two queries whatever the number of rooms.
func (s *Store) PublicRoomsState(ctx context.Context, types []string) ([]*PublicRoomState, error) {
	ids, err := s.PublicRoomIDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	byID := make(map[string]*PublicRoomState, len(ids))
	out := make([]*PublicRoomState, len(ids))
	for i, id := range ids {
		out[i] = &PublicRoomState{RoomID: id, State: map[string][]byte{}}
		byID[id] = out[i]
	}
	args := make([]any, len(types))
	for i, t := range types {
		args[i] = t
	}
	rows, err := s.q.QueryContext(ctx, `SELECT c.room_id, c.event_type, e.event_json FROM roomserver_rooms r
		JOIN roomserver_current_state c ON c.room_id = r.room_id AND c.state_key = ''
		JOIN roomserver_events e ON e.event_nid = c.event_nid
		WHERE r.visibility = 'public' AND c.event_type IN (`+placeholders(len(types), 1)+`)`, args...)
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
	counts, err := s.q.QueryContext(ctx, `SELECT m.room_id, COUNT(*) FROM roomserver_memberships m
		JOIN roomserver_rooms r ON r.room_id = m.room_id
		WHERE r.visibility = 'public' AND m.membership = 'join' GROUP BY m.room_id`)
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
	return out, counts.Err()
}
