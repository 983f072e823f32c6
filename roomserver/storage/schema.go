package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the roomserver's migrations are recorded under.
const component = "roomserver"

// dialectSQL keeps the few places where SQLite and Postgres disagree in one spot: the
// auto-increment primary key. Every other statement of this package is written once.
func dialectSQL(d sqlutil.Dialect, s string) string {
	serial := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if d == sqlutil.Postgres {
		serial = "BIGSERIAL PRIMARY KEY"
	}
	return strings.ReplaceAll(s, "{{SERIAL}}", serial)
}

// schemaV1 is the first version of the roomserver's tables.
//
//   - roomserver_rooms: one row per room known to this server; state_snapshot_id is the
//     snapshot of the room's current state (the resolved state of its forward extremities).
//   - roomserver_events: every event, with the columns federation will need: is_outlier
//     (an event without known state, e.g. an auth event fetched over federation) and
//     is_rejected (an event that failed auth; kept so it is not fetched again). Each event
//     points at the state snapshot before and after it.
//   - roomserver_prev_edges / roomserver_auth_edges: the room DAG and the auth DAG.
//   - roomserver_forward_extremities: the room's current leaves; new local events use them
//     as prev_events.
//   - roomserver_state_snapshots / roomserver_state_entries: state at events, stored as a
//     delta over a parent snapshot with a full snapshot every snapshotFullEvery deltas, so
//     loading any state costs at most that many small reads (one recursive query).
//   - roomserver_current_state: the materialised current state per room (fast queries).
//   - roomserver_memberships: each user's latest membership per room, with forgotten.
//   - roomserver_transactions: (room, sender, device, txn) → event ID, for idempotent sends
//     (the spec scopes a transaction ID to a device and an endpoint, which names the room).
//   - roomserver_stream: the single counter row that assigns topic 2 stream positions.
//   - roomserver_redactions: which redaction redacts which event, and whether applied.
//   - roomserver_room_aliases: local aliases.
const schemaV1 = `
CREATE TABLE roomserver_rooms (
	room_id TEXT PRIMARY KEY,
	room_version TEXT NOT NULL,
	creator TEXT NOT NULL,
	state_snapshot_id BIGINT NOT NULL DEFAULT 0,
	visibility TEXT NOT NULL DEFAULT 'private',
	created_ts BIGINT NOT NULL
);
CREATE TABLE roomserver_events (
	event_nid {{SERIAL}},
	event_id TEXT NOT NULL UNIQUE,
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT,
	sender TEXT NOT NULL,
	depth BIGINT NOT NULL,
	origin_server_ts BIGINT NOT NULL,
	event_json TEXT NOT NULL,
	is_outlier BOOLEAN NOT NULL DEFAULT FALSE,
	is_rejected BOOLEAN NOT NULL DEFAULT FALSE,
	is_redacted BOOLEAN NOT NULL DEFAULT FALSE,
	state_before_snapshot_id BIGINT NOT NULL DEFAULT 0,
	state_after_snapshot_id BIGINT NOT NULL DEFAULT 0,
	stream_pos BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX roomserver_events_room_idx ON roomserver_events (room_id, depth);
CREATE TABLE roomserver_prev_edges (
	event_nid BIGINT NOT NULL,
	prev_event_id TEXT NOT NULL,
	PRIMARY KEY (event_nid, prev_event_id)
);
CREATE INDEX roomserver_prev_edges_prev_idx ON roomserver_prev_edges (prev_event_id);
CREATE TABLE roomserver_auth_edges (
	event_nid BIGINT NOT NULL,
	auth_event_id TEXT NOT NULL,
	PRIMARY KEY (event_nid, auth_event_id)
);
CREATE TABLE roomserver_forward_extremities (
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, event_id)
);
CREATE TABLE roomserver_state_snapshots (
	snapshot_id {{SERIAL}},
	room_id TEXT NOT NULL,
	parent_id BIGINT,
	delta_depth INTEGER NOT NULL
);
CREATE TABLE roomserver_state_entries (
	snapshot_id BIGINT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_nid BIGINT,
	PRIMARY KEY (snapshot_id, event_type, state_key)
);
CREATE TABLE roomserver_current_state (
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	event_nid BIGINT NOT NULL,
	PRIMARY KEY (room_id, event_type, state_key)
);
CREATE TABLE roomserver_memberships (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	membership TEXT NOT NULL,
	event_nid BIGINT NOT NULL,
	forgotten BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (room_id, user_id)
);
CREATE INDEX roomserver_memberships_user_idx ON roomserver_memberships (user_id, membership);
CREATE TABLE roomserver_transactions (
	room_id TEXT NOT NULL,
	sender TEXT NOT NULL,
	device_id TEXT NOT NULL,
	txn_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	PRIMARY KEY (room_id, sender, device_id, txn_id)
);
CREATE TABLE roomserver_stream (
	id INTEGER PRIMARY KEY,
	pos BIGINT NOT NULL
);
INSERT INTO roomserver_stream (id, pos) VALUES (1, 0);
CREATE TABLE roomserver_redactions (
	redaction_event_id TEXT PRIMARY KEY,
	redacts_event_id TEXT NOT NULL,
	applied BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX roomserver_redactions_redacts_idx ON roomserver_redactions (redacts_event_id);
CREATE TABLE roomserver_room_aliases (
	alias TEXT PRIMARY KEY,
	room_id TEXT NOT NULL,
	creator_id TEXT NOT NULL
);
CREATE INDEX roomserver_room_aliases_room_idx ON roomserver_room_aliases (room_id);
`

