package storage

import "context"

// InsertAlias maps an alias to a room; it reports false (and changes nothing) if the alias
// is already taken.
func (s *Store) InsertAlias(ctx context.Context, alias, roomID, creator string) (bool, error) {
	res, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_room_aliases (alias, room_id, creator_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		alias, roomID, creator)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Alias returns the room an alias points at and who created the alias; "" if unknown.
func (s *Store) Alias(ctx context.Context, alias string) (roomID, creator string, err error) {
	err = s.q.QueryRowContext(ctx, `SELECT room_id, creator_id FROM roomserver_room_aliases WHERE alias = $1`, alias).Scan(&roomID, &creator)
	if noRows(err) {
		return "", "", nil
	}
	return roomID, creator, err
}

// DeleteAlias removes an alias.
func (s *Store) DeleteAlias(ctx context.Context, alias string) error {
	_, err := s.q.ExecContext(ctx, `DELETE FROM roomserver_room_aliases WHERE alias = $1`, alias)
	return err
}

// AliasesForRoom lists a room's local aliases.
func (s *Store) AliasesForRoom(ctx context.Context, roomID string) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT alias FROM roomserver_room_aliases WHERE room_id = $1 ORDER BY alias`, roomID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}
