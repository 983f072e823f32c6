// Package storage holds the keyserver's tables on SQLite or Postgres: local devices'
// device keys, their unclaimed one-time keys and their fallback keys (one per algorithm,
// with whether a claim has used it), users' cross-signing keys and the signatures uploaded
// for keys (crosssigning.go), and key backup versions with their room keys (keybackup.go).
// Keys are stored in canonical JSON.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// component is the name the migrations are recorded under.
const component = "keyserver"

// migrations are the schema versions; each statement is valid on SQLite and Postgres.
var migrations = []sqlutil.Migration{
	{Version: 1, SQL: `
CREATE TABLE keyserver_device_keys (
	user_id     TEXT NOT NULL,
	device_id   TEXT NOT NULL,
	ed25519_key TEXT NOT NULL,
	key_json    TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id)
);
CREATE TABLE keyserver_one_time_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_json  TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id, key_id)
);
CREATE INDEX keyserver_one_time_keys_algorithm ON keyserver_one_time_keys (user_id, device_id, algorithm, key_id);
CREATE TABLE keyserver_fallback_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	key_json  TEXT NOT NULL,
	used      BOOLEAN NOT NULL,
	PRIMARY KEY (user_id, device_id, algorithm)
)`},
	// Cross-signing keys and signatures (crosssigning.go), key backup (keybackup.go).
	{Version: 2, SQL: `
CREATE TABLE keyserver_cross_signing_keys (
	user_id  TEXT NOT NULL,
	key_type TEXT NOT NULL,
	key_id   TEXT NOT NULL,
	key_json TEXT NOT NULL,
	PRIMARY KEY (user_id, key_type)
);
CREATE TABLE keyserver_cross_signing_sigs (
	target_user_id TEXT NOT NULL,
	target_key_id  TEXT NOT NULL,
	signer_user_id TEXT NOT NULL,
	signer_key_id  TEXT NOT NULL,
	signature      TEXT NOT NULL,
	PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);
CREATE TABLE keyserver_backup_versions (
	user_id   TEXT NOT NULL,
	version   BIGINT NOT NULL,
	algorithm TEXT NOT NULL,
	auth_data TEXT NOT NULL,
	etag      BIGINT NOT NULL,
	deleted   BOOLEAN NOT NULL,
	PRIMARY KEY (user_id, version)
);
CREATE TABLE keyserver_backup_keys (
	user_id             TEXT NOT NULL,
	version             BIGINT NOT NULL,
	room_id             TEXT NOT NULL,
	session_id          TEXT NOT NULL,
	first_message_index BIGINT NOT NULL,
	forwarded_count     BIGINT NOT NULL,
	is_verified         BOOLEAN NOT NULL,
	session_data        TEXT NOT NULL,
	PRIMARY KEY (user_id, version, room_id, session_id)
)`},
	// Topic 7 (keychanges.go): the counter of key change positions, and each user's newest.
	{Version: 3, SQL: `
CREATE TABLE keyserver_counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO keyserver_counters (name, value) VALUES ('key_change', 0);
CREATE TABLE keyserver_device_list_streams (
	user_id    TEXT PRIMARY KEY,
	stream_pos BIGINT NOT NULL
)`},
	// Other servers' users' device-list changes (remotedevices.go): each device's newest
	// stream_id from m.device_list_update.
	{Version: 4, SQL: `
CREATE TABLE keyserver_remote_device_lists (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	stream_id BIGINT NOT NULL,
	deleted   BOOLEAN NOT NULL,
	PRIMARY KEY (user_id, device_id)
)`},
	// The cache of other servers' users' keys (remotecache.go): a user is cached while a
	// row of keyserver_remote_users says as of which stream_id; their devices' keys and
	// cross-signing keys (also kept from m.signing_key_update for users not cached).
	{Version: 5, SQL: `
CREATE TABLE keyserver_remote_users (
	user_id   TEXT PRIMARY KEY,
	stream_id BIGINT NOT NULL
);
CREATE TABLE keyserver_remote_device_keys (
	user_id   TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key_json  TEXT NOT NULL,
	PRIMARY KEY (user_id, device_id)
);
CREATE TABLE keyserver_remote_cross_signing_keys (
	user_id  TEXT NOT NULL,
	key_type TEXT NOT NULL,
	key_json TEXT NOT NULL,
	PRIMARY KEY (user_id, key_type)
)`},
}

