package storage

import (
	"context"
	"database/sql"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// StreamEDU is topic 3 (eduserver → syncapi): typing, receipts and to-device messages
// share the eduserver's one sequence of positions.
const StreamEDU Stream = "edu"

// EDUWatermark returns the visible position of the edu stream.
func (d *Database) EDUWatermark(ctx context.Context) (int64, error) {
	var w int64
	err := d.db.Reader().QueryRowContext(ctx, `SELECT watermark FROM syncapi_stream_positions WHERE stream = $1`, string(StreamEDU)).Scan(&w)
	return w, err
}

// storeEDU stores one topic 3 record at pos with write (nil: nothing but the position, as
// for typing, which lives in memory) and moves the edu watermark, in one transaction. A
// replayed position changes nothing (Advance.Duplicate).
func (d *Database) storeEDU(ctx context.Context, pos int64, write func(tx *sql.Tx) error) (adv Advance, err error) {
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamEDU)
		if err != nil {
			return err
		}
		if dup, err := seen(ctx, tx, StreamEDU, w, pos); err != nil || dup {
			adv = Advance{From: w, To: w, Duplicate: dup}
			return err
		}
		if write != nil {
			if err := write(tx); err != nil {
				return err
			}
		}
		adv, err = receive(ctx, tx, StreamEDU, w, pos)
		return err
	})
	return adv, err
}

// StoreTypingPosition records a typing record's position (its content is kept in memory).
func (d *Database) StoreTypingPosition(ctx context.Context, pos int64) (Advance, error) {
	return d.storeEDU(ctx, pos, nil)
}

// EDUTargetsBetween returns the rooms of receipts and the users of to-device messages
// stored at positions in (after, upTo]: whom to wake when a gap before them closed.
func (d *Database) EDUTargetsBetween(ctx context.Context, after, upTo int64) (rooms, users []string, err error) {
	if rooms, err = sqlutil.ScanStrings(d.db.Reader().QueryContext(ctx,
		`SELECT DISTINCT room_id FROM syncapi_receipts WHERE stream_pos > $1 AND stream_pos <= $2`, after, upTo)); err != nil {
		return nil, nil, err
	}
	if users, err = sqlutil.ScanStrings(d.db.Reader().QueryContext(ctx,
		`SELECT DISTINCT user_id FROM syncapi_to_device WHERE stream_pos > $1 AND stream_pos <= $2`, after, upTo)); err != nil {
		return nil, nil, err
	}
	return rooms, users, nil
}
