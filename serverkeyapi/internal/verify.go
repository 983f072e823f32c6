package internal

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
)

// VerifyJSON implements api.ServerKeyAPI: one signature of the object's server, by a key
// valid at AtTS (now when 0; a replaced key only for a time before it expired), is enough.
// The keys of all objects are looked up in one batch.
func (a *API) VerifyJSON(ctx context.Context, req *api.VerifyJSONRequest) (*api.VerifyJSONResponse, error) {
	if len(req.Objects) > maxKeysPerRequest {
		return nil, httputil.InvalidParam("at most %d objects per request", maxKeysPerRequest)
	}
	now := a.nowMS()
	results := make([]string, len(req.Objects))
	ids := make([][]signing.KeyID, len(req.Objects))
	var reqs []api.KeyRequest
	for i, o := range req.Objects {
		if err := matrix.ValidateServerName(o.ServerName); err != nil {
			results[i] = fmt.Sprintf("server name %q: %v", o.ServerName, err)
			continue
		}
		kids, err := signing.SignatureKeyIDs(o.ServerName, o.Object)
		if err != nil {
			results[i] = fmt.Sprintf("not a signed JSON object: %v", err)
			continue
		}
		if len(kids) == 0 {
			results[i] = fmt.Sprintf("no ed25519 signature of %s", o.ServerName)
			continue
		}
		ids[i] = kids
		at := atOrNow(o.AtTS, now)
		for _, id := range kids {
			reqs = append(reqs, api.KeyRequest{ServerName: o.ServerName, KeyID: string(id), MinimumValidUntilTS: at})
		}
	}
	keys, err := a.lookup(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for i, o := range req.Objects {
		if results[i] != "" {
			continue
		}
		results[i] = verifyOne(o, ids[i], keys, atOrNow(o.AtTS, now))
	}
	return &api.VerifyJSONResponse{Results: results}, nil
}

func atOrNow(at, now int64) int64 {
	if at == 0 {
		return now
	}
	return at
}

// verifyOne returns "" when one of the object's signatures verifies with a key valid at
// at, else the last reason none did.
func verifyOne(o api.SignedObject, ids []signing.KeyID, keys map[keyName]api.PublicKey, at int64) string {
	why := "no key found"
	for _, id := range ids {
		k, ok := keys[keyName{o.ServerName, string(id)}]
		if !ok {
			why = fmt.Sprintf("key %s of %s not found", id, o.ServerName)
			continue
		}
		// A current key is good until its validity; a replaced one only strictly before
		// it expired.
		if k.ValidUntilTS < at || (k.Expired && k.ValidUntilTS == at) {
			why = fmt.Sprintf("key %s of %s is valid until %d, not at %d", id, o.ServerName, k.ValidUntilTS, at)
			continue
		}
		pub, err := signing.DecodeBase64(k.Key)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			why = fmt.Sprintf("key %s of %s is not an ed25519 key", id, o.ServerName)
			continue
		}
		if err := signing.VerifyJSON(o.ServerName, id, pub, o.Object); err != nil {
			why = err.Error()
			continue
		}
		return ""
	}
	return why
}
