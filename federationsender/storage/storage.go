// Package storage holds the federationsender's persisted outbound queue on SQLite or
// Postgres: one row per PDU and destination, written in the same transaction for every
// destination of an event, and deleted only once the destination answered 200 to the
// transaction that carried it. Nothing queued is lost across a restart or a kill -9.
package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the migrations are recorded under.
const component = "federationsender"

var migrations = []sqlutil.Migration{
	{Version: 1, Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
		serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
		if d == sqlutil.Postgres {
			serial = "BIGSERIAL PRIMARY KEY"
		}
		for _, stmt := range []string{
			// (destination, event_id) is unique, so a topic 6 record delivered again after a
			// crash queues nothing twice.
			`CREATE TABLE federationsender_queue_pdus (
	id          ` + serial + `,
	destination TEXT NOT NULL,
	room_id     TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	event_json  TEXT NOT NULL,
	UNIQUE (destination, event_id)
)`,
			`CREATE INDEX federationsender_queue_pdus_destination ON federationsender_queue_pdus (destination, id)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}},
}

// Database is the federationsender's database.
type Database struct {
	db *sqlutil.DB
}

// Open migrates db to the newest federationsender schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	if err := migrateEDUs(ctx, db); err != nil { // edus.go
		return nil, err
	}
	return &Database{db: db}, nil
}

// QueuedPDU is one PDU waiting for one destination.
type QueuedPDU struct {
	Destination string
	RoomID      string
	EventID     string
	JSON        []byte
}

// Row is a queued PDU as read back, with its row ID (the queue order).
type Row struct {
	ID      int64
	RoomID  string
	EventID string
	JSON    []byte
}

// QueuePDUs stores pdus in one transaction. A PDU already queued for its destination is
// left as it is.
func (d *Database) QueuePDUs(ctx context.Context, pdus []QueuedPDU) error {
	if len(pdus) == 0 {
		return nil
	}
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		for _, p := range pdus {
			if _, err := tx.ExecContext(ctx, `INSERT INTO federationsender_queue_pdus (destination, room_id, event_id, event_json)
				VALUES ($1, $2, $3, $4) ON CONFLICT (destination, event_id) DO NOTHING`,
				p.Destination, p.RoomID, p.EventID, string(p.JSON)); err != nil {
				return fmt.Errorf("federationsender: queueing %s for %s: %w", p.EventID, p.Destination, err)
			}
		}
		return nil
	})
}

// PeekPDUs returns up to limit of destination's queued PDUs, oldest first.
func (d *Database) PeekPDUs(ctx context.Context, destination string, limit int) ([]Row, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT id, room_id, event_id, event_json FROM federationsender_queue_pdus
		WHERE destination = $1 ORDER BY id LIMIT CAST($2 AS INTEGER)`, destination, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		var js string
		if err := rows.Scan(&r.ID, &r.RoomID, &r.EventID, &js); err != nil {
			return nil, err
		}
		r.JSON = []byte(js)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeletePDUs removes the rows with ids of destination (those a transaction delivered).
func (d *Database) DeletePDUs(ctx context.Context, destination string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{destination}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := d.db.ExecContext(ctx, `DELETE FROM federationsender_queue_pdus WHERE destination = $1 AND id IN (`+
		sqlutil.Placeholders(2, len(ids))+`)`, args...)
	return err
}

// Destinations lists every destination with queued PDUs (to resume them at start).
func (d *Database) Destinations(ctx context.Context) ([]string, error) {
	return sqlutil.ScanStrings(d.db.Reader().QueryContext(ctx, `SELECT DISTINCT destination FROM federationsender_queue_pdus ORDER BY destination`))
}

// CountPDUs is the number of PDUs queued for destination.
func (d *Database) CountPDUs(ctx context.Context, destination string) (int, error) {
	var n int
	err := d.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM federationsender_queue_pdus WHERE destination = $1`, destination).Scan(&n)
	return n, err
}
