package keyring

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

// DirectFetcher asks each server for its own keys (GET /_matrix/key/v2/server), in
// parallel. federation.Client.GetServerKeys checks that the answer is for that server and
// self-signed.
type DirectFetcher struct {
	Client *federation.Client
}

// FetchKeys implements Fetcher.
func (f DirectFetcher) FetchKeys(ctx context.Context, servers map[string]ServerRequest) ([]*federation.ServerKeys, error) {
	var (
		mu   sync.Mutex
		out  []*federation.ServerKeys
		errs []error
		wg   sync.WaitGroup
	)
	for server := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := f.Client.GetServerKeys(ctx, server)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", server, err))
				return
			}
			out = append(out, k)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// NotaryFetcher asks a notary server for other servers' keys (POST /_matrix/key/v2/query).
// Every answer must carry the origin server's own valid signature and the notary's
// signature by one of the notary's pinned keys.
type NotaryFetcher struct {
	Client *federation.Client
	// ServerName is the notary's server name.
	ServerName string
	// Keys are the notary's public keys, pinned in configuration (as Synapse's
	// trusted_key_servers verify_keys).
	Keys map[signing.KeyID]ed25519.PublicKey
}

// FetchKeys implements Fetcher.
func (f NotaryFetcher) FetchKeys(ctx context.Context, servers map[string]ServerRequest) ([]*federation.ServerKeys, error) {
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("keyring: notary %s has no pinned keys", f.ServerName)
	}
	req := federation.KeyQueryRequest{ServerKeys: map[string]map[signing.KeyID]federation.KeyCriteria{}}
	for server, sr := range servers {
		ids := map[signing.KeyID]federation.KeyCriteria{}
		for _, id := range sr.KeyIDs {
			ids[id] = federation.KeyCriteria{MinimumValidUntilTS: sr.MinimumValidUntilTS}
		}
		req.ServerKeys[server] = ids
	}
	resps, err := f.Client.QueryServerKeys(ctx, f.ServerName, req)
	if err != nil {
		return nil, err
	}
	var out []*federation.ServerKeys
	var errs []error
	for _, k := range resps {
		if _, asked := servers[k.ServerName]; !asked {
			continue
		}
		if err := k.VerifySelfSigned(); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := k.VerifySignedBy(f.ServerName, f.Keys); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, k)
	}
	return out, errors.Join(errs...)
}
