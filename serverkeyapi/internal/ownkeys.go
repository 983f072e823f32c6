package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
)

type verifyKeyJSON struct {
	Key string `json:"key"`
}

type oldVerifyKeyJSON struct {
	Key       string `json:"key"`
	ExpiredTS int64  `json:"expired_ts"`
}

// serverKeysJSON is the body of GET /_matrix/key/v2/server before it is signed.
type serverKeysJSON struct {
	ServerName    string                      `json:"server_name"`
	ValidUntilTS  int64                       `json:"valid_until_ts"`
	VerifyKeys    map[string]verifyKeyJSON    `json:"verify_keys"`
	OldVerifyKeys map[string]oldVerifyKeyJSON `json:"old_verify_keys"`
}

// ServerKeys implements api.ServerKeyAPI.
func (a *API) ServerKeys(context.Context) (json.RawMessage, error) {
	k := a.opts.Key
	body := serverKeysJSON{
		ServerName:    a.opts.ServerName,
		ValidUntilTS:  a.opts.Now().Add(a.opts.ValidityPeriod).UnixMilli(),
		VerifyKeys:    map[string]verifyKeyJSON{string(k.ID): {signing.EncodeBase64(k.Public())}},
		OldVerifyKeys: map[string]oldVerifyKeyJSON{},
	}
	for _, old := range a.oldKeys {
		body.OldVerifyKeys[old.KeyID] = oldVerifyKeyJSON{signing.EncodeBase64(old.PublicKey), old.ExpiredTS}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return signing.SignJSON(a.opts.ServerName, k.ID, k.Private, raw)
}

// ownKeys answers key lookups for this server itself, never over the network: the current
// key valid for a validity period from now, replaced keys until they expired.
func (a *API) ownKeys() map[string]api.PublicKey {
	k := a.opts.Key
	out := map[string]api.PublicKey{string(k.ID): {ServerName: a.opts.ServerName, KeyID: string(k.ID),
		Key: signing.EncodeBase64(k.Public()), ValidUntilTS: a.opts.Now().Add(a.opts.ValidityPeriod).UnixMilli()}}
	for _, old := range a.oldKeys {
		out[old.KeyID] = api.PublicKey{ServerName: a.opts.ServerName, KeyID: old.KeyID,
			Key: signing.EncodeBase64(old.PublicKey), ValidUntilTS: old.ExpiredTS, Expired: true}
	}
	return out
}
