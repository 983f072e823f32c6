// Package internal is the keyserver's direct implementation of api.KeyServerAPI (the
// monolith's; the polylith's axon-key-server serves it over keyserver/inthttp): local
// devices' device keys, one-time keys and fallback keys, checked on upload and kept in
// keyserver/storage.
package internal

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/writepos"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
	"github.com/axon-matrix/axon/matrix"
)

// KeyServer implements api.KeyServerAPI on the keyserver's database.
type KeyServer struct {
	db         *storage.Database
	serverName string
	keyCounts  countCache
	outbox     eventlog.Outbox // topic 7 (keychanges.go); nil: nothing staged
	// remote asks other servers for their users' keys (arrow 20, remotekeys.go); nil:
	// they are failures.
	remote fsapi.RemoteKeysAPI
	// writes: where each user's newest topic 7 changes landed (writepos.go).
	writes *writepos.Tracker
	// rooms and cache: the cache of remote users' keys (remotecache.go); nil: no cache.
	rooms SharedRoomsAPI
	cache *remoteCache
}

var _ api.KeyServerAPI = (*KeyServer)(nil)

// New returns the keyserver of serverName's local users on db.
func New(db *storage.Database, serverName string) *KeyServer {
	k := &KeyServer{db: db, serverName: serverName}
	k.writes = k.newWritesTracker()
	return k
}

// noFederation is the failure of another server's users when the keyserver has no way to
// ask other servers (no SetRemoteKeys).
var noFederation = json.RawMessage(`{"status":503,"message":"keys of other servers' users need federation, which this key server is not connected to"}`)

func (k *KeyServer) checkDevice(userID, deviceID string) error {
	if server, ok := matrix.ServerNameOf(userID); !ok || server != k.serverName || deviceID == "" {
		return httputil.InvalidParam("keys can be uploaded for this server's devices only")
	}
	return nil
}

// UploadKeys implements api.KeyServerAPI: every key is checked before anything is stored.
func (k *KeyServer) UploadKeys(ctx context.Context, req *api.UploadKeysRequest) (*api.UploadKeysResponse, error) {
	if err := k.checkDevice(req.UserID, req.DeviceID); err != nil {
		return nil, err
	}
	u := &storage.Upload{UserID: req.UserID, DeviceID: req.DeviceID}
	var edKey string
	if len(req.DeviceKeys) > 0 && string(req.DeviceKeys) != "null" {
		dk, err := parseDeviceKeys(req)
		if err != nil {
			return nil, err
		}
		u.DeviceKeys, edKey = dk, dk.Ed25519
	}
	if edKey == "" && len(req.OneTimeKeys)+len(req.FallbackKeys) > 0 {
		var err error
		if edKey, err = k.db.DeviceEd25519(ctx, req.UserID, req.DeviceID); err != nil {
			return nil, err
		}
	}
	for _, id := range sortedKeys(req.OneTimeKeys) {
		key, err := parseKey("one_time_keys", req, id, req.OneTimeKeys[id], edKey)
		if err != nil {
			return nil, err
		}
		u.OneTimeKeys = append(u.OneTimeKeys, key)
	}
	seen := map[string]bool{}
	for _, id := range sortedKeys(req.FallbackKeys) {
		key, err := parseKey("fallback_keys", req, id, req.FallbackKeys[id], edKey)
		if err != nil {
			return nil, err
		}
		if seen[key.Algorithm] {
			return nil, httputil.InvalidParam("fallback_keys: more than one %s key", key.Algorithm)
		}
		seen[key.Algorithm] = true
		u.FallbackKeys = append(u.FallbackKeys, key)
	}
	err := k.tracked(ctx, func(ctx context.Context) error { return k.db.StoreUpload(ctx, u) })
	k.keyCounts.forget(req.UserID, req.DeviceID) // after the upload's commit (or its failure)
	if u.DeviceKeys != nil {
		k.kick()
	}
	if err != nil {
		var ke *storage.KeyExistsError
		if errors.As(err, &ke) {
			return nil, httputil.InvalidParam("%v", ke)
		}
		return nil, err
	}
	counts, err := k.counts(ctx, req.UserID, req.DeviceID)
	if err != nil {
		return nil, err
	}
	return &api.UploadKeysResponse{OneTimeKeyCounts: counts}, nil
}

// counts are the device's one-time key counts with signed_curve25519 always present, as
// clients read a missing count as "unknown" rather than "none left".
func (k *KeyServer) counts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	counts, err := k.db.OneTimeKeyCounts(ctx, userID, deviceID)
	if err != nil {
		return nil, err
	}
	if _, ok := counts[api.AlgorithmSignedCurve25519]; !ok {
		counts[api.AlgorithmSignedCurve25519] = 0
	}
	return counts, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// localUser checks a user ID of a query or claim (field names the request's map for the
// error): true for this server's users; for another server's users it returns false and
// their server, recorded in failures when there is no way to ask it (no SetRemoteKeys);
// a malformed ID is M_INVALID_PARAM.
func (k *KeyServer) localUser(field, userID string, failures map[string]json.RawMessage) (bool, string, error) {
	server, ok := matrix.ServerNameOf(userID)
	if !ok || !matrix.ValidUserID(userID) {
		return false, "", httputil.InvalidParam("%s: %q is not a user ID", field, userID)
	}
	if server != k.serverName {
		if k.remote == nil {
			failures[server] = noFederation
			return false, "", nil
		}
		return false, server, nil
	}
	return true, "", nil
}

