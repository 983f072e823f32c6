package storage

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// The cache of other servers' users' keys (keyserver/internal/remotecache.go): filled
// from /user/devices for users who share a room with this server, kept fresh by
// m.device_list_update and m.signing_key_update EDUs, forgotten when an update shows a
// gap (the next query asks the user's server again).

// RemoteDeviceList is a remote user's whole device list as of StreamID.
type RemoteDeviceList struct {
	UserID         string
	StreamID       int64
	Devices        map[string][]byte // device ID → device keys (canonical JSON)
	MasterKey      []byte
	SelfSigningKey []byte
}

// CachedRemoteKeys is what the cache holds of a remote user.
type CachedRemoteKeys struct {
	Devices        map[string][]byte
	MasterKey      []byte
	SelfSigningKey []byte
}

// StoreRemoteDeviceList replaces the cache of l.UserID with l, unless the cache already
// holds a newer stream_id, or an m.device_list_update newer than l has come in meanwhile
// (l is already out of date: the user stays uncached, so the next query asks again).
func (d *Database) StoreRemoteDeviceList(ctx context.Context, l RemoteDeviceList) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT stream_id FROM keyserver_remote_users WHERE user_id = $1`, l.UserID).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case stored > l.StreamID:
			return nil
		}
		var newest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(stream_id) FROM keyserver_remote_device_lists WHERE user_id = $1`,
			l.UserID).Scan(&newest); err != nil {
			return err
		}
		if newest.Valid && newest.Int64 > l.StreamID {
			return forgetRemoteUser(ctx, tx, l.UserID, false)
		}
		if err := forgetRemoteUser(ctx, tx, l.UserID, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_remote_users (user_id, stream_id) VALUES ($1, $2)`, l.UserID, l.StreamID); err != nil {
			return err
		}
		for dev, js := range l.Devices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_remote_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)`,
				l.UserID, dev, string(js)); err != nil {
				return err
			}
		}
		return putRemoteCrossSigning(ctx, tx, l.UserID, l.MasterKey, l.SelfSigningKey)
	})
}

// putRemoteCrossSigning upserts the present ones of a remote user's master and
// self-signing keys.
func putRemoteCrossSigning(ctx context.Context, tx *sql.Tx, userID string, master, selfSigning []byte) error {
	for _, k := range []struct {
		typ string
		js  []byte
	}{{KeyTypeMaster, master}, {KeyTypeSelfSigning, selfSigning}} {
		if len(k.js) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_remote_cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`, userID, k.typ, string(k.js)); err != nil {
			return err
		}
	}
	return nil
}

// forgetRemoteUser deletes the cache of userID (its cross-signing keys too when
// crossSigning).
func forgetRemoteUser(ctx context.Context, tx *sql.Tx, userID string, crossSigning bool) error {
	stmts := []string{`DELETE FROM keyserver_remote_users WHERE user_id = $1`, `DELETE FROM keyserver_remote_device_keys WHERE user_id = $1`}
	if crossSigning {
		stmts = append(stmts, `DELETE FROM keyserver_remote_cross_signing_keys WHERE user_id = $1`)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s, userID); err != nil {
			return err
		}
	}
	return nil
}

// ForgetRemoteUser deletes everything the cache holds of userID (no longer sharing a room
// with this server: no updates would keep it fresh).
func (d *Database) ForgetRemoteUser(ctx context.Context, userID string) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error { return forgetRemoteUser(ctx, tx, userID, true) })
}

// RemoteUpdateOutcome says what ApplyRemoteDeviceUpdate did.
type RemoteUpdateOutcome int

const (
	// RemoteNotCached: the user is not cached; nothing to do.
	RemoteNotCached RemoteUpdateOutcome = iota
	// RemoteApplied: the update followed the cached stream_id and was applied.
	RemoteApplied
	// RemoteOld: the cache is as new or newer already.
	RemoteOld
	// RemoteGap: prev_id does not name the cached stream_id: the cache of the user's
	// devices was dropped and must be fetched again.
	RemoteGap
)

// ApplyRemoteDeviceUpdate applies an m.device_list_update to a cached user: when prevIDs
// names the cached stream_id the device's keys are replaced (keys) or deleted (deleted)
// and the stream_id moves on; otherwise the user's cached devices are dropped (RemoteGap).
func (d *Database) ApplyRemoteDeviceUpdate(ctx context.Context, userID, deviceID string, streamID int64, prevIDs []int64,
	deleted bool, keys []byte) (RemoteUpdateOutcome, error) {
	out := RemoteNotCached
	err := sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT stream_id FROM keyserver_remote_users WHERE user_id = $1`, userID).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = RemoteNotCached
			return nil
		case err != nil:
			return err
		case stored >= streamID:
			out = RemoteOld
			return nil
		case !slices.Contains(prevIDs, stored) || (!deleted && len(keys) == 0):
			out = RemoteGap
			return forgetRemoteUser(ctx, tx, userID, false)
		}
		out = RemoteApplied
		if deleted {
			_, err = tx.ExecContext(ctx, `DELETE FROM keyserver_remote_device_keys WHERE user_id = $1 AND device_id = $2`, userID, deviceID)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO keyserver_remote_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)
				ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`, userID, deviceID, string(keys))
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE keyserver_remote_users SET stream_id = $2 WHERE user_id = $1`, userID, streamID)
		return err
	})
	return out, err
}

