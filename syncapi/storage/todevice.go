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
// the Advance of each, in order, as StoreToDevice would have given it (StoreEDURun).
func (d *Database) StoreToDeviceRun(ctx context.Context, msgs []ToDevice) ([]Advance, error) {
	recs := make([]EDURecord, len(msgs))
	for i := range msgs {
		recs[i] = EDURecord{ToDevice: &msgs[i]}
	}
	return d.StoreEDURun(ctx, recs)
}

// EDURecord is one topic 3 record of a run: a to-device message or a receipt (exactly
// one of the two is set; its StreamPos is the record's position).
type EDURecord struct {
	ToDevice *ToDevice
	Receipt  *Receipt
}

func (r *EDURecord) pos() int64 {
	if r.ToDevice != nil {
		return r.ToDevice.StreamPos
	}
	return r.Receipt.StreamPos
}

// write stores the record's row (no watermark work).
func (r *EDURecord) write(ctx context.Context, tx *sql.Tx) error {
	if m := r.ToDevice; m != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_to_device (user_id, device_id, stream_pos, sender, event_type, content)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, m.UserID, m.DeviceID, m.StreamPos, m.Sender, m.Type, string(m.Content)); err != nil {
			return fmt.Errorf("syncapi storage: storing to-device message: %w", err)
		}
		return nil
	}
	return writeReceipt(ctx, tx, r.Receipt)
}

// StoreEDURun stores consecutive to-device and receipt records in one transaction and
// returns the Advance of each, in order, as StoreToDevice / StoreReceipt would have given
// it. Topic 3 has several partitions, so a run's positions interleave with other runs'
// and most arrive above a gap: instead of the general path per record (a look for the
// position, its row in syncapi_received_positions, a look for rows above the watermark,
// and the watermark's update), the positions received above the watermark are read once,
// the watermark is moved over them in memory record by record, and the table is brought
// up to date once at the end (the watermark, the run's positions still above it, the rows
// it passed). One commit (one fsync on SQLite) per run instead of one per record: a
// to-device message to 1,000 devices, or the receipts of a room's members.
func (d *Database) StoreEDURun(ctx context.Context, recs []EDURecord) ([]Advance, error) {
	var advs []Advance
	err := sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		advs = advs[:0]
		w0, err := d.lockStream(ctx, tx, StreamEDU)
		if err != nil {
			return err
		}
		received, err := receivedAbove(ctx, tx, StreamEDU, w0)
		if err != nil {
			return err
		}
		w := w0
		var added []int64 // positions of this run above the watermark when stored
		for i := range recs {
			r := &recs[i]
			pos := r.pos()
			if pos <= w || received[pos] {
				advs = append(advs, Advance{From: w, To: w, Duplicate: true})
				continue
			}
			if err := r.write(ctx, tx); err != nil {
				return err
			}
			received[pos] = true
			added = append(added, pos)
			from := w
			for received[w+1] {
				w++
			}
			advs = append(advs, Advance{From: from, To: w})
		}
		for _, p := range added {
			if p <= w {
				continue // passed by the watermark: needs no row
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_received_positions (stream, pos) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				string(StreamEDU), p); err != nil {
				return fmt.Errorf("syncapi storage: recording a received position: %w", err)
			}
		}
		if w == w0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE syncapi_stream_positions SET watermark = $2 WHERE stream = $1`,
			string(StreamEDU), w); err != nil {
			return fmt.Errorf("syncapi storage: moving the edu watermark: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM syncapi_received_positions WHERE stream = $1 AND pos <= $2`,
			string(StreamEDU), w); err != nil {
			return fmt.Errorf("syncapi storage: dropping passed received positions: %w", err)
		}
		return nil
	})
	return advs, err
}

// receivedAbove returns the positions of stream s received above the watermark w (held
// back by a gap below them).
func receivedAbove(ctx context.Context, tx *sql.Tx, s Stream, w int64) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT pos FROM syncapi_received_positions WHERE stream = $1 AND pos > $2`, string(s), w)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading received positions: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out[p] = true
	}
	return out, rows.Err()
}

// ToDeviceBetween returns up to limit messages of one device at positions in (after,
// upTo], oldest first.
func (d *Database) ToDeviceBetween(ctx context.Context, userID, deviceID string, after, upTo int64, limit int) ([]ToDevice, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT stream_pos, sender, event_type, content FROM syncapi_to_device
		WHERE user_id = $1 AND device_id = $2 AND stream_pos > $3 AND stream_pos <= $4 ORDER BY stream_pos LIMIT CAST($5 AS INTEGER)`,
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

// ToDeviceAck names one device's messages at positions up to UpTo, acknowledged by the
// device's since token.
type ToDeviceAck struct {
	UserID, DeviceID string
	UpTo             int64
}

// DeleteToDeviceAcks is DeleteToDevice for several devices in one transaction.
func (d *Database) DeleteToDeviceAcks(ctx context.Context, acks []ToDeviceAck) error {
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		for _, a := range acks {
			if _, err := tx.ExecContext(ctx, `DELETE FROM syncapi_to_device WHERE user_id = $1 AND device_id = $2 AND stream_pos <= $3`,
				a.UserID, a.DeviceID, a.UpTo); err != nil {
				return fmt.Errorf("syncapi storage: deleting acknowledged to-device messages: %w", err)
			}
		}
		return nil
	})
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
