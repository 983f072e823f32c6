package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Backfilled history (arrow 2's backfill, internal/backfill.go) sits below the room's
// first topic 2 event, at negative stream positions: the topic 2 positions are dense and
// assigned by the roomserver, so history fetched later cannot take any of them. Each
// backfill takes the positions just below the lowest negative one of this database,
// newest event first, so within a room older history always has lower positions. No
// watermark covers them and no state row is written for them: /sync never sees them (it
// reads positions above its since token, which is ≥ 0), only /messages, /context and
// /event do, and they never change the room's current state.

// EarliestRoomEvent returns the room's timeline event with the lowest position (backfilled
// ones included), or nil.
func (d *Database) EarliestRoomEvent(ctx context.Context, roomID string) (*Event, error) {
	e, err := scanEvent(d.db.Reader().QueryRowContext(ctx, `SELECT `+eventCols+` FROM syncapi_events
		WHERE room_id = $1 AND stream_pos IS NOT NULL ORDER BY stream_pos ASC LIMIT 1`, roomID))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// StoreBackfilled stores history of a room fetched from other servers, newest first, at
// negative positions below every position used so far. An event already on the timeline
// keeps its position (and is left out of the answer); one stored without a position (a
// state event that came with a join) gets one. It returns the events stored, with their
// positions, newest first.
func (d *Database) StoreBackfilled(ctx context.Context, events []Event) ([]Event, error) {
	var out []Event
	err := sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		out = out[:0]
		// The room stream's lock row serialises backfills (and topic 2 stores) so that
		// two never take the same positions.
		if _, err := d.lockStream(ctx, tx, StreamRoom); err != nil {
			return err
		}
		var low sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(stream_pos) FROM syncapi_events WHERE stream_pos < 0`).Scan(&low); err != nil {
			return err
		}
		next := int64(-1)
		if low.Valid {
			next = low.Int64 - 1
		}
		for _, e := range events {
			var sk any
			if e.StateKey != nil {
				sk = *e.StateKey
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO syncapi_events (stream_pos, event_id, room_id, event_type, sender,
				state_key, membership, origin_server_ts, event_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (event_id) DO UPDATE SET stream_pos = excluded.stream_pos WHERE syncapi_events.stream_pos IS NULL`,
				next, e.EventID, e.RoomID, e.Type, e.Sender, sk, e.Membership, e.OriginServerTS, string(e.JSON))
			if err != nil {
				return fmt.Errorf("syncapi storage: storing backfilled event %s: %w", e.EventID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // on the timeline already
			}
			e.StreamPos = next
			out = append(out, e)
			next--
		}
		return nil
	})
	return out, err
}
