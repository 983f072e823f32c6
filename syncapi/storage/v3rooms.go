package storage

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Bulk reads of many rooms at once for sync v3's room_list (syncapi/internal/v3roomlist.go):
// a user in thousands of rooms costs a few queries, never one per room.

// roomChunk bounds the room IDs of one IN list (binding many parameters costs SQLite's
// driver time quadratic in their number; callers with many rooms use the UserRooms* reads).
const roomChunk = 100

// chunks calls fn with roomIDs in slices of at most roomChunk.
func chunks(roomIDs []string, fn func([]string) error) error {
	for len(roomIDs) > 0 {
		n := min(len(roomIDs), roomChunk)
		if err := fn(roomIDs[:n]); err != nil {
			return err
		}
		roomIDs = roomIDs[n:]
	}
	return nil
}

// LastEventPositions returns, per room among roomIDs, the position of its newest timeline
// event at or before upTo (rooms without one are left out).
func (d *Database) LastEventPositions(ctx context.Context, roomIDs []string, upTo int64) (map[string]int64, error) {
	out := make(map[string]int64, len(roomIDs))
	err := chunks(roomIDs, func(ids []string) error {
		args := []any{upTo}
		for _, r := range ids {
			args = append(args, r)
		}
		rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, MAX(stream_pos) FROM syncapi_events
			WHERE room_id IN (`+sqlutil.Placeholders(2, len(ids))+`) AND stream_pos <= $1 GROUP BY room_id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r string
			var p *int64
			if err := rows.Scan(&r, &p); err != nil {
				return err
			}
			if p != nil {
				out[r] = *p
			}
		}
		return rows.Err()
	})
	return out, err
}

// UserRoomsLastEventPositions is LastEventPositions for every room the user has a
// membership event in (one query whatever their number: each room's newest position is an
// index lookup), for callers that need most of them.
func (d *Database) UserRoomsLastEventPositions(ctx context.Context, userID string, upTo int64) (map[string]int64, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT m.room_id, (SELECT MAX(e.stream_pos) FROM syncapi_events e
			WHERE e.room_id = m.room_id AND e.stream_pos <= $2)
		FROM (SELECT DISTINCT room_id FROM syncapi_state_history WHERE event_type = 'm.room.member' AND state_key = $1 AND stream_pos <= $2) m`,
		userID, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var p *int64
		if err := rows.Scan(&r, &p); err != nil {
			return nil, err
		}
		if p != nil {
			out[r] = *p
		}
	}
	return out, rows.Err()
}

// UserRoomsState is StateOfRooms for every room the user has a membership event in (one
// query whatever their number).
func (d *Database) UserRoomsState(ctx context.Context, userID string, types []string, upTo int64) ([]Event, error) {
	args := []any{upTo, userID}
	for _, t := range types {
		args = append(args, t)
	}
	return scanEvents(d.db.Reader().QueryContext(ctx, `SELECT `+prefixed("e.", eventCols)+` FROM syncapi_state_history h
		JOIN syncapi_events e ON e.event_id = h.event_id
		WHERE h.event_type IN (`+sqlutil.Placeholders(3, len(types))+`) AND h.state_key = '' AND h.room_id IN (
			SELECT DISTINCT room_id FROM syncapi_state_history WHERE event_type = 'm.room.member' AND state_key = $2 AND stream_pos <= $1)
		AND h.stream_pos = (SELECT MAX(h2.stream_pos) FROM syncapi_state_history h2
			WHERE h2.room_id = h.room_id AND h2.event_type = h.event_type AND h2.state_key = '' AND h2.stream_pos <= $1)`, args...))
}

// RoomPos is a room and a position.
type RoomPos struct {
	RoomID string
	Pos    int64
}

// NewestEvents returns the rooms and positions of the newest limit timeline events at or
// before upTo, newest first (by position: an index range).
func (d *Database) NewestEvents(ctx context.Context, upTo int64, limit int) ([]RoomPos, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, stream_pos FROM syncapi_events
		WHERE stream_pos <= $1 ORDER BY stream_pos DESC LIMIT CAST($2 AS INTEGER)`, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RoomPos
	for rows.Next() {
		var r RoomPos
		if err := rows.Scan(&r.RoomID, &r.Pos); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RoomsWithEventsBetween returns the rooms with timeline events at positions in
// (after, upTo] (a window read by position: cheap for the short windows of a delta).
func (d *Database) RoomsWithEventsBetween(ctx context.Context, after, upTo int64) (map[string]bool, error) {
	out := map[string]bool{}
	if upTo <= after {
		return out, nil
	}
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT DISTINCT room_id FROM syncapi_events WHERE stream_pos > $1 AND stream_pos <= $2`, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out[r] = true
	}
	return out, rows.Err()
}

// StateOfRooms returns the state events with an empty state key of the given types in
// each of roomIDs at position upTo (rooms without one are left out).
func (d *Database) StateOfRooms(ctx context.Context, roomIDs, types []string, upTo int64) ([]Event, error) {
	var out []Event
	err := chunks(roomIDs, func(ids []string) error {
		args := []any{upTo}
		for _, t := range types {
			args = append(args, t)
		}
		for _, r := range ids {
			args = append(args, r)
		}
		evs, err := scanEvents(d.db.Reader().QueryContext(ctx, `SELECT `+prefixed("e.", eventCols)+` FROM syncapi_state_history h
			JOIN syncapi_events e ON e.event_id = h.event_id
			WHERE h.event_type IN (`+sqlutil.Placeholders(2, len(types))+`) AND h.state_key = '' AND h.room_id IN (`+sqlutil.Placeholders(2+len(types), len(ids))+`)
			AND h.stream_pos = (SELECT MAX(h2.stream_pos) FROM syncapi_state_history h2
				WHERE h2.room_id = h.room_id AND h2.event_type = h.event_type AND h2.state_key = '' AND h2.stream_pos <= $1)`, args...))
		out = append(out, evs...)
		return err
	})
	return out, err
}

// EventsAtPositions returns the timeline events at the given positions.
func (d *Database) EventsAtPositions(ctx context.Context, positions []int64) ([]Event, error) {
	if len(positions) == 0 {
		return nil, nil
	}
	args := make([]any, len(positions))
	for i, p := range positions {
		args[i] = p
	}
	return scanEvents(d.db.Reader().QueryContext(ctx, `SELECT `+eventCols+` FROM syncapi_events WHERE stream_pos IN (`+sqlutil.Placeholders(1, len(positions))+`)`, args...))
}

// AccountDataOfType returns the user's account data of one type, by room ("" for the
// global item).
func (d *Database) AccountDataOfType(ctx context.Context, userID, dataType string) (map[string][]byte, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, content FROM syncapi_account_data WHERE user_id = $1 AND data_type = $2`,
		userID, dataType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var r, c string
		if err := rows.Scan(&r, &c); err != nil {
			return nil, err
		}
		out[r] = []byte(c)
	}
	return out, rows.Err()
}
