// Package internal is the direct implementation of serverkeyapi/api.ServerKeyAPI: this
// server's keys (ownkeys.go), other servers' keys through matrix/federation/keyring with
// the database as its store (fetch.go), the notary (notary.go) and JSON signature checks
// (verify.go). Arrows 11–13 end here.
package internal

import (
	"context"
	"crypto/ed25519"
	"sync"
	"time"

	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/federation/keyring"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
	"github.com/axon-matrix/axon/serverkeyapi/storage"
)

// Notary is a notary server with its pinned keys (server_key_api.notaries).
type Notary struct {
	ServerName string
	Keys       map[signing.KeyID]ed25519.PublicKey
}

// Options configure the serverkeyapi.
type Options struct {
	// ServerName is global.server_name; Key the signing key (global.private_key_path).
	ServerName string
	Key        signing.SigningKey
	// ValidityPeriod is server_key_api.key_validity_period (24h when 0).
	ValidityPeriod time.Duration
	// OldKeys are server_key_api.old_signing_keys, published with the replaced keys the
	// database recorded (an entry here wins for the same key ID).
	OldKeys []storage.OwnKey
	// Client fetches other servers' keys (direct and notary requests). Its transport
	// decides which destinations are reachable (federation.PublicDialer).
	Client *federation.Client
	// Notaries are asked, in order, after the server itself.
	Notaries []Notary
	// MinFetchInterval: a server's keys are not fetched again sooner than this (10s).
	MinFetchInterval time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// API implements api.ServerKeyAPI.
type API struct {
	db       *storage.Database
	opts     Options
	ring     *keyring.KeyRing
	fetchers []keyring.Fetcher
	oldKeys  []storage.OwnKey

	mu          sync.Mutex
	notaryFetch map[string]time.Time // last notary-driven refresh per server
}

var _ api.ServerKeyAPI = (*API)(nil)

// New records the current signing key in db (marking a key it replaces as old, published
// from then on in old_verify_keys) and returns the serverkeyapi.
func New(ctx context.Context, db *storage.Database, opts Options) (*API, error) {
	if opts.ValidityPeriod == 0 {
		opts.ValidityPeriod = 24 * time.Hour
	}
	if opts.MinFetchInterval == 0 {
		opts.MinFetchInterval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	recorded, err := db.RecordCurrentKey(ctx, string(opts.Key.ID), opts.Key.Public(), opts.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	a := &API{db: db, opts: opts, notaryFetch: map[string]time.Time{}}
	a.oldKeys = mergeOldKeys(recorded, opts.OldKeys, string(opts.Key.ID))
	a.fetchers = append(a.fetchers, recordingFetcher{keyring.DirectFetcher{Client: opts.Client}, db})
	for _, n := range opts.Notaries {
		a.fetchers = append(a.fetchers, recordingFetcher{keyring.NotaryFetcher{Client: opts.Client, ServerName: n.ServerName, Keys: n.Keys}, db})
	}
	a.ring = keyring.New(keyring.Options{Store: db, MinFetchInterval: opts.MinFetchInterval, Now: opts.Now}, a.fetchers...)
	return a, nil
}

// mergeOldKeys joins the replaced keys the database recorded with the configured ones
// (configured wins for one key ID), leaving out the current key.
func mergeOldKeys(recorded, configured []storage.OwnKey, current string) []storage.OwnKey {
	byID := map[string]int{}
	var out []storage.OwnKey
	for _, list := range [][]storage.OwnKey{recorded, configured} {
		for _, k := range list {
			if k.KeyID == current {
				continue
			}
			if i, ok := byID[k.KeyID]; ok {
				out[i] = k
				continue
			}
			byID[k.KeyID] = len(out)
			out = append(out, k)
		}
	}
	return out
}

func (a *API) nowMS() int64 { return a.opts.Now().UnixMilli() }

// recordingFetcher keeps every verified response its fetcher returns in the database, so
// the notary can pass the servers' own signed responses on.
type recordingFetcher struct {
	keyring.Fetcher
	db *storage.Database
}

// FetchKeys implements keyring.Fetcher.
func (f recordingFetcher) FetchKeys(ctx context.Context, servers map[string]keyring.ServerRequest) ([]*federation.ServerKeys, error) {
	resps, err := f.Fetcher.FetchKeys(ctx, servers)
	for _, r := range resps {
		ids := make([]string, 0, len(r.VerifyKeys)+len(r.OldVerifyKeys))
		for id := range r.VerifyKeys {
			ids = append(ids, string(id))
		}
		for id := range r.OldVerifyKeys {
			ids = append(ids, string(id))
		}
		// A failure loses only the notary's copy; the keys still reach the keyring.
		_ = f.db.StoreResponse(ctx, r.ServerName, ids, r.ValidUntilTS, r.Raw)
	}
	return resps, err
}