var migrations = []sqlutil.Migration{
	{Version: 1, Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
		for _, stmt := range strings.Split(dialectSQL(d, schemaV1), ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}},
	// Version 2 (SQLite only): the tables keyed by a composite key with small rows are
	// rebuilt WITHOUT ROWID, so each is one B-tree ordered by its key instead of a rowid
	// table plus a key index. A send writes four of them (the DAG edges, the forward
	// extremities, the transaction ID), so its commit writes fewer pages; see
	// docs/benchmarks.md. Postgres has no rowid: nothing to do.
	{Version: 2, Up: func(ctx context.Context, tx *sql.Tx, d sqlutil.Dialect) error {
		if d != sqlutil.SQLite {
			return nil
		}
		for _, table := range withoutRowidTables {
			if err := rebuildWithoutRowid(ctx, tx, table); err != nil {
				return fmt.Errorf("roomserver: rebuilding %s without rowid: %w", table, err)
			}
		}
		return nil
	}},
}

// withoutRowidTables are the tables migration 2 rebuilds WITHOUT ROWID on SQLite: each has
// a composite primary key and rows far smaller than a page (SQLite's advice for the form).
// roomserver_events (large event_json, and an integer key that is the rowid already) and
// the single-column-key tables stay as they are.
var withoutRowidTables = []string{
	"roomserver_prev_edges",
	"roomserver_auth_edges",
	"roomserver_forward_extremities",
	"roomserver_state_entries",
	"roomserver_current_state",
	"roomserver_memberships",
	"roomserver_transactions",
}

// rebuildWithoutRowid copies table into a WITHOUT ROWID twin made from its own CREATE
// statement, swaps the two and recreates the table's indexes, all inside the migration's
// transaction (SQLite's documented way to change a table's form). A table already in that
// form is left alone.
func rebuildWithoutRowid(ctx context.Context, tx *sql.Tx, table string) error {
	var create string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&create); err != nil {
		return err
	}
	if strings.Contains(strings.ToUpper(create), "WITHOUT ROWID") {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL`, table)
	if err != nil {
		return err
	}
	var indexes []string
	for rows.Next() {
		var ix string
		if err := rows.Scan(&ix); err != nil {
			rows.Close()
			return err
		}
		indexes = append(indexes, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	twin := table + "_v2"
	stmts := []string{
		strings.Replace(create, table, twin, 1) + " WITHOUT ROWID",
		`INSERT INTO ` + twin + ` SELECT * FROM ` + table,
		`DROP TABLE ` + table,
		`ALTER TABLE ` + twin + ` RENAME TO ` + table,
	}
	for _, stmt := range append(stmts, indexes...) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}
