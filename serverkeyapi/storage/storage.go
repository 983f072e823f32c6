// Package storage holds the serverkeyapi's tables on SQLite or Postgres: this server's own
// keys (the current one and those it replaced, published as old_verify_keys), other
// servers' verified public keys with their validity (the keyring's Store), and the signed
// key responses they came in, which the notary passes on.
package storage

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"strings"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix/federation/keyring"
	"github.com/axon-matrix/axon/matrix/signing"
)

// component is the name the migrations are recorded under.
const component = "serverkeyapi"

// migrations are the schema versions; each statement is valid on SQLite and Postgres.
var migrations = []sqlutil.Migration{
	{Version: 1, SQL: `
CREATE TABLE serverkeyapi_own_keys (
	key_id     TEXT PRIMARY KEY,
	public_key TEXT NOT NULL,
	expired_ts BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE serverkeyapi_remote_keys (
	server_name    TEXT NOT NULL,
	key_id         TEXT NOT NULL,
	public_key     TEXT NOT NULL,
	valid_until_ts BIGINT NOT NULL,
	expired        BOOLEAN NOT NULL,
	PRIMARY KEY (server_name, key_id)
);
CREATE TABLE serverkeyapi_remote_responses (
	server_name    TEXT NOT NULL,
	key_id         TEXT NOT NULL,
	valid_until_ts BIGINT NOT NULL,
	response       TEXT NOT NULL,
	PRIMARY KEY (server_name, key_id)
)`},
}

// Database is the serverkeyapi's database.
type Database struct {
	DB *sqlutil.DB
}

var _ keyring.Store = (*Database)(nil)

// Open migrates db to the newest serverkeyapi schema and returns it.
func Open(ctx context.Context, db *sqlutil.DB) (*Database, error) {
	if err := sqlutil.Migrate(ctx, db, component, migrations); err != nil {
		return nil, err
	}
	return &Database{DB: db}, nil
}

// OwnKey is a key of this server.
type OwnKey struct {
	KeyID     string
	PublicKey ed25519.PublicKey
	// ExpiredTS is when the server stopped using the key (ms); 0 for the current key.
	ExpiredTS int64
}

// RecordCurrentKey makes keyID (with pub) this server's current key: a key recorded as
// current before under another ID is marked replaced at nowMS (a rotation), and a key
// that was replaced before and is current again loses its expiry. It returns the replaced
// keys, oldest first.
func (d *Database) RecordCurrentKey(ctx context.Context, keyID string, pub ed25519.PublicKey, nowMS int64) ([]OwnKey, error) {
	enc := signing.EncodeBase64(pub)
	var old []OwnKey
	err := sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE serverkeyapi_own_keys SET expired_ts = $1 WHERE expired_ts = 0 AND key_id <> $2`,
			nowMS, keyID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO serverkeyapi_own_keys (key_id, public_key, expired_ts) VALUES ($1, $2, 0)
			ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key, expired_ts = 0`, keyID, enc); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT key_id, public_key, expired_ts FROM serverkeyapi_own_keys
			WHERE expired_ts <> 0 ORDER BY expired_ts, key_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k OwnKey
			var key string
			if err := rows.Scan(&k.KeyID, &key, &k.ExpiredTS); err != nil {
				return err
			}
			raw, err := signing.DecodeBase64(key)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return fmt.Errorf("storage: own key %s is not an ed25519 key", k.KeyID)
			}
			k.PublicKey = raw
			old = append(old, k)
		}
		return rows.Err()
	})
	return old, err
}

// LoadKeys implements keyring.Store: the stored keys among reqs.
func (d *Database) LoadKeys(ctx context.Context, reqs []keyring.Request) (map[keyring.Request]keyring.PublicKey, error) {
	out := map[keyring.Request]keyring.PublicKey{}
	byServer := map[string][]string{}
	for _, r := range reqs {
		byServer[r.ServerName] = append(byServer[r.ServerName], string(r.KeyID))
	}
	for server, ids := range byServer {
		args := []any{server}
		marks := make([]string, len(ids))
		for i, id := range ids {
			args = append(args, id)
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		rows, err := d.DB.Reader().QueryContext(ctx, `SELECT key_id, public_key, valid_until_ts, expired
			FROM serverkeyapi_remote_keys WHERE server_name = $1 AND key_id IN (`+strings.Join(marks, ",")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k keyring.PublicKey
			var id, key string
			if err := rows.Scan(&id, &key, &k.ValidUntilTS, &k.Expired); err != nil {
				rows.Close()
				return nil, err
			}
			raw, err := signing.DecodeBase64(key)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				continue // never written by StoreKeys; ignore rather than trust
			}
			k.ServerName, k.KeyID, k.Key = server, signing.KeyID(id), raw
			out[keyring.Request{ServerName: server, KeyID: k.KeyID}] = k
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StoreKeys implements keyring.Store. A stored key is replaced only by a better one: a later
// validity, or the old_verify_keys entry of the same validity (the keyring's own rule), so
// a process that had not loaded a key never overwrites it with a worse one.
func (d *Database) StoreKeys(ctx context.Context, keys []keyring.PublicKey) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO serverkeyapi_remote_keys
				(server_name, key_id, public_key, valid_until_ts, expired) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key,
					valid_until_ts = excluded.valid_until_ts, expired = excluded.expired
				WHERE excluded.valid_until_ts > serverkeyapi_remote_keys.valid_until_ts
					OR (excluded.valid_until_ts = serverkeyapi_remote_keys.valid_until_ts AND excluded.expired AND NOT serverkeyapi_remote_keys.expired)`,
				k.ServerName, string(k.KeyID), signing.EncodeBase64(k.Key), k.ValidUntilTS, k.Expired); err != nil {
				return err
			}
		}
		return nil
	})
}

// StoredResponse is a server's signed key response as it was fetched.
type StoredResponse struct {
	KeyID        string
	ValidUntilTS int64
	Raw          []byte
}

// StoreResponse keeps raw (a verified key response of server, valid until validUntilTS) for
// each of keyIDs, unless a response valid for longer is stored for that key already.
func (d *Database) StoreResponse(ctx context.Context, server string, keyIDs []string, validUntilTS int64, raw []byte) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		for _, id := range keyIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO serverkeyapi_remote_responses (server_name, key_id, valid_until_ts, response)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (server_name, key_id) DO UPDATE SET valid_until_ts = excluded.valid_until_ts, response = excluded.response
				WHERE excluded.valid_until_ts >= serverkeyapi_remote_responses.valid_until_ts`,
				server, id, validUntilTS, string(raw)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Responses returns the stored responses of server for keyIDs, or for all its keys when
// keyIDs is empty.
func (d *Database) Responses(ctx context.Context, server string, keyIDs []string) ([]StoredResponse, error) {
	q := `SELECT key_id, valid_until_ts, response FROM serverkeyapi_remote_responses WHERE server_name = $1`
	args := []any{server}
	if len(keyIDs) > 0 {
		marks := make([]string, len(keyIDs))
		for i, id := range keyIDs {
			args = append(args, id)
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		q += ` AND key_id IN (` + strings.Join(marks, ",") + `)`
	}
	rows, err := d.DB.Reader().QueryContext(ctx, q+` ORDER BY key_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredResponse
	for rows.Next() {
		var r StoredResponse
		var raw string
		if err := rows.Scan(&r.KeyID, &r.ValidUntilTS, &raw); err != nil {
			return nil, err
		}
		r.Raw = []byte(raw)
		out = append(out, r)
	}
	return out, rows.Err()
}
