package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// AccountData is one account data item as the syncapi stores it. RoomID is "" for global data.
type AccountData struct {
	RoomID    string
	Type      string
	Content   []byte
	StreamPos int64
}

// StoreAccountData stores a topic 1 record (the newest value of one item) at position pos
// and advances the account data watermark, in one transaction. An older or replayed record
// does not overwrite a newer value.
func (d *Database) StoreAccountData(ctx context.Context, pos int64, userID, roomID, dataType string, content []byte) (adv Advance, err error) {
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamAccountData)
		if err != nil {
			return err
		}
		if dup, err := seen(ctx, tx, StreamAccountData, w, pos); err != nil || dup {
			adv = Advance{From: w, To: w, Duplicate: dup}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_account_data (user_id, room_id, data_type, content, stream_pos)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (user_id, room_id, data_type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos
			WHERE syncapi_account_data.stream_pos < excluded.stream_pos`, userID, roomID, dataType, string(content), pos); err != nil {
			return fmt.Errorf("syncapi storage: storing account data: %w", err)
		}
		adv, err = receive(ctx, tx, StreamAccountData, w, pos)
		return err
	})
	return adv, err
}

// AccountDataBetween returns userID's account data items whose newest value has a
// position in (after, upTo].
func (d *Database) AccountDataBetween(ctx context.Context, userID string, after, upTo int64) ([]AccountData, error) {
	if upTo <= after {
		return nil, nil // an empty window (most incremental syncs): no query
	}
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, data_type, content, stream_pos FROM syncapi_account_data
		WHERE user_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos`, userID, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AccountData
	for rows.Next() {
		var a AccountData
		var c string
		if err := rows.Scan(&a.RoomID, &a.Type, &c, &a.StreamPos); err != nil {
			return nil, err
		}
		a.Content = []byte(c)
		out = append(out, a)
	}
	return out, rows.Err()
}

// AccountDataUsersBetween returns the users whose account data has a position in (after, upTo].
func (d *Database) AccountDataUsersBetween(ctx context.Context, after, upTo int64) ([]string, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT DISTINCT user_id FROM syncapi_account_data WHERE stream_pos > $1 AND stream_pos <= $2`, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// GlobalAccountDataOfType returns every user's global account data item of one type (the
// ignore lists, read once at start), keyed by user.
func (d *Database) GlobalAccountDataOfType(ctx context.Context, dataType string) (map[string]AccountData, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT user_id, content, stream_pos FROM syncapi_account_data
		WHERE data_type = $1 AND room_id = ''`, dataType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]AccountData{}
	for rows.Next() {
		var u, c string
		a := AccountData{Type: dataType}
		if err := rows.Scan(&u, &c, &a.StreamPos); err != nil {
			return nil, err
		}
		a.Content = []byte(c)
		out[u] = a
	}
	return out, rows.Err()
}
