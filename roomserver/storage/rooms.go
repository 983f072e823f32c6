package storage

import (
	"context"
	"database/sql"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Room is one row of roomserver_rooms.
type Room struct {
	RoomID      string
	RoomVersion string
	Creator     string
	// SnapshotID is the state snapshot of the room's current state.
	SnapshotID int64
	Visibility string
}

// InsertRoom records a new room. It fails if the room exists.
func (s *Store) InsertRoom(ctx context.Context, roomID, version, creator string, ts int64) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_rooms (room_id, room_version, creator, created_ts) VALUES ($1, $2, $3, $4)`,
		roomID, version, creator, ts)
	return err
}

// GetRoom returns a room, or nil if the room is not known.
func (s *Store) GetRoom(ctx context.Context, roomID string) (*Room, error) {
	var r Room
	err := s.q.QueryRowContext(ctx, `SELECT room_id, room_version, creator, state_snapshot_id, visibility FROM roomserver_rooms WHERE room_id = $1`,
		roomID).Scan(&r.RoomID, &r.RoomVersion, &r.Creator, &r.SnapshotID, &r.Visibility)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// SetRoomSnapshot records the snapshot of the room's current state.
func (s *Store) SetRoomSnapshot(ctx context.Context, roomID string, snapshotID int64) error {
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_rooms SET state_snapshot_id = $1 WHERE room_id = $2`, snapshotID, roomID)
	return err
}

// SetVisibility sets the room's directory visibility ("public" or "private").
func (s *Store) SetVisibility(ctx context.Context, roomID, visibility string) error {
	_, err := s.q.ExecContext(ctx, `UPDATE roomserver_rooms SET visibility = $1 WHERE room_id = $2`, visibility, roomID)
	return err
}

// PublicRoomIDs lists the rooms published in the directory, oldest first.
func (s *Store) PublicRoomIDs(ctx context.Context) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT room_id FROM roomserver_rooms WHERE visibility = 'public' ORDER BY created_ts, room_id`)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// scanStrings reads a query's one text column (sqlutil.ScanStrings).
func scanStrings(rows *sql.Rows) ([]string, error) { return sqlutil.ScanStrings(rows, nil) }
