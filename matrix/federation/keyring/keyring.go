// Package keyring fetches, caches and checks other servers' signing keys (server-server
// spec "Retrieving server keys"): directly from /_matrix/key/v2/server or through notary
// servers, honouring valid_until_ts (at most 7 days ahead) and old_verify_keys. It is the
// library half of the serverkeyapi: event signature checks (arrows 11–13 of
// ARCHITECTURE.md §2) and X-Matrix request checks in the federationapi go through it.
package keyring

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
)

// MaxKeyValidity caps how far ahead a key's valid_until_ts is believed: the spec says to use
// the lesser of valid_until_ts and 7 days into the future.
const MaxKeyValidity = 7 * 24 * time.Hour

// Request names one key of one server.
type Request struct {
	ServerName string
	KeyID      signing.KeyID
}

// PublicKey is one server key as the ring knows it.
type PublicKey struct {
	ServerName string
	KeyID      signing.KeyID
	Key        ed25519.PublicKey
	// ValidUntilTS (ms): for a current key, the lesser of the response's valid_until_ts and
	// the fetch time + 7 days; for an old key, its expired_ts.
	ValidUntilTS int64
	// Expired is true for a key from old_verify_keys: it checks events sent before
	// ValidUntilTS, never requests.
	Expired bool
}

// Store keeps keys across restarts; the serverkeyapi plugs its database in. Keys handed
// to StoreKeys have been verified.
type Store interface {
	// LoadKeys returns the stored keys among reqs (missing ones are simply absent).
	LoadKeys(ctx context.Context, reqs []Request) (map[Request]PublicKey, error)
	// StoreKeys inserts or replaces keys.
	StoreKeys(ctx context.Context, keys []PublicKey) error
}

// ServerRequest is what a Fetcher is asked for one server.
type ServerRequest struct {
	KeyIDs []signing.KeyID
	// MinimumValidUntilTS asks for keys valid until at least then (0: no wish).
	MinimumValidUntilTS int64
}

// Fetcher gets key responses from somewhere. It returns only responses whose signatures it
// has checked (the server's own, and a notary's where one is involved); servers it could not
// get are left out. An error means the fetch failed as a whole.
type Fetcher interface {
	FetchKeys(ctx context.Context, servers map[string]ServerRequest) ([]*federation.ServerKeys, error)
}