// Database is the keyserver's database.
type Database struct {
	DB    *sqlutil.DB
	stage Stager
}

// Open migrates db to the newest keyserver schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{DB: db}, nil
}

// DeviceKeys is a device's device_keys object and its ed25519 key.
type DeviceKeys struct {
	Ed25519 string
	JSON    []byte
}

// Key is a one-time or fallback key: "algorithm:key_id" split, and the key in canonical
// JSON.
type Key struct {
	KeyID     string // the full "algorithm:key_id"
	Algorithm string
	JSON      []byte
}

// Upload is what one /keys/upload stores for a device.
type Upload struct {
	UserID, DeviceID string
	DeviceKeys       *DeviceKeys
	OneTimeKeys      []Key
	FallbackKeys     []Key
}

// KeyExistsError means a one-time key ID was uploaded before with other content.
type KeyExistsError struct{ KeyID string }

func (e *KeyExistsError) Error() string {
	return fmt.Sprintf("one-time key %s already exists with other content", e.KeyID)
}

// StoreUpload stores u in one transaction: the device keys replace the stored ones; a
// one-time key whose ID exists already is kept when the content is the same and refused
// (KeyExistsError, nothing stored) when it differs; a fallback key replaces the device's
// fallback key of its algorithm, unused, unless it is the same key, which keeps its state.
func (d *Database) StoreUpload(ctx context.Context, u *Upload) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var changes []Change
		if dk := u.DeviceKeys; dk != nil {
			// Only new or different keys change the device list (topic 7).
			res, err := tx.ExecContext(ctx, `INSERT INTO keyserver_device_keys (user_id, device_id, ed25519_key, key_json)
				VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device_id) DO UPDATE SET ed25519_key = excluded.ed25519_key,
				key_json = excluded.key_json WHERE keyserver_device_keys.key_json <> excluded.key_json`,
				u.UserID, u.DeviceID, dk.Ed25519, string(dk.JSON))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				changes = append(changes, Change{UserID: u.UserID, DeviceID: u.DeviceID, DeviceKeys: dk.JSON})
			}
		}
		for _, k := range u.OneTimeKeys {
			var old string
			err := tx.QueryRowContext(ctx, `SELECT key_json FROM keyserver_one_time_keys
				WHERE user_id = $1 AND device_id = $2 AND key_id = $3`, u.UserID, u.DeviceID, k.KeyID).Scan(&old)
			switch {
			case err == nil:
				if old != string(k.JSON) {
					return &KeyExistsError{KeyID: k.KeyID}
				}
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_one_time_keys (user_id, device_id, key_id, algorithm, key_json)
				VALUES ($1, $2, $3, $4, $5)`, u.UserID, u.DeviceID, k.KeyID, k.Algorithm, string(k.JSON)); err != nil {
				return err
			}
		}
		for _, k := range u.FallbackKeys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
				VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE
				SET key_id = excluded.key_id, key_json = excluded.key_json, used = FALSE
				WHERE keyserver_fallback_keys.key_id <> excluded.key_id OR keyserver_fallback_keys.key_json <> excluded.key_json`,
				u.UserID, u.DeviceID, k.Algorithm, k.KeyID, string(k.JSON)); err != nil {
				return err
			}
		}
		return d.stageChanges(ctx, tx, changes)
	})
}

// DeviceEd25519 returns the stored ed25519 key of a device ("" when it has no device keys).
func (d *Database) DeviceEd25519(ctx context.Context, userID, deviceID string) (string, error) {
	var k string
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT ed25519_key FROM keyserver_device_keys WHERE user_id = $1 AND device_id = $2`,
		userID, deviceID).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return k, err
}

// maxUsersPerQuery bounds the user IDs of one KeysOf or CrossSigningKeysOf statement
// (SQLite's limit on parameters is far above it).
const maxUsersPerQuery = 500

// OneTimeKeyCounts returns the device's unclaimed one-time keys per algorithm.
func (d *Database) OneTimeKeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	return countOTKs(ctx, d.DB.Reader(), userID, deviceID)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func countOTKs(ctx context.Context, q querier, userID, deviceID string) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT algorithm, COUNT(*) FROM keyserver_one_time_keys
		WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm`, userID, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var alg string
		var n int
		if err := rows.Scan(&alg, &n); err != nil {
			return nil, err
		}
		out[alg] = n
	}
	return out, rows.Err()
}

