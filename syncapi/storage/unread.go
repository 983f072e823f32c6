package storage

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// ReadPositions returns, per room of rooms where userID has one, the topic 2 position of
// the event their newest read receipt names (m.read or m.read.private, unthreaded or on
// the main timeline): where their unread notification counts start
// (internal/unread.go). A receipt naming an event this instance does not have (yet), or
// one never on the timeline, is left out, and its room is in pending; so is one naming
// an event of another room (receipts are not checked against the room when posted, and
// another room's position would hide this room's unread events).
func (d *Database) ReadPositions(ctx context.Context, userID string, rooms []string) (positions map[string]int64, pending map[string]bool, err error) {
	out := map[string]int64{}
	pending = map[string]bool{}
	err = chunks(rooms, func(ids []string) error {
		args := make([]any, 0, len(ids)+1)
		args = append(args, userID)
		for _, r := range ids {
			args = append(args, r)
		}
		rows, err := d.db.Reader().QueryContext(ctx, `SELECT r.room_id, COALESCE(MAX(e.stream_pos), 0), COUNT(*) - COUNT(e.stream_pos)
			FROM syncapi_receipts r LEFT JOIN syncapi_events e ON e.event_id = r.event_id AND e.room_id = r.room_id
			WHERE r.user_id = $1 AND r.room_id IN (`+sqlutil.Placeholders(2, len(ids))+`)
				AND r.receipt_type IN ('m.read', 'm.read.private') AND r.thread_id IN ('', 'main')
			GROUP BY r.room_id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var room string
			var pos, unknown int64
			if err := rows.Scan(&room, &pos, &unknown); err != nil {
				return err
			}
			if pos > 0 {
				out[room] = pos
			}
			if unknown > 0 {
				pending[room] = true
			}
		}
		return rows.Err()
	})
	return out, pending, err
}

// ReadReceiptRoomsBetween returns those of rooms where userID's read receipts (m.read,
// m.read.private) were stored at topic 3 positions in (after, upTo].
func (d *Database) ReadReceiptRoomsBetween(ctx context.Context, userID string, rooms []string, after, upTo int64) (map[string]bool, error) {
	out := map[string]bool{}
	if upTo <= after {
		return out, nil
	}
	err := chunks(rooms, func(ids []string) error {
		args := make([]any, 0, len(ids)+3)
		args = append(args, userID, after, upTo)
		for _, r := range ids {
			args = append(args, r)
		}
		rows, err := d.db.Reader().QueryContext(ctx, `SELECT DISTINCT room_id FROM syncapi_receipts
			WHERE user_id = $1 AND stream_pos > $2 AND stream_pos <= $3 AND room_id IN (`+sqlutil.Placeholders(4, len(ids))+`)
				AND receipt_type IN ('m.read', 'm.read.private')`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				return err
			}
			out[r] = true
		}
		return rows.Err()
	})
	return out, err
}
