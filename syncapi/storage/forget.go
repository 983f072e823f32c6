package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// StoreForget stores a topic 2 forget record (roomserver OutputForget: userID forgot
// roomID) at position pos and advances the room stream's watermark over it, in one
// transaction. A replayed record changes nothing (Duplicate); of several forgets of one
// room the newest position is kept.
func (d *Database) StoreForget(ctx context.Context, pos int64, roomID, userID string) (adv Advance, err error) {
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamRoom)
		if err != nil {
			return err
		}
		if dup, err := seen(ctx, tx, StreamRoom, w, pos); err != nil || dup {
			adv = Advance{From: w, To: w, Duplicate: dup}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_forgotten (user_id, room_id, stream_pos) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, room_id) DO UPDATE SET stream_pos = excluded.stream_pos
			WHERE syncapi_forgotten.stream_pos < excluded.stream_pos`, userID, roomID, pos); err != nil {
			return fmt.Errorf("syncapi storage: storing forget: %w", err)
		}
		adv, err = receive(ctx, tx, StreamRoom, w, pos)
		return err
	})
	return adv, err
}

// ForgottenRooms returns, for each room userID forgot at a position ≤ upTo, that position.
// The room is forgotten at upTo when the position is newer than the user's membership
// event there in force at upTo (a later join or invite undoes a forget).
func (d *Database) ForgottenRooms(ctx context.Context, userID string, upTo int64) (map[string]int64, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, stream_pos FROM syncapi_forgotten WHERE user_id = $1 AND stream_pos <= $2`, userID, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var p int64
		if err := rows.Scan(&r, &p); err != nil {
			return nil, err
		}
		out[r] = p
	}
	return out, rows.Err()
}

// ForgetPos returns the position at which userID last forgot roomID if it is ≤ upTo, else 0.
func (d *Database) ForgetPos(ctx context.Context, roomID, userID string, upTo int64) (int64, error) {
	var p int64
	err := d.db.Reader().QueryRowContext(ctx, `SELECT stream_pos FROM syncapi_forgotten WHERE user_id = $1 AND room_id = $2 AND stream_pos <= $3`,
		userID, roomID, upTo).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return p, err
}