// Claim takes one of the device's one-time keys of algorithm (deleting it); when none is
// left it returns the device's fallback key of algorithm and marks it used. ok is false
// when the device has neither.
func (d *Database) Claim(ctx context.Context, userID, deviceID, algorithm string) (k Key, ok bool, err error) {
	// Two claims racing for the same key on Postgres: the loser deletes nothing and tries
	// the next key.
	for range 5 {
		var keyID, js string
		err := d.DB.DB.QueryRowContext(ctx, `DELETE FROM keyserver_one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND key_id = (SELECT key_id FROM keyserver_one_time_keys
				WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 ORDER BY key_id LIMIT 1)
			RETURNING key_id, key_json`, userID, deviceID, algorithm).Scan(&keyID, &js)
		if err == nil {
			return Key{KeyID: keyID, Algorithm: algorithm, JSON: []byte(js)}, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Key{}, false, err
		}
		var left int
		if err := d.DB.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM keyserver_one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND algorithm = $3`, userID, deviceID, algorithm).Scan(&left); err != nil {
			return Key{}, false, err
		}
		if left == 0 {
			break
		}
	}
	var keyID, js string
	err = d.DB.DB.QueryRowContext(ctx, `UPDATE keyserver_fallback_keys SET used = TRUE
		WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json`,
		userID, deviceID, algorithm).Scan(&keyID, &js)
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, false, nil
	}
	if err != nil {
		return Key{}, false, err
	}
	return Key{KeyID: keyID, Algorithm: algorithm, JSON: []byte(js)}, true, nil
}

// DeleteDevices forgets every key of userID's deviceIDs.
func (d *Database) DeleteDevices(ctx context.Context, userID string, deviceIDs []string) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var changes []Change
		for _, id := range deviceIDs {
			if err := forgetDeviceSignatures(ctx, tx, userID, id); err != nil {
				return err
			}
			for _, table := range []string{"keyserver_device_keys", "keyserver_one_time_keys", "keyserver_fallback_keys"} {
				res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = $1 AND device_id = $2`, userID, id)
				if err != nil {
					return err
				}
				if table != "keyserver_device_keys" {
					continue
				}
				// A device that had keys leaves the device list (topic 7).
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n > 0 {
					changes = append(changes, Change{UserID: userID, DeviceID: id, Deleted: true})
				}
			}
		}
		return d.stageChanges(ctx, tx, changes)
	})
}

// DeleteUser forgets every key of every device of userID (with the devices' signatures;
// the user's cross-signing keys stay: logout/all keeps them).
func (d *Database) DeleteUser(ctx context.Context, userID string) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		devices, err := deviceIDsOf(ctx, tx, userID)
		if err != nil {
			return err
		}
		var changes []Change
		for _, id := range devices {
			if err := forgetDeviceSignatures(ctx, tx, userID, id); err != nil {
				return err
			}
			changes = append(changes, Change{UserID: userID, DeviceID: id, Deleted: true})
		}
		for _, table := range []string{"keyserver_device_keys", "keyserver_one_time_keys", "keyserver_fallback_keys"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, userID); err != nil {
				return err
			}
		}
		return d.stageChanges(ctx, tx, changes)
	})
}

// KeyCounts returns, in one query (every /sync asks), the device's unclaimed one-time
// keys per algorithm and the algorithms of its unused fallback keys, sorted.
func (d *Database) KeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, []string, error) {
	rows, err := d.DB.Reader().QueryContext(ctx, `SELECT 0, algorithm, COUNT(*) FROM keyserver_one_time_keys
		WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm
		UNION ALL SELECT 1, algorithm, 0 FROM keyserver_fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used
		ORDER BY 1, 2`, userID, deviceID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	counts, unused := map[string]int{}, []string{}
	for rows.Next() {
		var kind, n int
		var alg string
		if err := rows.Scan(&kind, &alg, &n); err != nil {
			return nil, nil, err
		}
		if kind == 0 {
			counts[alg] = n
		} else {
			unused = append(unused, alg)
		}
	}
	return counts, unused, rows.Err()
}

// deviceIDsOf lists the devices of userID that have device keys.
func deviceIDsOf(ctx context.Context, q querier, userID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT device_id FROM keyserver_device_keys WHERE user_id = $1`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
