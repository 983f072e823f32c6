// Package storage holds the appservice component's tables on SQLite or Postgres: the
// persisted queue of events per application service (one row per event and service,
// deleted only once the service answered 2xx to the transaction that carried it), and the
// rooms' joined members that are application-service users (so every event of a room
// where a service's user is joined goes to that service). Both change in one transaction
// per run of topic 2 records, before the log commits their offsets.
package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the migrations are recorded under.
const component = "appservice"

var migrations = []sqlutil.Migration{
	{Version: 1, Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
		serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
		if d == sqlutil.Postgres {
			serial = "BIGSERIAL PRIMARY KEY"
		}
		for _, stmt := range []string{
			// (as_id, event_id) is unique, so a topic 2 record delivered again after a
			// crash queues nothing twice.
			`CREATE TABLE appservice_queue (
	id         ` + serial + `,
	as_id      TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	event_json TEXT NOT NULL,
	UNIQUE (as_id, event_id)
)`,
			`CREATE INDEX appservice_queue_as ON appservice_queue (as_id, id)`,
			// Joined members of rooms that belong to some application service's user
			// namespace (or are a sender), whatever service that is.
			`CREATE TABLE appservice_room_members (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (room_id, user_id)
)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}},
}

// Database is the appservice component's database.
type Database struct {
	db *sqlutil.DB
}

// Open migrates db to the newest appservice schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{db: db}, nil
}

// QueuedEvent is one event (client format) waiting for one service.
type QueuedEvent struct {
	ASID    string
	EventID string
	JSON    []byte
}

// Row is a queued event as read back, with its row ID (the queue order).
type Row struct {
	ID      int64
	EventID string
	JSON    []byte
}

// MemberChange says UserID joined (Joined) or left RoomID.
type MemberChange struct {
	RoomID, UserID string
	Joined         bool
}

// Apply stores events and member changes in one transaction. An event already queued for
// its service is left as it is.
func (d *Database) Apply(ctx context.Context, events []QueuedEvent, members []MemberChange) error {
	if len(events) == 0 && len(members) == 0 {
		return nil
	}
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		for _, m := range members {
			var err error
			if m.Joined {
				_, err = tx.ExecContext(ctx, `INSERT INTO appservice_room_members (room_id, user_id) VALUES ($1, $2)
					ON CONFLICT (room_id, user_id) DO NOTHING`, m.RoomID, m.UserID)
			} else {
				_, err = tx.ExecContext(ctx, `DELETE FROM appservice_room_members WHERE room_id = $1 AND user_id = $2`, m.RoomID, m.UserID)
			}
			if err != nil {
				return fmt.Errorf("appservice: storing membership of %s in %s: %w", m.UserID, m.RoomID, err)
			}
		}
		for _, e := range events {
			if _, err := tx.ExecContext(ctx, `INSERT INTO appservice_queue (as_id, event_id, event_json)
				VALUES ($1, $2, $3) ON CONFLICT (as_id, event_id) DO NOTHING`, e.ASID, e.EventID, string(e.JSON)); err != nil {
				return fmt.Errorf("appservice: queueing %s for %s: %w", e.EventID, e.ASID, err)
			}
		}
		return nil
	})
}

// RoomMembers returns every stored room's joined service users.
func (d *Database) RoomMembers(ctx context.Context) (map[string][]string, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, user_id FROM appservice_room_members ORDER BY room_id, user_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var room, user string
		if err := rows.Scan(&room, &user); err != nil {
			return nil, err
		}
		out[room] = append(out[room], user)
	}
	return out, rows.Err()
}

// Peek returns up to limit of the service's queued events, oldest first.
func (d *Database) Peek(ctx context.Context, asID string, limit int) ([]Row, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT id, event_id, event_json FROM appservice_queue
		WHERE as_id = $1 ORDER BY id LIMIT $2`, asID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		var js string
		if err := rows.Scan(&r.ID, &r.EventID, &js); err != nil {
			return nil, err
		}
		r.JSON = []byte(js)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Delete removes the service's rows with ids (those a transaction delivered).
func (d *Database) Delete(ctx context.Context, asID string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{asID}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := d.db.ExecContext(ctx, `DELETE FROM appservice_queue WHERE as_id = $1 AND id IN (`+sqlutil.Placeholders(2, len(ids))+`)`, args...)
	return err
}

// Services lists every service with queued events (to resume them at start).
func (d *Database) Services(ctx context.Context) ([]string, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT DISTINCT as_id FROM appservice_queue ORDER BY as_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Count is the number of events queued for the service.
func (d *Database) Count(ctx context.Context, asID string) (int, error) {
	var n int
	err := d.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM appservice_queue WHERE as_id = $1`, asID).Scan(&n)
	return n, err
}
