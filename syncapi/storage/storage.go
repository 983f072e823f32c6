// Package storage is the syncapi's own tables (SQLite and Postgres): the events and state
// changes it received on topic 2, the account data of topic 1, and each stream's watermark.
// See schema.go for the tables.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Stream names a position stream whose watermark this package keeps.
type Stream string

const (
	// StreamRoom is topic 2 (roomserver → syncapi): room events and redactions.
	StreamRoom Stream = "room"
	// StreamAccountData is topic 1 (account data → syncapi).
	StreamAccountData Stream = "account_data"
)

// Database is the syncapi's storage. Reads outside a transaction (everything /sync and
// the room endpoints ask) go to the database's read pool (sqlutil.DB.Reader), so on
// SQLite a burst of /sync requests never queues the topic 2 consumer's next write.
type Database struct {
	db *sqlutil.DB
}

// NewDatabase migrates the syncapi's tables in db and returns the storage on top of them.
func NewDatabase(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	// Presence has its own migration sequence (presence.go).
	if err := sqlutil.Migrate(ctx, db, presenceComponent, presenceMigrations); err != nil {
		return nil, err
	}
	return &Database{db: db}, nil
}

// Advance is the effect of storing one log record on its stream's watermark.
type Advance struct {
	// From and To are the watermark before and after; To > From when new positions became
	// visible to clients (every position in (From, To] is now stored).
	From, To int64
	// Duplicate is true when the record's position had been stored before (a replay): nothing changed.
	Duplicate bool
}

// Advanced reports whether new positions became visible.
func (a Advance) Advanced() bool { return a.To > a.From }

// forUpdate is the one dialect difference of this package: Postgres locks the watermark row
// so that consumers of different partitions advance it one at a time (each then sees the
// other's committed positions); SQLite has a single writer connection, so no lock is needed.
func (d *Database) forUpdate() string {
	if d.db.Dialect == sqlutil.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// lockStream reads (and on Postgres locks until the transaction ends) a stream's watermark.
func (d *Database) lockStream(ctx context.Context, tx *sql.Tx, s Stream) (int64, error) {
	var w int64
	err := tx.QueryRowContext(ctx, `SELECT watermark FROM syncapi_stream_positions WHERE stream = $1`+d.forUpdate(), string(s)).Scan(&w)
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: reading %s watermark: %w", s, err)
	}
	return w, nil
}

// seen reports whether position pos of stream s was stored before (at or below the
// watermark w, or received above it).
func seen(ctx context.Context, tx *sql.Tx, s Stream, w, pos int64) (bool, error) {
	if pos <= w {
		return true, nil
	}
	if pos == w+1 {
		// The next position: had it been received, the watermark would have moved over it.
		return false, nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM syncapi_received_positions WHERE stream = $1 AND pos = $2`, string(s), pos).Scan(&n)
	return n > 0, err
}

// receive records pos as stored and moves the watermark over every contiguous received
// position. It must run in the transaction that stored the record, after lockStream.
func receive(ctx context.Context, tx *sql.Tx, s Stream, w, pos int64) (Advance, error) {
	to := w
	if pos == w+1 {
		// In order (the common case): the watermark moves to pos at once, and pos needs no
		// row of its own; positions received earlier above it are picked up below.
		to = pos
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_received_positions (stream, pos) VALUES ($1, $2) ON CONFLICT DO NOTHING`, string(s), pos); err != nil {
		return Advance{}, err
	}
	to, found, err := extend(ctx, tx, s, to)
	if err != nil {
		return Advance{}, err
	}
	if to > w {
		if _, err := tx.ExecContext(ctx, `UPDATE syncapi_stream_positions SET watermark = $2 WHERE stream = $1`, string(s), to); err != nil {
			return Advance{}, err
		}
		if found {
			if _, err := tx.ExecContext(ctx, `DELETE FROM syncapi_received_positions WHERE stream = $1 AND pos <= $2`, string(s), to); err != nil {
				return Advance{}, err
			}
		}
	}
	return Advance{From: w, To: to}, nil
}

// extend moves the watermark to over every contiguous position received above it (rows
// of syncapi_received_positions); found reports whether there was any row above to.
func extend(ctx context.Context, tx *sql.Tx, s Stream, to int64) (int64, bool, error) {
	found := false
	for {
		rows, err := tx.QueryContext(ctx, `SELECT pos FROM syncapi_received_positions WHERE stream = $1 AND pos > $2 ORDER BY pos LIMIT 500`, string(s), to)
		if err != nil {
			return 0, false, err
		}
		n, gap := 0, false
		for rows.Next() {
			var p int64
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return 0, false, err
			}
			n++
			found = true
			if gap {
				continue
			}
			if p != to+1 {
				gap = true
				continue
			}
			to = p
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, false, err
		}
		if gap || n < 500 {
			return to, found, nil
		}
	}
}

// Watermarks returns the visible position of the room stream and of the account data stream.
func (d *Database) Watermarks(ctx context.Context) (room, accountData int64, err error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT stream, watermark FROM syncapi_stream_positions`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var w int64
		if err := rows.Scan(&s, &w); err != nil {
			return 0, 0, err
		}
		switch Stream(s) {
		case StreamRoom:
			room = w
		case StreamAccountData:
			accountData = w
		}
	}
	return room, accountData, rows.Err()
}
