package storage

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// AccountDataRow is one account-data item; RoomID is "" for global data.
type AccountDataRow struct {
	Localpart string
	RoomID    string
	Type      string
	Content   string
	StreamPos int64
}

// UpsertAccountData stores an item, replacing an earlier one of the same user, room and type.
func UpsertAccountData(ctx context.Context, q sqlutil.Querier, a *AccountDataRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO userapi_account_data (localpart, room_id, data_type, content, stream_pos)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (localpart, room_id, data_type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos`,
		a.Localpart, a.RoomID, a.Type, a.Content, a.StreamPos)
	return err
}

// SelectAccountData returns one item's content, or ErrNotFound.
func SelectAccountData(ctx context.Context, q sqlutil.Querier, localpart, roomID, dataType string) (string, error) {
	var c string
	err := q.QueryRowContext(ctx, `SELECT content FROM userapi_account_data WHERE localpart = $1 AND room_id = $2 AND data_type = $3`,
		localpart, roomID, dataType).Scan(&c)
	return c, notFound(err)
}

// SelectAllAccountData returns every item of a user, global first, then by room and type.
func SelectAllAccountData(ctx context.Context, q sqlutil.Querier, localpart string) ([]AccountDataRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT room_id, data_type, content, stream_pos FROM userapi_account_data
		WHERE localpart = $1 ORDER BY room_id, data_type`, localpart)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AccountDataRow
	for rows.Next() {
		a := AccountDataRow{Localpart: localpart}
		if err := rows.Scan(&a.RoomID, &a.Type, &a.Content, &a.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
