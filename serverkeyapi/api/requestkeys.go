package api

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

// RequestKeyLookup is the key lookup of X-Matrix request checks
// (federation.VerifyHTTPRequest) over the serverkeyapi (arrow 11): a current (not
// replaced) key of a well-formed origin, valid now. Components other than the
// federationapi that serve federation paths (the mediaapi's /_matrix/federation/v1/media)
// use it.
func RequestKeyLookup(keys ServerKeyAPI) federation.RequestKeyLookup {
	return func(ctx context.Context, server string, keyID signing.KeyID) (ed25519.PublicKey, error) {
		if err := matrix.ValidateServerName(server); err != nil {
			return nil, fmt.Errorf("origin %q is not a server name: %v", server, err)
		}
		now := time.Now().UnixMilli()
		resp, err := keys.FetchKeys(ctx, &FetchKeysRequest{Keys: []KeyRequest{
			{ServerName: server, KeyID: string(keyID), MinimumValidUntilTS: now}}})
		if err != nil {
			return nil, err
		}
		for _, k := range resp.Keys {
			if k.ServerName != server || k.KeyID != string(keyID) {
				continue
			}
			if k.Expired || k.ValidUntilTS < now {
				return nil, fmt.Errorf("key %s of %s is no longer valid", keyID, server)
			}
			raw, err := signing.DecodeBase64(k.Key)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("key %s of %s is not an ed25519 key", keyID, server)
			}
			return raw, nil
		}
		return nil, fmt.Errorf("key %s of %s not found", keyID, server)
	}
}
