package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// RemoteDeviceUpdate is one m.device_list_update of another server's user.
type RemoteDeviceUpdate struct {
	UserID, DeviceID string
	StreamID         int64
	Deleted          bool
}

// RecordRemoteDeviceUpdate records u unless the device has a newer or equal stream_id
// already (a repeated or late EDU), and stages the change on topic 7 in the same
// transaction so /sync's device_lists.changed shows it. It reports whether u was new.
func (d *Database) RecordRemoteDeviceUpdate(ctx context.Context, u RemoteDeviceUpdate) (bool, error) {
	recorded := false
	err := sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT stream_id FROM keyserver_remote_device_lists WHERE user_id = $1 AND device_id = $2`,
			u.UserID, u.DeviceID).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case stored >= u.StreamID:
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_remote_device_lists (user_id, device_id, stream_id, deleted)
			VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO UPDATE SET stream_id = excluded.stream_id, deleted = excluded.deleted`,
			u.UserID, u.DeviceID, u.StreamID, u.Deleted); err != nil {
			return err
		}
		recorded = true
		return d.stageChanges(ctx, tx, []Change{{UserID: u.UserID, DeviceID: u.DeviceID, Deleted: u.Deleted}})
	})
	return recorded && err == nil, err
}
