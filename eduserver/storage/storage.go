// Package storage holds the eduserver's tables on SQLite or Postgres: the counter of its
// topic 3 stream positions, every user's newest receipts, and the transaction IDs of
// send-to-device requests already done (idempotency). Typing is never stored: it lives in
// the eduserver's memory. Statements take the caller's transaction, in which the eduserver
// also stages the topic 3 records on its outbox.
package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the migrations are recorded under.
const component = "eduserver"

// migrations are the schema versions; each statement is valid on SQLite and Postgres.
//   - eduserver_counters: 'edu' is the newest topic 3 stream position handed out.
//   - eduserver_receipts: per room, user, receipt type and thread, the newest receipt.
//   - eduserver_to_device_txns: send-to-device transactions done, per sending device.
var migrations = []sqlutil.Migration{
	{Version: 1, SQL: `
CREATE TABLE eduserver_counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO eduserver_counters (name, value) VALUES ('edu', 0);
CREATE TABLE eduserver_receipts (
	room_id      TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	receipt_type TEXT NOT NULL,
	thread_id    TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	ts           BIGINT NOT NULL,
	stream_pos   BIGINT NOT NULL,
	PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
CREATE TABLE eduserver_to_device_txns (
	user_id    TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	txn_id     TEXT NOT NULL,
	created_ts BIGINT NOT NULL,
	PRIMARY KEY (user_id, device_id, txn_id)
);
CREATE INDEX eduserver_to_device_txns_ts_idx ON eduserver_to_device_txns (created_ts)`},
	// Version 2: presence (presence.go), one row per user seen; status_msg NULL: none;
	// 'fed' is the newest topic 5 ID handed out.
	{Version: 2, SQL: `
INSERT INTO eduserver_counters (name, value) VALUES ('fed', 0);
CREATE TABLE eduserver_presence (
	user_id          TEXT PRIMARY KEY,
	presence         TEXT NOT NULL,
	status_msg       TEXT,
	last_active_ts   BIGINT NOT NULL,
	currently_active BOOLEAN NOT NULL,
	stream_pos       BIGINT NOT NULL
);
CREATE INDEX eduserver_presence_active_idx ON eduserver_presence (presence, last_active_ts)`},
}

// Database is the eduserver's database.
type Database struct {
	DB *sqlutil.DB
}

// Open migrates db to the newest eduserver schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{DB: db}, nil
}

// WithTransaction runs fn in one transaction.
func (d *Database) WithTransaction(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, fn)
}

// NextPositions takes n consecutive topic 3 positions and returns the first. The counter
// row stays locked until tx ends, so positions are dense and committed in order.
func NextPositions(ctx context.Context, tx *sql.Tx, n int) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `UPDATE eduserver_counters SET value = value + $1 WHERE name = 'edu' RETURNING value`, n).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("eduserver storage: next position: %w", err)
	}
	return v - int64(n) + 1, nil
}

// NextFederationIDs takes n consecutive topic 5 IDs and returns the first (as
// NextPositions, on the 'fed' counter).
func NextFederationIDs(ctx context.Context, tx *sql.Tx, n int) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `UPDATE eduserver_counters SET value = value + $1 WHERE name = 'fed' RETURNING value`, n).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("eduserver storage: next federation ID: %w", err)
	}
	return v - int64(n) + 1, nil
}

// Position returns the newest position handed out.
func (d *Database) Position(ctx context.Context) (int64, error) {
	var v int64
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT value FROM eduserver_counters WHERE name = 'edu'`).Scan(&v)
	return v, err
}

// Receipt is one stored receipt.
type Receipt struct {
	RoomID, UserID, Type, ThreadID, EventID string
	TS, StreamPos                           int64
}

// UpsertReceipt stores r as the user's newest receipt of its type and thread in the room.
func UpsertReceipt(ctx context.Context, tx *sql.Tx, r *Receipt) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO eduserver_receipts (room_id, user_id, receipt_type, thread_id, event_id, ts, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts, stream_pos = excluded.stream_pos`,
		r.RoomID, r.UserID, r.Type, r.ThreadID, r.EventID, r.TS, r.StreamPos)
	if err != nil {
		return fmt.Errorf("eduserver storage: storing receipt: %w", err)
	}
	return nil
}

// RoomReceipts returns the receipts stored for a room.
func (d *Database) RoomReceipts(ctx context.Context, roomID string) ([]Receipt, error) {
	rows, err := d.DB.Reader().QueryContext(ctx, `SELECT user_id, receipt_type, thread_id, event_id, ts, stream_pos
		FROM eduserver_receipts WHERE room_id = $1 ORDER BY stream_pos`, roomID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		r := Receipt{RoomID: roomID}
		if err := rows.Scan(&r.UserID, &r.Type, &r.ThreadID, &r.EventID, &r.TS, &r.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// InsertTxn records a send-to-device transaction of a sending device; it reports false
// when the transaction was done before (nothing is written then).
func InsertTxn(ctx context.Context, tx *sql.Tx, userID, deviceID, txnID string, nowMS int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO eduserver_to_device_txns (user_id, device_id, txn_id, created_ts)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, userID, deviceID, txnID, nowMS)
	if err != nil {
		return false, fmt.Errorf("eduserver storage: recording transaction: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteTxnsBefore forgets the transactions recorded before beforeMS and returns how many.
func (d *Database) DeleteTxnsBefore(ctx context.Context, beforeMS int64) (int64, error) {
	res, err := d.DB.ExecContext(ctx, `DELETE FROM eduserver_to_device_txns WHERE created_ts < $1`, beforeMS)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
