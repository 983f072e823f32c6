package storage

import (
	"context"
	"slices"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// UsersKeys is what a /keys/query reads of local users: their device keys (user ID →
// device ID → JSON), cross-signing keys (user ID → type → key) and the signatures
// uploaded of their devices and keys.
type UsersKeys struct {
	DeviceKeys   map[string]map[string][]byte
	CrossSigning map[string]map[string]CrossSigningKey
	Signatures   []Signature
}

// KeysOf reads DeviceKeysOf, CrossSigningKeysOf and SignaturesOf of the users in one
// statement per maxUsersPerQuery users: one round trip to the database for a /keys/query
// of a room's members instead of three. users maps each user to the device IDs asked for
// (empty: all).
func (d *Database) KeysOf(ctx context.Context, users map[string][]string) (*UsersKeys, error) {
	out := &UsersKeys{DeviceKeys: map[string]map[string][]byte{}, CrossSigning: map[string]map[string]CrossSigningKey{}}
	ids := make([]string, 0, len(users))
	for u := range users {
		ids = append(ids, u)
	}
	err := chunks(ids, func(chunk []string) error {
		in := sqlutil.Placeholders(1, len(chunk))
		// One column layout for the three tables: kind, then the row's identifying
		// columns and its JSON or signature.
		rows, err := d.DB.Reader().QueryContext(ctx, `
			SELECT 'd', user_id, device_id, '', '', key_json FROM keyserver_device_keys WHERE user_id IN (`+in+`)
			UNION ALL
			SELECT 'x', user_id, key_type, key_id, '', key_json FROM keyserver_cross_signing_keys WHERE user_id IN (`+in+`)
			UNION ALL
			SELECT 's', target_user_id, target_key_id, signer_user_id, signer_key_id, signature
				FROM keyserver_cross_signing_sigs WHERE target_user_id IN (`+in+`)`, anys(chunk)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kind, user, a, b, c, js string
			if err := rows.Scan(&kind, &user, &a, &b, &c, &js); err != nil {
				return err
			}
			switch kind {
			case "d":
				if want := users[user]; len(want) > 0 && !slices.Contains(want, a) {
					continue
				}
				if out.DeviceKeys[user] == nil {
					out.DeviceKeys[user] = map[string][]byte{}
				}
				out.DeviceKeys[user][a] = []byte(js)
			case "x":
				if out.CrossSigning[user] == nil {
					out.CrossSigning[user] = map[string]CrossSigningKey{}
				}
				out.CrossSigning[user][a] = CrossSigningKey{Type: a, KeyID: b, JSON: []byte(js)}
			case "s":
				out.Signatures = append(out.Signatures, Signature{TargetUserID: user, TargetKeyID: a, SignerUserID: b, SignerKeyID: c,
					Signature: js})
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
