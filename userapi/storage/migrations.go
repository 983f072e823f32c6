package storage

import "github.com/axon-matrix/axon/internal/sqlutil"

// component is the name the userapi's migrations are recorded under.
const component = "userapi"

// migrations are the userapi's schema versions. Every statement is valid on both SQLite and
// Postgres (TEXT, BIGINT, BOOLEAN, composite primary keys), so there is one list for both.
//
// Access tokens are never stored: userapi_devices keeps only the hex SHA-256 of each token,
// under a unique index, so QueryAccessToken is one indexed lookup.
var migrations = []sqlutil.Migration{
	{Version: 1, SQL: `
CREATE TABLE userapi_accounts (
	localpart     TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL DEFAULT '',
	account_type  INTEGER NOT NULL,
	created_ts    BIGINT NOT NULL,
	deactivated   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE userapi_devices (
	localpart         TEXT NOT NULL,
	device_id         TEXT NOT NULL,
	display_name      TEXT NOT NULL DEFAULT '',
	access_token_hash TEXT NOT NULL,
	created_ts        BIGINT NOT NULL,
	last_seen_ts      BIGINT NOT NULL,
	last_seen_ip      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (localpart, device_id)
);
CREATE UNIQUE INDEX userapi_devices_token_idx ON userapi_devices (access_token_hash);
CREATE TABLE userapi_profiles (
	localpart    TEXT PRIMARY KEY,
	display_name TEXT NOT NULL DEFAULT '',
	avatar_url   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE userapi_account_data (
	localpart  TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	data_type  TEXT NOT NULL,
	content    TEXT NOT NULL,
	stream_pos BIGINT NOT NULL,
	PRIMARY KEY (localpart, room_id, data_type)
);
CREATE TABLE userapi_filters (
	localpart TEXT NOT NULL,
	filter_id BIGINT NOT NULL,
	filter    TEXT NOT NULL,
	PRIMARY KEY (localpart, filter_id)
);
CREATE TABLE userapi_counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO userapi_counters (name, value) VALUES ('account_data', 0), ('guest_localpart', 0)`},
	// Registration tokens (spec 1.2, m.login.registration_token), with Synapse's counters:
	// pending = registrations that passed the token stage and have not finished (one
	// reservation row each, keyed by the UIA session), completed = accounts created with
	// the token. NULL uses_allowed / expiry_time mean no limit.
	{Version: 2, SQL: `
CREATE TABLE userapi_registration_tokens (
	token        TEXT PRIMARY KEY,
	uses_allowed BIGINT,
	pending      BIGINT NOT NULL DEFAULT 0,
	completed    BIGINT NOT NULL DEFAULT 0,
	expiry_time  BIGINT
);
CREATE TABLE userapi_registration_token_reservations (
	session_id TEXT PRIMARY KEY,
	token      TEXT NOT NULL,
	created_ts BIGINT NOT NULL
);
CREATE INDEX userapi_registration_token_reservations_ts_idx ON userapi_registration_token_reservations (created_ts)`},
}
