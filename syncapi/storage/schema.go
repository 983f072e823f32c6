package storage

import "github.com/axon-matrix/axon/internal/sqlutil"

// component is the name the syncapi's migrations are recorded under.
const component = "syncapi"

// schemaV1 is the first version of the syncapi's tables. They are built only from the log
// topics (topic 2 room events, topic 1 account data), never from another component's tables.
//
//   - syncapi_events: every room event the syncapi knows, in client-servable form. stream_pos
//     is the topic 2 position the roomserver gave it; NULL for a state event that was never
//     on the timeline here (fetched with QueryEvent because a state change named it).
//   - syncapi_state_history: each change to a room's state, keyed by the position of the
//     event that caused it; event_id NULL means the (type, state_key) left the state. The
//     state at position P is, per (type, state_key), the row with the highest stream_pos ≤ P.
//   - syncapi_account_data: the newest value of each account data item and its topic 1 position.
//   - syncapi_stream_positions: per stream ("room", "account_data"), the watermark: the
//     highest position P such that every position ≤ P has been stored. Clients are never
//     shown anything beyond it. Persisted so a restart continues where it stopped.
//   - syncapi_received_positions: positions above the watermark that have arrived (the
//     other side of a gap). Rows at or below the watermark are deleted as it advances.
var migrations = []sqlutil.Migration{{Version: 1, SQL: `
CREATE TABLE syncapi_events (
	event_id TEXT PRIMARY KEY,
	stream_pos BIGINT UNIQUE,
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	sender TEXT NOT NULL,
	state_key TEXT,
	membership TEXT NOT NULL DEFAULT '',
	origin_server_ts BIGINT NOT NULL DEFAULT 0,
	event_json TEXT NOT NULL,
	txn_device_id TEXT NOT NULL DEFAULT '',
	txn_id TEXT NOT NULL DEFAULT '',
	history_visibility TEXT NOT NULL DEFAULT '',
	redacted_because TEXT NOT NULL DEFAULT ''
);
CREATE INDEX syncapi_events_room_pos_idx ON syncapi_events (room_id, stream_pos);
CREATE TABLE syncapi_state_history (
	room_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	state_key TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	event_id TEXT,
	membership TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (room_id, event_type, state_key, stream_pos)
);
CREATE INDEX syncapi_state_history_key_idx ON syncapi_state_history (event_type, state_key, room_id, stream_pos);
CREATE INDEX syncapi_state_history_pos_idx ON syncapi_state_history (room_id, stream_pos);
CREATE TABLE syncapi_account_data (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	data_type TEXT NOT NULL,
	content TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id, data_type)
);
CREATE INDEX syncapi_account_data_pos_idx ON syncapi_account_data (user_id, stream_pos);
CREATE TABLE syncapi_stream_positions (
	stream TEXT PRIMARY KEY,
	watermark BIGINT NOT NULL
);
INSERT INTO syncapi_stream_positions (stream, watermark) VALUES ('room', 0), ('account_data', 0);
CREATE TABLE syncapi_received_positions (
	stream TEXT NOT NULL,
	pos BIGINT NOT NULL,
	PRIMARY KEY (stream, pos)
)`},
	// Version 2: a state event remembers the event it replaced in the state, for the
	// client format's unsigned.replaces_state / prev_content / prev_sender (clients render
	// "changed their display name" from them).
	{Version: 2, SQL: `
ALTER TABLE syncapi_events ADD COLUMN replaces_state TEXT NOT NULL DEFAULT '';
ALTER TABLE syncapi_events ADD COLUMN prev_content TEXT NOT NULL DEFAULT '';
ALTER TABLE syncapi_events ADD COLUMN prev_sender TEXT NOT NULL DEFAULT ''`},
	// Version 3: forgotten rooms (topic 2 OutputForget records) and the account data index
	// that loads every ignore list at start (ignore.go).
	//   - syncapi_forgotten: the newest position at which the user forgot the room. The room
	//     is forgotten while that position is newer than the user's membership event in the
	//     room, so a later membership event (a join, an invite) undoes it without a write.
	{Version: 3, SQL: `
CREATE TABLE syncapi_forgotten (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (user_id, room_id)
);
CREATE INDEX syncapi_account_data_type_idx ON syncapi_account_data (data_type, room_id)`},
	// Version 4: topic 3 (eduserver → syncapi), stream "edu" (receipts.go, todevice.go;
	// typing is kept in memory only).
	//   - syncapi_receipts: per room, user, receipt type and thread, the newest receipt and
	//     the topic 3 position it came with.
	//   - syncapi_to_device: to-device messages not yet acknowledged by their device (a
	//     /sync whose since token is at or past a message's position deletes it).
	{Version: 4, SQL: `
CREATE TABLE syncapi_receipts (
	room_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	receipt_type TEXT NOT NULL,
	thread_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	ts BIGINT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
CREATE INDEX syncapi_receipts_pos_idx ON syncapi_receipts (room_id, stream_pos);
CREATE TABLE syncapi_to_device (
	user_id TEXT NOT NULL,
	device_id TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	sender TEXT NOT NULL,
	event_type TEXT NOT NULL,
	content TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id, stream_pos)
);
INSERT INTO syncapi_stream_positions (stream, watermark) VALUES ('edu', 0)`},
	// Version 5: topic 7 (keyserver → syncapi), stream "key_change" (keychanges.go).
	//   - syncapi_key_changes: each change of a user's device list or cross-signing keys at
	//     its topic 7 position; audience (a JSON array, '' for everyone who shares a room
	//     with the user) limits who sees it.
	{Version: 5, SQL: `
CREATE TABLE syncapi_key_changes (
	stream_pos BIGINT PRIMARY KEY,
	user_id TEXT NOT NULL,
	audience TEXT NOT NULL DEFAULT ''
);
INSERT INTO syncapi_stream_positions (stream, watermark) VALUES ('key_change', 0)`}}
