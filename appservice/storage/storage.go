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
	// Version 2: ephemeral data (MSC2409/MSC3202) waits in the same queue, in order with the
	// events; kind says which field of the transaction a row goes to.
	// appservice_room_aliases: each room's aliases from its m.room.canonical_alias (alias
	// and alt_aliases), so alias namespaces select the room's events.
	// appservice_room_list: the rooms each service lists in the directory per third-party
	// network (PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}).
	{Version: 2, Up: func(ctx context.Context, tx *sql.Tx, _ sqlutil.Dialect) error {
		for _, stmt := range []string{
			`ALTER TABLE appservice_queue ADD COLUMN kind TEXT NOT NULL DEFAULT 'event'`,
			`CREATE TABLE appservice_room_aliases (
	room_id TEXT NOT NULL,
	alias   TEXT NOT NULL,
	PRIMARY KEY (room_id, alias)
)`,
			`CREATE TABLE appservice_room_list (
	as_id      TEXT NOT NULL,
	network_id TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	PRIMARY KEY (as_id, network_id, room_id)
)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}},
}

// Kinds of queued rows: which field of a transaction they go to.
const (
	KindEvent     = "event"     // events
	KindEphemeral = "ephemeral" // ephemeral (and de.sorunome.msc2409.ephemeral)
	KindToDevice  = "to_device" // de.sorunome.msc2409.to_device
	// KindDeviceList rows hold a user ID (JSON string) whose device list changed:
	// org.matrix.msc3202.device_lists.changed.
	KindDeviceList = "device_list"
	// KindDeviceListLeft rows hold a user ID (JSON string) who no longer shares a room
	// with the service: org.matrix.msc3202.device_lists.left.
	KindDeviceListLeft = "device_list_left"
)

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

// QueuedEvent is one event (client format) waiting for one service. Kind is KindEvent
// ("" too) or an ephemeral kind, whose EventID is a key unique to the topic 3 record.
type QueuedEvent struct {
	ASID    string
	EventID string
	JSON    []byte
	Kind    string
}

// Row is a queued event as read back, with its row ID (the queue order).
type Row struct {
	ID      int64
	EventID string
	JSON    []byte
	Kind    string
}

// MemberChange says UserID joined (Joined) or left RoomID.
type MemberChange struct {
	RoomID, UserID string
	Joined         bool
}

// Apply stores events and member changes in one transaction. An event already queued for
// its service is left as it is.
func (d *Database) Apply(ctx context.Context, events []QueuedEvent, members []MemberChange) error {
	return d.ApplyWithAliases(ctx, events, members, nil)
}

// ApplyWithAliases is Apply that also replaces the aliases of the rooms in aliases (room
// ID → its aliases now; an empty list forgets the room's).
func (d *Database) ApplyWithAliases(ctx context.Context, events []QueuedEvent, members []MemberChange, aliases map[string][]string) error {
	if len(events) == 0 && len(members) == 0 && len(aliases) == 0 {
		return nil
	}
	return sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		for room, list := range aliases {
			if _, err := tx.ExecContext(ctx, `DELETE FROM appservice_room_aliases WHERE room_id = $1`, room); err != nil {
				return fmt.Errorf("appservice: forgetting the aliases of %s: %w", room, err)
			}
			for _, a := range list {
				if _, err := tx.ExecContext(ctx, `INSERT INTO appservice_room_aliases (room_id, alias) VALUES ($1, $2)
					ON CONFLICT (room_id, alias) DO NOTHING`, room, a); err != nil {
					return fmt.Errorf("appservice: storing alias %s of %s: %w", a, room, err)
				}
			}
		}
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
			kind := e.Kind
			if kind == "" {
				kind = KindEvent
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO appservice_queue (as_id, event_id, event_json, kind)
				VALUES ($1, $2, $3, $4) ON CONFLICT (as_id, event_id) DO NOTHING`, e.ASID, e.EventID, string(e.JSON), kind); err != nil {
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

// RoomAliases returns every stored room's aliases.
func (d *Database) RoomAliases(ctx context.Context) (map[string][]string, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT room_id, alias FROM appservice_room_aliases ORDER BY room_id, alias`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var room, alias string
		if err := rows.Scan(&room, &alias); err != nil {
			return nil, err
		}
		out[room] = append(out[room], alias)
	}
	return out, rows.Err()
}

// Peek returns up to limit of the service's queued events, oldest first.
func (d *Database) Peek(ctx context.Context, asID string, limit int) ([]Row, error) {
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT id, event_id, event_json, kind FROM appservice_queue
		WHERE as_id = $1 ORDER BY id LIMIT CAST($2 AS INTEGER)`, asID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		var js string
		if err := rows.Scan(&r.ID, &r.EventID, &js, &r.Kind); err != nil {
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
	return sqlutil.ScanStrings(d.db.Reader().QueryContext(ctx, `SELECT DISTINCT as_id FROM appservice_queue ORDER BY as_id`))
}

// Count is the number of events queued for the service.
func (d *Database) Count(ctx context.Context, asID string) (int, error) {
	var n int
	err := d.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM appservice_queue WHERE as_id = $1`, asID).Scan(&n)
	return n, err
}

// ListedRoom is a room a service lists in the directory for one of its networks.
type ListedRoom struct {
	ASID, NetworkID, RoomID string
}

// SetListed adds the room to (listed) or removes it from the service's network list.
func (d *Database) SetListed(ctx context.Context, r ListedRoom, listed bool) error {
	var err error
	if listed {
		_, err = d.db.ExecContext(ctx, `INSERT INTO appservice_room_list (as_id, network_id, room_id) VALUES ($1, $2, $3)
			ON CONFLICT (as_id, network_id, room_id) DO NOTHING`, r.ASID, r.NetworkID, r.RoomID)
	} else {
		_, err = d.db.ExecContext(ctx, `DELETE FROM appservice_room_list WHERE as_id = $1 AND network_id = $2 AND room_id = $3`,
			r.ASID, r.NetworkID, r.RoomID)
	}
	return err
}

// Listed returns the listed rooms of one service's network, or with asID "" of every
// service and network, in a stable order.
func (d *Database) Listed(ctx context.Context, asID, networkID string) ([]ListedRoom, error) {
	q := `SELECT as_id, network_id, room_id FROM appservice_room_list`
	var args []any
	if asID != "" {
		q += ` WHERE as_id = $1 AND network_id = $2`
		args = []any{asID, networkID}
	}
	rows, err := d.db.Reader().QueryContext(ctx, q+` ORDER BY as_id, network_id, room_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ListedRoom
	for rows.Next() {
		var r ListedRoom
		if err := rows.Scan(&r.ASID, &r.NetworkID, &r.RoomID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