// Options tunes a KeyRing.
type Options struct {
	// Store persists keys; nil keeps them in memory only.
	Store Store
	// MinFetchInterval: after fetching a server's keys, unsatisfied lookups for that
	// server do not fetch again before this much time (10s), so a flood of events signed by
	// an unknown key does not flood the server (spec: "Requesting servers should limit how
	// frequently they query").
	MinFetchInterval time.Duration
	// FetchTimeout bounds one round of fetches (30s).
	FetchTimeout time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// KeyRing is an in-memory cache of verified server keys in front of an optional Store and a
// list of Fetchers, tried in order. Concurrent lookups of the same server share one fetch.
// It is safe for concurrent use.
type KeyRing struct {
	fetchers []Fetcher
	opts     Options

	mu        sync.Mutex
	keys      map[Request]PublicKey
	inflight  map[string]chan struct{}
	lastFetch map[string]time.Time
	lastErr   map[string]error
}

// New builds a KeyRing that asks the fetchers in order (e.g. a DirectFetcher, then a
// NotaryFetcher).
func New(opts Options, fetchers ...Fetcher) *KeyRing {
	if opts.MinFetchInterval == 0 {
		opts.MinFetchInterval = 10 * time.Second
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &KeyRing{fetchers: fetchers, opts: opts, keys: map[Request]PublicKey{},
		inflight: map[string]chan struct{}{}, lastFetch: map[string]time.Time{}, lastErr: map[string]error{}}
}

func (k *KeyRing) nowMS() int64 { return k.opts.Now().UnixMilli() }

// satisfies says whether a known key answers a lookup that needs validity until minTS (ms;
// 0 for none). An old key never gets better by fetching again.
func satisfies(key PublicKey, ok bool, minTS int64) bool {
	return ok && (key.Expired || minTS == 0 || key.ValidUntilTS >= minTS)
}

// better says whether key a should replace b: the later validity wins, an old-key entry
// wins a tie (it is the server's later word).
func better(a, b PublicKey) bool {
	if a.ValidUntilTS != b.ValidUntilTS {
		return a.ValidUntilTS > b.ValidUntilTS
	}
	return a.Expired && !b.Expired
}

// KeysFromResponse turns a verified key response fetched at fetchedAt into ring entries.
func KeysFromResponse(resp *federation.ServerKeys, fetchedAt time.Time) []PublicKey {
	validUntil := min(resp.ValidUntilTS, fetchedAt.Add(MaxKeyValidity).UnixMilli())
	var out []PublicKey
	for id, vk := range resp.VerifyKeys {
		if id.Algorithm() == signing.AlgorithmEd25519 && len(vk.Key) == ed25519.PublicKeySize {
			out = append(out, PublicKey{ServerName: resp.ServerName, KeyID: id, Key: ed25519.PublicKey(vk.Key), ValidUntilTS: validUntil})
		}
	}
	for id, ok := range resp.OldVerifyKeys {
		if id.Algorithm() == signing.AlgorithmEd25519 && len(ok.Key) == ed25519.PublicKeySize {
			out = append(out, PublicKey{ServerName: resp.ServerName, KeyID: id, Key: ed25519.PublicKey(ok.Key), ValidUntilTS: ok.ExpiredTS, Expired: true})
		}
	}
	return out
}

// merge puts keys in the memory cache where they improve on what is there, and returns
// those that did.
func (k *KeyRing) merge(keys []PublicKey) []PublicKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	var changed []PublicKey
	for _, key := range keys {
		r := Request{key.ServerName, key.KeyID}
		if old, ok := k.keys[r]; !ok || better(key, old) {
			k.keys[r] = key
			changed = append(changed, key)
		}
	}
	return changed
}

// Add puts the keys of a response the caller has verified (for example this server's own)
// into the ring and its store.
func (k *KeyRing) Add(ctx context.Context, resp *federation.ServerKeys) error {
	changed := k.merge(KeysFromResponse(resp, k.opts.Now()))
	if k.opts.Store != nil && len(changed) > 0 {
		return k.opts.Store.StoreKeys(ctx, changed)
	}
	return nil
}

// Keys looks up keys, each needing validity until the given timestamp (ms; 0 when the room
// version ignores validity). It answers from memory, then the store, then the fetchers,
// and returns what it found; a key it could not find, or only found expired too early, is
// absent or returned as known (the caller decides). Only a context error or a store
// failure is an error.
func (k *KeyRing) Keys(ctx context.Context, reqs map[Request]int64) (map[Request]PublicKey, error) {
	found := map[Request]PublicKey{}
	missing := func() []Request {
		k.mu.Lock()
		defer k.mu.Unlock()
		var out []Request
		for r, minTS := range reqs {
			key, ok := k.keys[r]
			if ok {
				found[r] = key
			}
			if !satisfies(key, ok, minTS) {
				out = append(out, r)
			}
		}
		return out
	}
	todo := missing()
	if len(todo) == 0 {
		return found, nil
	}
	if k.opts.Store != nil {
		stored, err := k.opts.Store.LoadKeys(ctx, todo)
		if err != nil {
			return nil, fmt.Errorf("keyring: loading keys: %w", err)
		}
		loaded := make([]PublicKey, 0, len(stored))
		for _, key := range stored {
			loaded = append(loaded, key)
		}
		k.merge(loaded)
		if todo = missing(); len(todo) == 0 {
			return found, nil
		}
	}
	for round := 0; round < 2 && len(todo) > 0; round++ {
		if err := k.fetch(ctx, todo, reqs); err != nil {
			return nil, err
		}
		todo = missing()
	}
	return found, nil
}

// fetch asks the fetchers for the servers of todo. A server whose fetch is already running
// is waited for instead; a server fetched less than MinFetchInterval ago is skipped. The
// fetch runs detached from the caller's context (bounded by FetchTimeout), so a caller that
// gives up does not fail the others waiting for the same server.
func (k *KeyRing) fetch(ctx context.Context, todo []Request, reqs map[Request]int64) error {
	now := k.opts.Now()
	servers := map[string]ServerRequest{}
	var wait []chan struct{}
	k.mu.Lock()
	for _, r := range todo {
		if ch, ok := k.inflight[r.ServerName]; ok {
			wait = append(wait, ch)
			continue
		}
		if last, ok := k.lastFetch[r.ServerName]; ok && now.Sub(last) < k.opts.MinFetchInterval {
			continue
		}
		sr := servers[r.ServerName]
		sr.KeyIDs = append(sr.KeyIDs, r.KeyID)
		sr.MinimumValidUntilTS = max(sr.MinimumValidUntilTS, reqs[r])
		servers[r.ServerName] = sr
	}
	if len(servers) > 0 {
		done := make(chan struct{})
		for s := range servers {
			k.inflight[s] = done
		}
		wait = append(wait, done)
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.FetchTimeout)
			defer cancel()
			errs := k.runFetchers(fctx, servers)
			k.mu.Lock()
			for s := range servers {
				delete(k.inflight, s)
				k.lastFetch[s] = k.opts.Now()
				if err, failed := errs[s]; failed {
					k.lastErr[s] = err
				} else {
					delete(k.lastErr, s)
				}
			}
			k.mu.Unlock()
			close(done)
		}()
	}
	k.mu.Unlock()
	for _, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// runFetchers asks each fetcher in turn for the servers the previous ones did not satisfy,
