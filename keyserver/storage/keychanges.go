package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Change is one change of a local user's keys that the keyserver announces on topic 7
// (keyserver → syncapi), staged in the transaction that makes it.
type Change struct {
	// StreamPos is the topic 7 position, assigned by stageChanges.
	StreamPos int64
	// PrevStreamPos is the position of the user's change before this one (0: none), the
	// prev_id of federation's m.device_list_update.
	PrevStreamPos    int64
	UserID, DeviceID string
	Deleted          bool
	DeviceKeys       []byte
	CrossSigning     bool
	Audience         []string
	// MasterKey and SelfSigningKey are the user's keys after a change of their
	// cross-signing keys (not of signatures): what m.signing_key_update carries.
	MasterKey, SelfSigningKey []byte
}

// Stager stages positioned changes inside tx, the transaction that makes them (the
// keyserver's outbox, keyserver/internal).
type Stager func(ctx context.Context, tx *sql.Tx, changes []Change) error

// SetStager makes every later write that changes a user's device list or cross-signing
// keys stage its changes with s. Without a stager nothing is staged and no position is
// taken.
func (d *Database) SetStager(s Stager) { d.stage = s }

// stageChanges takes the next dense topic 7 positions for changes (the counter row stays
// locked until tx ends, so positions commit in order), records each user's newest
// position (the stream_id of federation's /user/devices) and hands them to the stager.
func (d *Database) stageChanges(ctx context.Context, tx *sql.Tx, changes []Change) error {
	if d.stage == nil || len(changes) == 0 {
		return nil
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `UPDATE keyserver_counters SET value = value + $1 WHERE name = 'key_change' RETURNING value`,
		len(changes)).Scan(&last); err != nil {
		return fmt.Errorf("keyserver storage: next key change position: %w", err)
	}
	first := last - int64(len(changes)) + 1
	prev := map[string]int64{}
	for i := range changes {
		changes[i].StreamPos = first + int64(i)
		p, ok := prev[changes[i].UserID]
		if !ok {
			// The counter row is locked: no other transaction moves this user's position now.
			err := tx.QueryRowContext(ctx, `SELECT stream_pos FROM keyserver_device_list_streams WHERE user_id = $1`, changes[i].UserID).Scan(&p)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		changes[i].PrevStreamPos = p
		prev[changes[i].UserID] = changes[i].StreamPos
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_device_list_streams (user_id, stream_pos) VALUES ($1, $2)
			ON CONFLICT (user_id) DO UPDATE SET stream_pos = excluded.stream_pos`, changes[i].UserID, changes[i].StreamPos); err != nil {
			return err
		}
	}
	return d.stage(ctx, tx, changes)
}

// KeyChangePosition returns the newest topic 7 position handed out.
func (d *Database) KeyChangePosition(ctx context.Context) (int64, error) {
	var v int64
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT value FROM keyserver_counters WHERE name = 'key_change'`).Scan(&v)
	return v, err
}

// DeviceListStream returns the position of the newest change of userID's device list or
// cross-signing keys (0 when there was none).
func (d *Database) DeviceListStream(ctx context.Context, userID string) (int64, error) {
	var v int64
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT stream_pos FROM keyserver_device_list_streams WHERE user_id = $1`, userID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}