// QueryKeys implements api.KeyServerAPI: every asked local user is in the answer (with no
// devices when none has keys), with their cross-signing keys (crosssigning.go); other
// servers' users are failures of their server.
func (k *KeyServer) QueryKeys(ctx context.Context, req *api.QueryKeysRequest) (*api.QueryKeysResponse, error) {
	resp := &api.QueryKeysResponse{Failures: map[string]json.RawMessage{}, DeviceKeys: map[string]map[string]json.RawMessage{},
		MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{}, UserSigningKeys: map[string]json.RawMessage{}}
	local := map[string][]string{}
	remote := map[string]map[string][]string{} // server → user → devices (arrow 20)
	for _, userID := range sortedKeys(req.DeviceKeys) {
		if ok, server, err := k.localUser("device_keys", userID, resp.Failures); !ok {
			if err != nil {
				return nil, err
			}
			if server != "" {
				if remote[server] == nil {
					remote[server] = map[string][]string{}
				}
				remote[server][userID] = req.DeviceKeys[userID]
			}
			continue
		}
		local[userID] = req.DeviceKeys[userID]
	}
	// One read for every local user: device keys, cross-signing keys and signatures.
	keys, err := k.db.KeysOf(ctx, local)
	if err != nil {
		return nil, err
	}
	for userID := range local {
		devs := map[string]json.RawMessage{}
		for id, js := range keys.DeviceKeys[userID] {
			devs[id] = js
		}
		resp.DeviceKeys[userID] = devs
	}
	addCrossSigning(req.Requester, keys, resp)
	var toCache []string
	if len(remote) > 0 && k.caching() {
		if toCache, err = k.answerFromCache(ctx, remote, resp); err != nil {
			return nil, err
		}
	}
	if len(remote) > 0 {
		k.queryRemote(ctx, remote, req.TimeoutMS, resp)
	}
	for _, u := range toCache {
		k.startResync(u)
	}
	return resp, nil
}

// ClaimKeys implements api.KeyServerAPI. A device with neither a one-time key nor a
// fallback key of the asked algorithm is left out of the answer, as the spec says.
func (k *KeyServer) ClaimKeys(ctx context.Context, req *api.ClaimKeysRequest) (*api.ClaimKeysResponse, error) {
	resp := &api.ClaimKeysResponse{Failures: map[string]json.RawMessage{},
		OneTimeKeys: map[string]map[string]map[string]json.RawMessage{}}
	remote := map[string]map[string]map[string]string{} // server → user → device → algorithm (arrow 20)
	for _, userID := range sortedKeys(req.OneTimeKeys) {
		devices := req.OneTimeKeys[userID]
		for _, deviceID := range sortedKeys(devices) {
			if devices[deviceID] == "" {
				return nil, httputil.InvalidParam("one_time_keys: no algorithm for %s %s", userID, deviceID)
			}
		}
		if local, server, err := k.localUser("one_time_keys", userID, resp.Failures); !local {
			if err != nil {
				return nil, err
			}
			if server != "" {
				if remote[server] == nil {
					remote[server] = map[string]map[string]string{}
				}
				remote[server][userID] = devices
			}
			continue
		}
		for _, deviceID := range sortedKeys(devices) {
			alg := devices[deviceID]
			key, ok, err := k.db.Claim(ctx, userID, deviceID, alg)
			k.keyCounts.forget(userID, deviceID) // after the claim's commit (or its failure)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if resp.OneTimeKeys[userID] == nil {
				resp.OneTimeKeys[userID] = map[string]map[string]json.RawMessage{}
			}
			resp.OneTimeKeys[userID][deviceID] = map[string]json.RawMessage{key.KeyID: key.JSON}
		}
	}
	if len(remote) > 0 {
		k.claimRemote(ctx, remote, req.TimeoutMS, resp)
	}
	return resp, nil
}

// QueryKeyCounts implements api.KeyServerAPI.
// The answer usually comes from memory (countcache.go); callers must not modify it.
func (k *KeyServer) QueryKeyCounts(ctx context.Context, req *api.QueryKeyCountsRequest) (*api.QueryKeyCountsResponse, error) {
	cached, gen := k.keyCounts.get(req.UserID, req.DeviceID)
	if cached != nil {
		return cached, nil
	}
	counts, unused, err := k.db.KeyCounts(ctx, req.UserID, req.DeviceID)
	if err != nil {
		return nil, err
	}
	if _, ok := counts[api.AlgorithmSignedCurve25519]; !ok {
		counts[api.AlgorithmSignedCurve25519] = 0
	}
	resp := &api.QueryKeyCountsResponse{OneTimeKeyCounts: counts, UnusedFallbackKeyTypes: unused}
	k.keyCounts.put(req.UserID, req.DeviceID, resp, gen)
	return resp, nil
}

// DeleteDeviceKeys implements api.KeyServerAPI.
func (k *KeyServer) DeleteDeviceKeys(ctx context.Context, req *api.DeleteDeviceKeysRequest) error {
	defer k.kick()
	if req.All {
		defer k.keyCounts.forget(req.UserID)
		return k.tracked(ctx, func(ctx context.Context) error { return k.db.DeleteUser(ctx, req.UserID) })
	}
	defer k.keyCounts.forget(req.UserID, req.DeviceIDs...)
	return k.tracked(ctx, func(ctx context.Context) error { return k.db.DeleteDevices(ctx, req.UserID, req.DeviceIDs) })
}
