package internal

import (
	"context"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation/keyring"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
)

// maxKeysPerRequest bounds one FetchKeys or VerifyJSON call.
const maxKeysPerRequest = 1000

// checkKeyRequest checks a server name and an ed25519 key ID.
func checkKeyRequest(server, keyID string) error {
	if err := matrix.ValidateServerName(server); err != nil {
		return httputil.InvalidParam("server name %q: %v", server, err)
	}
	id := signing.KeyID(keyID)
	if err := id.Validate(); err != nil || id.Algorithm() != signing.AlgorithmEd25519 {
		return httputil.InvalidParam("key ID %q is not an ed25519 key ID", keyID)
	}
	return nil
}

// FetchKeys implements api.ServerKeyAPI (arrow 11: the federationapi's X-Matrix checks).
func (a *API) FetchKeys(ctx context.Context, req *api.FetchKeysRequest) (*api.FetchKeysResponse, error) {
	if len(req.Keys) > maxKeysPerRequest {
		return nil, httputil.InvalidParam("at most %d keys per request", maxKeysPerRequest)
	}
	for _, k := range req.Keys {
		if err := checkKeyRequest(k.ServerName, k.KeyID); err != nil {
			return nil, err
		}
	}
	keys, err := a.lookup(ctx, req.Keys)
	if err != nil {
		return nil, err
	}
	out := &api.FetchKeysResponse{Keys: []api.PublicKey{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}

type keyName struct{ server, keyID string }

// lookup finds the keys asked for: this server's own from memory, the others through the
// keyring (memory, database, then the server and the notaries).
func (a *API) lookup(ctx context.Context, reqs []api.KeyRequest) (map[keyName]api.PublicKey, error) {
	out := map[keyName]api.PublicKey{}
	remote := map[keyring.Request]int64{}
	own := a.ownKeys()
	for _, r := range reqs {
		if r.ServerName == a.opts.ServerName {
			if k, ok := own[r.KeyID]; ok {
				out[keyName{r.ServerName, r.KeyID}] = k
			}
			continue
		}
		kr := keyring.Request{ServerName: r.ServerName, KeyID: signing.KeyID(r.KeyID)}
		remote[kr] = max(remote[kr], r.MinimumValidUntilTS)
	}
	if len(remote) == 0 {
		return out, nil
	}
	found, err := a.ring.Keys(ctx, remote)
	if err != nil {
		return nil, err
	}
	for r, k := range found {
		out[keyName{r.ServerName, string(r.KeyID)}] = api.PublicKey{ServerName: k.ServerName, KeyID: string(k.KeyID),
			Key: signing.EncodeBase64(k.Key), ValidUntilTS: k.ValidUntilTS, Expired: k.Expired}
	}
	return out, nil
}
