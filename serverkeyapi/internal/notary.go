package internal

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation/keyring"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
	"github.com/axon-matrix/axon/serverkeyapi/storage"
)

// maxNotaryServers bounds the servers of one notary query: each may cost a fetch.
const maxNotaryServers = 100

// QueryKeys implements api.ServerKeyAPI: the notary (server-server spec "Querying Keys
// Through Another Server"). For each server it answers the servers' own signed responses
// covering the keys asked for (all it has when none are named), first refreshing them
// when none is valid until minimum_valid_until_ts (default: now), countersigned by this
// server. A server that cannot be reached gets what is stored, possibly nothing.
func (a *API) QueryKeys(ctx context.Context, req *api.QueryKeysRequest) (*api.QueryKeysResponse, error) {
	if len(req.ServerKeys) > maxNotaryServers {
		return nil, httputil.InvalidParam("at most %d servers per query", maxNotaryServers)
	}
	if req.MinimumValidUntilTS < 0 {
		return nil, httputil.InvalidParam("minimum_valid_until_ts must not be negative")
	}
	now := a.nowMS()
	servers := make([]string, 0, len(req.ServerKeys))
	for s, crit := range req.ServerKeys {
		if err := matrix.ValidateServerName(s); err != nil {
			return nil, httputil.InvalidParam("server name %q: %v", s, err)
		}
		for id, c := range crit {
			if err := checkKeyRequest(s, id); err != nil {
				return nil, err
			}
			if c.MinimumValidUntilTS < 0 {
				return nil, httputil.InvalidParam("minimum_valid_until_ts must not be negative")
			}
		}
		servers = append(servers, s)
	}
	slices.Sort(servers)
	out := &api.QueryKeysResponse{ServerKeys: []json.RawMessage{}}
	for _, s := range servers {
		crit := req.ServerKeys[s]
		if s == a.opts.ServerName {
			own, err := a.ServerKeys(ctx)
			if err != nil {
				return nil, err
			}
			out.ServerKeys = append(out.ServerKeys, own)
			continue
		}
		ids := make([]string, 0, len(crit))
		minTS := int64(0)
		if len(crit) == 0 {
			minTS = req.MinimumValidUntilTS
		}
		for id, c := range crit {
			ids = append(ids, id)
			minTS = max(minTS, c.MinimumValidUntilTS)
		}
		slices.Sort(ids)
		if minTS == 0 {
			minTS = now
		}
		resps, err := a.responses(ctx, s, ids, minTS)
		if err != nil {
			return nil, err
		}
		for _, raw := range resps {
			signed, err := signing.SignJSON(a.opts.ServerName, a.opts.Key.ID, a.opts.Key.Private, raw)
			if err != nil {
				continue // a stored response that no longer parses: leave it out
			}
			out.ServerKeys = append(out.ServerKeys, signed)
		}
	}
	return out, nil
}

// responses returns server's stored responses for ids (all when empty), refreshed first
// when they do not satisfy minTS, each distinct response once.
func (a *API) responses(ctx context.Context, server string, ids []string, minTS int64) ([][]byte, error) {
	stored, err := a.db.Responses(ctx, server, ids)
	if err != nil {
		return nil, err
	}
	if !satisfied(stored, ids, minTS) && a.mayRefresh(server) {
		a.refresh(ctx, server, ids, minTS)
		if stored, err = a.db.Responses(ctx, server, ids); err != nil {
			return nil, err
		}
	}
	var out [][]byte
	seen := map[string]bool{}
	for _, r := range stored {
		if !seen[string(r.Raw)] {
			seen[string(r.Raw)] = true
			out = append(out, r.Raw)
		}
	}
	return out, nil
}

// satisfied: every key asked for (or, with none named, some key) has a stored response
// valid until minTS.
func satisfied(stored []storage.StoredResponse, ids []string, minTS int64) bool {
	good := map[string]bool{}
	for _, r := range stored {
		if r.ValidUntilTS >= minTS {
			good[r.KeyID] = true
		}
	}
	if len(ids) == 0 {
		return len(good) > 0
	}
	for _, id := range ids {
		if !good[id] {
			return false
		}
	}
	return true
}

// mayRefresh rate-limits notary-driven fetches per server (MinFetchInterval), so that
// anyone asking the public notary endpoint cannot make this server hammer another one.
func (a *API) mayRefresh(server string) bool {
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if last, ok := a.notaryFetch[server]; ok && now.Sub(last) < a.opts.MinFetchInterval {
		return false
	}
	a.notaryFetch[server] = now
	if len(a.notaryFetch) > 10000 { // forget old entries rather than grow without bound
		for s, t := range a.notaryFetch {
			if now.Sub(t) >= a.opts.MinFetchInterval {
				delete(a.notaryFetch, s)
			}
		}
	}
	return true
}

// refresh asks the fetchers in order (the server, then the notaries) until one returns a
// response valid until minTS; the recording fetchers store what they get, and the keys go
// to the keyring too. Failures only mean nothing new is stored.
func (a *API) refresh(ctx context.Context, server string, ids []string, minTS int64) {
	sr := keyring.ServerRequest{MinimumValidUntilTS: minTS}
	for _, id := range ids {
		sr.KeyIDs = append(sr.KeyIDs, signing.KeyID(id))
	}
	for _, f := range a.fetchers {
		resps, _ := f.FetchKeys(ctx, map[string]keyring.ServerRequest{server: sr})
		done := false
		for _, r := range resps {
			if r.ServerName != server {
				continue
			}
			_ = a.ring.Add(ctx, r)
			done = done || r.ValidUntilTS >= minTS
		}
		if done || ctx.Err() != nil {
			return
		}
	}
}