// and returns why each server still unsatisfied failed.
func (k *KeyRing) runFetchers(ctx context.Context, servers map[string]ServerRequest) map[string]error {
	todo := maps.Clone(servers)
	var errs []error
	for _, f := range k.fetchers {
		if len(todo) == 0 || ctx.Err() != nil {
			break
		}
		resps, err := f.FetchKeys(ctx, todo)
		if err != nil {
			errs = append(errs, err)
		}
		fetchedAt := k.opts.Now()
		var keys []PublicKey
		for _, resp := range resps {
			if _, asked := todo[resp.ServerName]; asked {
				keys = append(keys, KeysFromResponse(resp, fetchedAt)...)
			}
		}
		changed := k.merge(keys)
		if k.opts.Store != nil && len(changed) > 0 {
			// A store failure loses only persistence; the keys are verified and cached.
			_ = k.opts.Store.StoreKeys(ctx, changed)
		}
		k.mu.Lock()
		for s, sr := range todo {
			all := true
			for _, id := range sr.KeyIDs {
				key, ok := k.keys[Request{s, id}]
				all = all && satisfies(key, ok, sr.MinimumValidUntilTS)
			}
			if all {
				delete(todo, s)
			}
		}
		k.mu.Unlock()
	}
	out := map[string]error{}
	if len(todo) > 0 {
		err := errors.Join(errs...)
		if err == nil {
			err = errors.New("no fetcher had the keys")
		}
		for s := range todo {
			out[s] = err
		}
	}
	return out
}

// notFound is ErrKeyNotFound with the last fetch failure of the server, if any.
func (k *KeyRing) notFound(server string, keyID signing.KeyID) error {
	k.mu.Lock()
	last := k.lastErr[server]
	k.mu.Unlock()
	if last != nil {
		return fmt.Errorf("%w: %s of %s (last fetch: %v)", ErrKeyNotFound, keyID, server, last)
	}
	return fmt.Errorf("%w: %s of %s", ErrKeyNotFound, keyID, server)
}

// ErrKeyNotFound means no fetcher could supply the key.
var ErrKeyNotFound = errors.New("keyring: key not found")

// RequestKeyLookup returns the lookup X-Matrix verification needs (federation.VerifyRequest):
// a current key of the server, valid now.
func (k *KeyRing) RequestKeyLookup() federation.RequestKeyLookup {
	return func(ctx context.Context, server string, keyID signing.KeyID) (ed25519.PublicKey, error) {
		now := k.nowMS()
		r := Request{server, keyID}
		keys, err := k.Keys(ctx, map[Request]int64{r: now})
		if err != nil {
			return nil, err
		}
		key, ok := keys[r]
		switch {
		case !ok:
			return nil, k.notFound(server, keyID)
		case key.Expired:
			return nil, fmt.Errorf("keyring: %s of %s is an old key", keyID, server)
		case key.ValidUntilTS < now:
			return nil, fmt.Errorf("keyring: %s of %s expired at %d", keyID, server, key.ValidUntilTS)
		}
		return key.Key, nil
	}
}
