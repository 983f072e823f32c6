package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Cross-signing key types (the usage a key is stored under).
const (
	KeyTypeMaster      = "master"
	KeyTypeSelfSigning = "self_signing"
	KeyTypeUserSigning = "user_signing"
)

// CrossSigningKey is one of a user's cross-signing keys: its type, its public key (the
// unpadded base64 after "ed25519:", which also names it as a signature target) and the
// key object as uploaded, in canonical JSON.
type CrossSigningKey struct {
	Type  string
	KeyID string
	JSON  []byte
}

// Signature is one signature uploaded through /keys/signatures/upload: TargetKeyID is a
// device ID or a cross-signing public key of TargetUserID; SignerKeyID is the signing
// key's "ed25519:<id>".
type Signature struct {
	TargetUserID, TargetKeyID string
	SignerUserID, SignerKeyID string
	Signature                 string
}

// chunks calls fn for each run of at most maxUsersPerQuery IDs.
func chunks(ids []string, fn func(chunk []string) error) error {
	for start := 0; start < len(ids); start += maxUsersPerQuery {
		if err := fn(ids[start:min(start+maxUsersPerQuery, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

func anys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// CrossSigningKeysOf returns the cross-signing keys of users: user ID → type → key; users
// without keys are absent.
func (d *Database) CrossSigningKeysOf(ctx context.Context, userIDs []string) (map[string]map[string]CrossSigningKey, error) {
	out := map[string]map[string]CrossSigningKey{}
	err := chunks(userIDs, func(chunk []string) error {
		rows, err := d.DB.Reader().QueryContext(ctx, `SELECT user_id, key_type, key_id, key_json FROM keyserver_cross_signing_keys
			WHERE user_id IN (`+sqlutil.Placeholders(1, len(chunk))+`)`, anys(chunk)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var user, js string
			var k CrossSigningKey
			if err := rows.Scan(&user, &k.Type, &k.KeyID, &js); err != nil {
				return err
			}
			k.JSON = []byte(js)
			if out[user] == nil {
				out[user] = map[string]CrossSigningKey{}
			}
			out[user][k.Type] = k
		}
		return rows.Err()
	})
	return out, err
}

// StoreCrossSigningKeys stores userID's keys in one transaction, each replacing the stored
// key of its type, and removes the stored keys of the drop types. A replaced or removed
// key takes with it the signatures it made and the signatures made of it: they belong to
// a key that is no longer the user's.
func (d *Database) StoreCrossSigningKeys(ctx context.Context, userID string, keys []CrossSigningKey, drop []string) error {
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		forget := func(keyType string) error {
			var old string
			err := tx.QueryRowContext(ctx, `SELECT key_id FROM keyserver_cross_signing_keys WHERE user_id = $1 AND key_type = $2`,
				userID, keyType).Scan(&old)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM keyserver_cross_signing_sigs
				WHERE (signer_user_id = $1 AND signer_key_id = $2) OR (target_user_id = $1 AND target_key_id = $3)`,
				userID, "ed25519:"+old, old); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM keyserver_cross_signing_keys WHERE user_id = $1 AND key_type = $2`, userID, keyType)
			return err
		}
		changed := len(drop) > 0
		for _, t := range drop {
			if err := forget(t); err != nil {
				return err
			}
		}
		for _, k := range keys {
			var old, oldJSON string
			err := tx.QueryRowContext(ctx, `SELECT key_id, key_json FROM keyserver_cross_signing_keys WHERE user_id = $1 AND key_type = $2`,
				userID, k.Type).Scan(&old, &oldJSON)
			switch {
			case err == nil && old == k.KeyID && oldJSON == string(k.JSON):
				continue // the same key again: nothing changes
			case err == nil && old == k.KeyID:
				// The same key with other signatures: keep the signatures uploaded for it.
				changed = true
				if _, err := tx.ExecContext(ctx, `UPDATE keyserver_cross_signing_keys SET key_json = $3
					WHERE user_id = $1 AND key_type = $2`, userID, k.Type, string(k.JSON)); err != nil {
					return err
				}
				continue
			case err == nil:
				if err := forget(k.Type); err != nil {
					return err
				}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			changed = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_cross_signing_keys (user_id, key_type, key_id, key_json)
				VALUES ($1, $2, $3, $4)`, userID, k.Type, k.KeyID, string(k.JSON)); err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
		c := Change{UserID: userID, CrossSigning: true}
		rows, err := tx.QueryContext(ctx, `SELECT key_type, key_json FROM keyserver_cross_signing_keys WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var typ, js string
			if err := rows.Scan(&typ, &js); err != nil {
				return err
			}
			switch typ {
			case KeyTypeMaster:
				c.MasterKey = []byte(js)
			case KeyTypeSelfSigning:
				c.SelfSigningKey = []byte(js)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return d.stageChanges(ctx, tx, []Change{c})
	})
}

// StoreSignatures stores sigs in one transaction; a signature by the same key of the same
// target replaces the stored one.
func (d *Database) StoreSignatures(ctx context.Context, sigs []Signature) error {
	if len(sigs) == 0 {
		return nil
	}
	return sqlutil.WithTransaction(ctx, d.DB.DB, func(tx *sql.Tx) error {
		// Topic 7: a user's signatures of their own keys change what everyone sharing a
		// room with them sees; a signature of another user's master key only the signer's.
		// A signature of one of the user's own devices names the device (DeviceID), so
		// other servers hear of it (an m.device_list_update without keys: they fetch the
		// list again).
		var changes []Change
		seen := map[[3]string]bool{}
		for _, s := range sigs {
			audience, device := "", ""
			if s.SignerUserID != s.TargetUserID {
				audience = s.SignerUserID
			} else {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM keyserver_device_keys WHERE user_id = $1 AND device_id = $2`,
					s.TargetUserID, s.TargetKeyID).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					device = s.TargetKeyID
				}
			}
			if k := [3]string{s.TargetUserID, audience, device}; !seen[k] {
				seen[k] = true
				c := Change{UserID: s.TargetUserID, DeviceID: device, CrossSigning: true}
				if audience != "" {
					c.Audience = []string{audience}
				}
				changes = append(changes, c)
			}
		}
		for _, s := range sigs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO keyserver_cross_signing_sigs
				(target_user_id, target_key_id, signer_user_id, signer_key_id, signature) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = excluded.signature`,
				s.TargetUserID, s.TargetKeyID, s.SignerUserID, s.SignerKeyID, s.Signature); err != nil {
				return err
			}
		}
		return d.stageChanges(ctx, tx, changes)
	})
}

// DeviceKeysJSON returns the stored device_keys object of a device (nil when it has none).
func (d *Database) DeviceKeysJSON(ctx context.Context, userID, deviceID string) ([]byte, error) {
	var js string
	err := d.DB.Reader().QueryRowContext(ctx, `SELECT key_json FROM keyserver_device_keys WHERE user_id = $1 AND device_id = $2`,
		userID, deviceID).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return []byte(js), err
}

// forgetDeviceSignatures deletes the signatures of a device and the signatures it made.
func forgetDeviceSignatures(ctx context.Context, tx *sql.Tx, userID, deviceID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM keyserver_cross_signing_sigs
		WHERE (target_user_id = $1 AND target_key_id = $2) OR (signer_user_id = $1 AND signer_key_id = $3)`,
		userID, deviceID, "ed25519:"+deviceID)
	return err
}