// StoreRemoteSigningKeys keeps a remote user's master and self-signing keys from an
// m.signing_key_update (the present ones) and stages the change on topic 7, so /sync's
// device_lists.changed of users sharing a room shows the user.
func (d *Database) StoreRemoteSigningKeys(ctx context.Context, userID string, master, selfSigning []byte) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		if err := putRemoteCrossSigning(ctx, tx, userID, master, selfSigning); err != nil {
			return err
		}
		return d.stageChanges(ctx, tx, []Change{{UserID: userID, CrossSigning: true}})
	})
}

// RemoteMasterKey returns the stored master key of a remote user (nil when none).
func (d *Database) RemoteMasterKey(ctx context.Context, userID string) ([]byte, error) {
	var js string
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT key_json FROM keyserver_remote_cross_signing_keys WHERE user_id = $1 AND key_type = $2`,
		userID, KeyTypeMaster).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return []byte(js), err
}

// CachedRemoteKeysOf returns the cache of those of userIDs who are cached.
func (d *Database) CachedRemoteKeysOf(ctx context.Context, userIDs []string) (map[string]*CachedRemoteKeys, error) {
	out := map[string]*CachedRemoteKeys{}
	err := chunks(userIDs, func(chunk []string) error {
		args := make([]any, len(chunk))
		for i, u := range chunk {
			args[i] = u
		}
		in := `(` + sqlutil.Placeholders(1, len(chunk)) + `)`
		read := func(query string, scan func(rows *sql.Rows) error) error {
			rows, err := d.DB.Reader().QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}
		if err := read(`SELECT user_id FROM keyserver_remote_users WHERE user_id IN `+in, func(rows *sql.Rows) error {
			var u string
			if err := rows.Scan(&u); err != nil {
				return err
			}
			out[u] = &CachedRemoteKeys{Devices: map[string][]byte{}}
			return nil
		}); err != nil {
			return err
		}
		if err := read(`SELECT user_id, device_id, key_json FROM keyserver_remote_device_keys WHERE user_id IN `+in, func(rows *sql.Rows) error {
			var u, dev, js string
			if err := rows.Scan(&u, &dev, &js); err != nil {
				return err
			}
			if c := out[u]; c != nil {
				c.Devices[dev] = []byte(js)
			}
			return nil
		}); err != nil {
			return err
		}
		return read(`SELECT user_id, key_type, key_json FROM keyserver_remote_cross_signing_keys WHERE user_id IN `+in, func(rows *sql.Rows) error {
			var u, typ, js string
			if err := rows.Scan(&u, &typ, &js); err != nil {
				return err
			}
			if c := out[u]; c != nil {
				switch typ {
				case KeyTypeMaster:
					c.MasterKey = []byte(js)
				case KeyTypeSelfSigning:
					c.SelfSigningKey = []byte(js)
				}
			}
			return nil
		})
	})
	return out, err
}
