package storage

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/axon-matrix/axon/internal/sqlutil"
)

// ToDevice is one to-device message waiting for its device (topic 3).
type ToDevice struct {
	UserID, DeviceID, Sender, Type string
	Content                        []byte
	StreamPos                      int64
}

// StoreToDevice stores a topic 3 to-device record at its position and moves the edu
// watermark, in one transaction.
func (d *Database) StoreToDevice(ctx context.Context, m *ToDevice) (Advance, error) {
	return d.storeEDU(ctx, m.StreamPos, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO syncapi_to_device (user_id, device_id, stream_pos, sender, event_type, content)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, m.UserID, m.DeviceID, m.StreamPos, m.Sender, m.Type, string(m.Content))
		if err != nil {
			return fmt.Errorf("syncapi storage: storing to-device message: %w", err)
		}
		return nil
	})
}

// StoreToDeviceRun stores consecutive to-device records in one transaction and returns
// the Advance of each, in order, as StoreToDevice would have given it.
func (d *Database) StoreToDeviceRun(ctx context.Context, msgs []ToDevice) ([]Advance, error) {
	var advs []Advance
	err := sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		advs = advs[:0]
		w, err := d.lockStream(ctx, tx, StreamEDU)
		if err != nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i]
			dup, err := seen(ctx, tx, StreamEDU, w, m.StreamPos)
			if err != nil {
				return err
			}
			if dup {
				advs = append(advs, Advance{From: w, To: w, Duplicate: true})
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_to_device (user_id, device_id, stream_pos, sender, event_type, content)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, m.UserID, m.DeviceID, m.StreamPos, m.Sender, m.Type, string(m.Content)); err != nil {
				return fmt.Errorf("syncapi storage: storing to-device message: %w", err)
			}
			adv, err := receive(ctx, tx, StreamEDU, w, m.StreamPos)
			if err != nil {
				return err
			}
			advs = append(advs, adv)
			w = adv.To
		}
		return nil
	})
	return advs, err
}

// ToDeviceBetween returns up to limit messages of one device at positions in (after,
// upTo], oldest first.
func (d *Database) ToDeviceBetween(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]ToDevice, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT stream_pos, sender, event_type, content FROM syncapi_to_device
		WHERE user_id = $1 AND device_id = $2 AND stream_pos > $3 AND stream_pos <= $4 ORDER BY stream_pos LIMIT $5`,
		userID, deviceID, after, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ToDevice
	for rows.Next() {
		m := ToDevice{UserID: userID, DeviceID: deviceID}
		var c string
		if err := rows.Scan(&m.StreamPos, &m.Sender, &m.Type, &c); err != nil {
			return nil, err
		}
		m.Content = []byte(c)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteToDevice deletes one device's messages at positions up to upTo: the device's
// since token acknowledged them.
func (d *Database) DeleteToDevice(ctx context.Context, userID, deviceID string, upTo int64) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM syncapi_to_device WHERE user_id = $1 AND device_id = $2 AND stream_pos <= $3`,
		userID, deviceID, upTo)
	return err
}

// PendingToDevice is the span of positions of one device's undelivered messages.
type PendingToDevice struct {
	UserID, DeviceID string
	Min, Max         int64
}

// PendingToDevices returns, per device with messages waiting, their lowest and highest
// positions (loaded once at start so /sync can tell from memory which devices have any).
func (d *Database) PendingToDevices(ctx context.Context) ([]PendingToDevice, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT user_id, device_id, MIN(stream_pos), MAX(stream_pos)
		FROM syncapi_to_device GROUP BY user_id, device_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PendingToDevice
	for rows.Next() {
		var p PendingToDevice
		if err := rows.Scan(&p.UserID, &p.DeviceID, &p.Min, &p.Max); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
