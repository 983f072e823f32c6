package routing

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

// eventKeyLookup is the key lookup for event signatures over the serverkeyapi (arrow 11):
// current and old keys alike, each with how long it was valid (VerifyEventSignatures
// compares that with the event's origin_server_ts for room versions 5+).
func eventKeyLookup(keys skapi.ServerKeyAPI) event.KeyLookup {
	return func(ctx context.Context, server string, keyID signing.KeyID) (event.VerifyKey, error) {
		resp, err := keys.FetchKeys(ctx, &skapi.FetchKeysRequest{Keys: []skapi.KeyRequest{{ServerName: server, KeyID: string(keyID)}}})
		if err != nil {
			return event.VerifyKey{}, err
		}
		for _, k := range resp.Keys {
			if k.ServerName != server || k.KeyID != string(keyID) {
				continue
			}
			raw, err := signing.DecodeBase64(k.Key)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return event.VerifyKey{}, fmt.Errorf("key %s of %s is not an ed25519 key", keyID, server)
			}
			return event.VerifyKey{Key: raw, ValidUntilTS: k.ValidUntilTS}, nil
		}
		return event.VerifyKey{}, fmt.Errorf("key %s of %s not found", keyID, server)
	}
}
