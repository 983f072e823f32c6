package storage

import "context"

// SetMembership records a user's latest membership in a room. Any change clears "forgotten"
// except a leave or ban, which keeps it (a forgotten room stays forgotten until the user is
// invited or joins again).
func (s *Store) SetMembership(ctx context.Context, roomID, userID, membership string, eventNID int64) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_memberships (room_id, user_id, membership, event_nid, forgotten)
		VALUES ($1, $2, $3, $4, FALSE)
		ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_nid = excluded.event_nid,
			forgotten = CASE WHEN excluded.membership IN ('leave', 'ban') THEN roomserver_memberships.forgotten ELSE FALSE END`,
		roomID, userID, membership, eventNID)
	return err
}

// Membership returns the user's membership in the room and its event's numeric ID; "" and 0
// if the user never had one.
func (s *Store) Membership(ctx context.Context, roomID, userID string) (membership string, eventNID int64, forgotten bool, err error) {
	err = s.q.QueryRowContext(ctx, `SELECT membership, event_nid, forgotten FROM roomserver_memberships WHERE room_id = $1 AND user_id = $2`,
		roomID, userID).Scan(&membership, &eventNID, &forgotten)
	if noRows(err) {
		return "", 0, false, nil
	}
	return membership, eventNID, forgotten, err
}

// RoomsForUser lists the rooms where the user's membership is one of memberships (any
// membership if memberships is empty), leaving out rooms the user has forgotten.
func (s *Store) RoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error) {
	q := `SELECT room_id FROM roomserver_memberships WHERE user_id = $1 AND forgotten = FALSE`
	args := []any{userID}
	if len(memberships) > 0 {
		q += ` AND membership IN (` + placeholders(len(memberships), 2) + `)`
		for _, m := range memberships {
			args = append(args, m)
		}
	}
	rows, err := s.q.QueryContext(ctx, q+` ORDER BY room_id`, args...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// ForgetRoom marks the room forgotten for the user.
func (s *Store) ForgetRoom(ctx context.Context, roomID, userID string) error {
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_memberships SET forgotten = TRUE WHERE room_id = $1 AND user_id = $2`, roomID, userID)
	return err
}

// JoinedCount counts the room's joined members.
func (s *Store) JoinedCount(ctx context.Context, roomID string) (int, error) {
	var n int
	err := s.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM roomserver_memberships WHERE room_id = $1 AND membership = 'join'`, roomID).Scan(&n)
	return n, err
}

// RoomMembers lists the users whose membership in the room is membership, sorted.
func (s *Store) RoomMembers(ctx context.Context, roomID, membership string) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT user_id FROM roomserver_memberships WHERE room_id = $1 AND membership = $2 ORDER BY user_id`, roomID, membership)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}
