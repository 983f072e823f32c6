// Package syncv3proxy is axon-syncv3-proxy's logic: sync v3 (internal/syncv3,
// docs/sync-v3.md "The proxy") in front of any Matrix homeserver. Each client's own access
// token polls the upstream's spec GET /sync (poller.go); what the streams need is kept in
// the proxy's own database (this file, ingest.go) and served through a syncv3.Source
// (source*.go); every other request passes through to the upstream unchanged (server.go).
package syncv3proxy

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the proxy's migrations are recorded under.
const component = "syncv3proxy"

// migrations are the proxy's tables (besides the engine's syncv3_sessions):
//
//   - syncv3proxy_positions: the newest room, edu and account data positions handed out (so a restart
//     never reuses one and the sessions' tokens stay valid);
//   - syncv3proxy_events: per room the events seen upstream, each at its own room
//     position (ingestion hands them out posStride apart; a gap's events fill in between,
//     gaps.go): timeline events (timeline = 1) and state events from a /sync `state`
//     block (timeline = 0); state_key is NULL for non-state events;
//   - syncv3proxy_memberships: each user's membership changes per room, at room positions;
//   - syncv3proxy_invite_state: the stripped state of the rooms a user is invited to;
//   - syncv3proxy_typing: per room the current typers and the edu position they changed at;
//   - syncv3proxy_to_device: per device the to-device messages not yet deleted, at edu
//     positions;
//   - syncv3proxy_account_data: per user the account data (room_id "" for global), each
//     at the account data position it last changed at;
//   - syncv3proxy_unread: per user and room the upstream's unread_notifications counts
//     (version 3 adds pos: the edu position they last changed at, unread.go);
//   - syncv3proxy_pollers: per device the upstream next_batch the proxy has stored
//     everything up to;
//   - syncv3proxy_gaps (version 2): the events an upstream answer left out before a
//     limited timeline, not read yet (gaps.go): missing at positions in (floor, pos),
//     readable with the upstream's /messages from prev_batch.
var migrations = []sqlutil.Migration{{Version: 1, SQL: `
CREATE TABLE syncv3proxy_positions (name TEXT PRIMARY KEY, pos BIGINT NOT NULL);
CREATE TABLE syncv3proxy_events (
	pos BIGINT PRIMARY KEY,
	room_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	type TEXT NOT NULL,
	state_key TEXT,
	timeline SMALLINT NOT NULL,
	event TEXT NOT NULL,
	UNIQUE (room_id, event_id)
);
CREATE INDEX syncv3proxy_events_room_idx ON syncv3proxy_events (room_id, pos);
CREATE INDEX syncv3proxy_events_state_idx ON syncv3proxy_events (room_id, type, pos) WHERE state_key IS NOT NULL;
CREATE TABLE syncv3proxy_memberships (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	pos BIGINT NOT NULL,
	membership TEXT NOT NULL,
	PRIMARY KEY (user_id, room_id, pos)
);
CREATE INDEX syncv3proxy_memberships_pos_idx ON syncv3proxy_memberships (user_id, pos);
CREATE TABLE syncv3proxy_invite_state (user_id TEXT NOT NULL, room_id TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (user_id, room_id));
CREATE TABLE syncv3proxy_typing (room_id TEXT PRIMARY KEY, user_ids TEXT NOT NULL, pos BIGINT NOT NULL);
CREATE TABLE syncv3proxy_to_device (
	pos BIGINT PRIMARY KEY,
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	event TEXT NOT NULL
);
CREATE INDEX syncv3proxy_to_device_idx ON syncv3proxy_to_device (user_id, device_id, pos);
CREATE TABLE syncv3proxy_account_data (
	user_id TEXT NOT NULL, room_id TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL, pos BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX syncv3proxy_account_data_pos_idx ON syncv3proxy_account_data (user_id, pos);
CREATE TABLE syncv3proxy_unread (
	user_id TEXT NOT NULL, room_id TEXT NOT NULL, notification_count BIGINT NOT NULL, highlight_count BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id)
);
CREATE TABLE syncv3proxy_pollers (user_id TEXT NOT NULL, device_id TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (user_id, device_id))`}, {Version: 2, SQL: `
CREATE TABLE syncv3proxy_gaps (
	id BIGINT PRIMARY KEY,
	room_id TEXT NOT NULL,
	pos BIGINT NOT NULL,
	floor BIGINT NOT NULL,
	prev_batch TEXT NOT NULL
);
CREATE INDEX syncv3proxy_gaps_room_idx ON syncv3proxy_gaps (room_id, pos)`}, {Version: 3, SQL: `
ALTER TABLE syncv3proxy_unread ADD COLUMN pos BIGINT NOT NULL DEFAULT 0;
CREATE INDEX syncv3proxy_unread_pos_idx ON syncv3proxy_unread (user_id, pos)`}}

// Store is the proxy's copy of what the upstream's /sync said, in its database.
type Store struct {
	db *sqlutil.DB
	// writeMu serialises ingestion, so positions are handed out and committed in order.
	writeMu sync.Mutex
	// room, edu and ad (account data) are the newest committed positions (what Position
	// serves).
	room, edu, ad atomic.Int64
	// pending is the lowest stored to-device position per device ("user\x00device").
	pendingMu sync.Mutex
	pending   map[string]int64
}

// OpenStore migrates the proxy's tables in db and loads its positions.
func OpenStore(ctx context.Context, db *sqlutil.DB) (*Store, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	s := &Store{db: db, pending: map[string]int64{}}
	for name, p := range map[string]*atomic.Int64{"room": &s.room, "edu": &s.edu, "account_data": &s.ad} {
		var v int64
		err := db.QueryRowContext(ctx, `SELECT pos FROM syncv3proxy_positions WHERE name = $1`, name).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		p.Store(v)
	}
	rows, err := db.QueryContext(ctx, `SELECT user_id, device_id, MIN(pos) FROM syncv3proxy_to_device GROUP BY user_id, device_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var u, d string
		var p int64
		if err := rows.Scan(&u, &d, &p); err != nil {
			return nil, err
		}
		s.pending[deviceKey(u, d)] = p
	}
	return s, rows.Err()
}

func deviceKey(userID, deviceID string) string { return userID + "\x00" + deviceID }

// Since returns the upstream next_batch stored for the device ("" before its first poll).
func (s *Store) Since(ctx context.Context, userID, deviceID string) (string, error) {
	var since string
	err := s.db.QueryRowContext(ctx, `SELECT since FROM syncv3proxy_pollers WHERE user_id = $1 AND device_id = $2`, userID, deviceID).Scan(&since)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return since, err
}
