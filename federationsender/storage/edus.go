package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// EDUs (topic 5, eduserver → federationsender) wait in their own table, under their own
// migration sequence: one row per EDU and destination, UNIQUE (destination, edu_id) so a
// topic 5 record delivered again queues nothing twice. Receipts and to-device messages
// stay until a transaction carrying them is answered 200; typing and presence
// (ephemeral) may be dropped once stale (DropStaleEDUs).
const eduComponent = "federationsender_edus"

var eduMigrations = []sqlutil.Migration{
	{Version: 1, Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
		serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
		if d == sqlutil.Postgres {
			serial = "BIGSERIAL PRIMARY KEY"
		}
		for _, stmt := range []string{
			`CREATE TABLE federationsender_queue_edus (
	id          ` + serial + `,
	destination TEXT NOT NULL,
	edu_id      BIGINT NOT NULL,
	edu_type    TEXT NOT NULL,
	edu_json    TEXT NOT NULL,
	ephemeral   BOOLEAN NOT NULL,
	queued_ts   BIGINT NOT NULL,
	UNIQUE (destination, edu_id)
)`,
			`CREATE INDEX federationsender_queue_edus_destination ON federationsender_queue_edus (destination, id)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}},
}

// migrateEDUs runs the EDU queue's migrations (from Open).
func migrateEDUs(ctx context.Context, db *sqlutil.DB) error {
	return sqlutil.Migrate(ctx, db, eduComponent, eduMigrations)
}

// QueuedEDU is one EDU waiting for one destination.
type QueuedEDU struct {
	Destination string
	EDUID       int64 // the topic 5 record's ID
	Type        string
	JSON        []byte // the EDU's content
	Ephemeral   bool
	QueuedTS    int64
}

// EDURow is a queued EDU as read back, with its row ID (the queue order).
type EDURow struct {
	ID        int64
	Type      string
	JSON      []byte
	Ephemeral bool
	QueuedTS  int64
}

// QueueEDUs stores edus in one transaction; one already queued for its destination is
// left as it is.
func (d *Database) QueueEDUs(ctx context.Context, edus []QueuedEDU) error {
	if len(edus) == 0 {
		return nil
	}
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		for _, e := range edus {
			if _, err := tx.ExecContext(ctx, `INSERT INTO federationsender_queue_edus (destination, edu_id, edu_type, edu_json, ephemeral, queued_ts)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (destination, edu_id) DO NOTHING`,
				e.Destination, e.EDUID, e.Type, string(e.JSON), e.Ephemeral, e.QueuedTS); err != nil {
				return fmt.Errorf("federationsender: queueing EDU %d for %s: %w", e.EDUID, e.Destination, err)
			}
		}
		return nil
	})
}

// PeekEDUs returns up to limit of destination's queued EDUs, oldest first.
func (d *Database) PeekEDUs(ctx context.Context, destination string, limit int) ([]EDURow, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT id, edu_type, edu_json, ephemeral, queued_ts FROM federationsender_queue_edus
		WHERE destination = $1 ORDER BY id LIMIT CAST($2 AS INTEGER)`, destination, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EDURow
	for rows.Next() {
		var r EDURow
		var js string
		if err := rows.Scan(&r.ID, &r.Type, &js, &r.Ephemeral, &r.QueuedTS); err != nil {
			return nil, err
		}
		r.JSON = []byte(js)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteEDUs removes the EDU rows with ids of destination.
func (d *Database) DeleteEDUs(ctx context.Context, destination string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{destination}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := d.db.ExecContext(ctx, `DELETE FROM federationsender_queue_edus WHERE destination = $1 AND id IN (`+
		sqlutil.Placeholders(2, len(ids))+`)`, args...)
	return err
}

// DropStaleEDUs deletes destination's ephemeral EDUs queued before beforeTS and returns
// how many.
func (d *Database) DropStaleEDUs(ctx context.Context, destination string, beforeTS int64) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM federationsender_queue_edus WHERE destination = $1 AND ephemeral AND queued_ts < $2`,
		destination, beforeTS)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// EDUDestinations lists every destination with queued EDUs (to resume them at start).
func (d *Database) EDUDestinations(ctx context.Context) ([]string, error) {
	return sqlutil.ScanStrings(d.db.Reader().QueryContext(ctx, `SELECT DISTINCT destination FROM federationsender_queue_edus ORDER BY destination`))
}
