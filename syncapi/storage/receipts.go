package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Receipt is one user's newest receipt of one type and thread in a room (topic 3).
type Receipt struct {
	RoomID, UserID, Type, ThreadID, EventID string
	TS, StreamPos                           int64
}

// StoreReceipt stores a topic 3 receipt record at its position and moves the edu
// watermark, in one transaction; it replaces the user's receipt of that type and thread
// unless the stored one came at a later position.
func (d *Database) StoreReceipt(ctx context.Context, r *Receipt) (Advance, error) {
	return d.storeEDU(ctx, r.StreamPos, func(tx *sql.Tx) error { return writeReceipt(ctx, tx, r) })
}

// writeReceipt writes r's row, replacing the user's receipt of that type and thread unless
// the stored one came at a later position.
func writeReceipt(ctx context.Context, tx *sql.Tx, r *Receipt) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO syncapi_receipts (room_id, user_id, receipt_type, thread_id, event_id, ts, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, stream_pos = excluded.stream_pos
		WHERE syncapi_receipts.stream_pos < excluded.stream_pos`,
		r.RoomID, r.UserID, r.Type, r.ThreadID, r.EventID, r.TS, r.StreamPos)
	if err != nil {
		return fmt.Errorf("syncapi storage: storing receipt: %w", err)
	}
	return nil
}

// ReceiptsBetween returns the receipts of rooms stored at positions in (after, upTo],
// oldest first (after 0: every receipt of the rooms, for an initial sync).
func (d *Database) ReceiptsBetween(ctx context.Context, rooms []string, after, upTo int64) ([]Receipt, error) {
	if len(rooms) == 0 || upTo <= after {
		return nil, nil
	}
	args := []any{after, upTo}
	for _, r := range rooms {
		args = append(args, r)
	}
	ph := sqlutil.Placeholders(3, len(rooms))
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, stream_pos
		FROM syncapi_receipts WHERE stream_pos > $1 AND stream_pos <= $2 AND room_id IN (`+ph+`)
		ORDER BY stream_pos`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		var r Receipt
		if err := rows.Scan(&r.RoomID, &r.UserID, &r.Type, &r.ThreadID, &r.EventID, &r.TS, &r.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReceiptRoomPositions returns, per room with receipts, the position of its newest one
// (loaded once at start so /sync can tell from memory which rooms have new receipts).
func (d *Database) ReceiptRoomPositions(ctx context.Context) (map[string]int64, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, MAX(stream_pos) FROM syncapi_receipts GROUP BY room_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var room string
		var pos int64
		if err := rows.Scan(&room, &pos); err != nil {
			return nil, err
		}
		out[room] = pos
	}
	return out, rows.Err()
}
