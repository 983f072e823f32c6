package internal

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
	"github.com/axon-matrix/axon/matrix"
)

// The cache of other servers' users' keys. A remote user who shares a room with this
// server (arrow 22, keyserver → roomserver: the user is joined to a room this server
// holds) is cached after a /keys/query asked for them: their whole device list is
// fetched in the background from their server's /user/devices (through the
// federationsender, arrow 20) with its stream_id, every key checked as for a query. From
// then on /keys/query answers from the cache. Their server's m.device_list_update EDUs
// keep it fresh: an update whose prev_id names the cached stream_id is applied, any other
// newer one drops the cached devices and fetches /user/devices again. m.signing_key_update
// EDUs replace the cross-signing keys. A cached user found sharing no room any more is
// forgotten (their server stops sending updates) and asked again on each query.

// SharedRoomsAPI is the part of the roomserver the cache asks (arrow 22): a remote user's
// joined rooms on this server.
type SharedRoomsAPI interface {
	QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error)
}

// remoteCache is the keyserver's in-memory part of the cache: the answers of arrow 22 for
// a while, and the resyncs in flight.
type remoteCache struct {
	mu       sync.Mutex
	shares   map[string]sharesAnswer
	inFlight map[string]bool
	wg       sync.WaitGroup
	slots    chan struct{}
}

type sharesAnswer struct {
	ok bool
	at time.Time
}

const (
	// sharesTTL is how long an answer of arrow 22 is used.
	sharesTTL = 30 * time.Second
	// maxSharesMemo bounds the remembered answers (forgotten all at once past it).
	maxSharesMemo = 10000
	// resyncTimeout bounds one /user/devices fetch.
	resyncTimeout = 30 * time.Second
	// maxResyncs is the most /user/devices fetches at once.
	maxResyncs = 8
)

// SetSharedRooms turns the cache of remote users' keys on (arrow 22). Without it (or
// without SetRemoteKeys) every /keys/query for a remote user asks their server.
func (k *KeyServer) SetSharedRooms(r SharedRoomsAPI) {
	k.rooms = r
	k.cache = &remoteCache{shares: map[string]sharesAnswer{}, inFlight: map[string]bool{}, slots: make(chan struct{}, maxResyncs)}
}

func (k *KeyServer) caching() bool { return k.rooms != nil && k.remote != nil }

// sharesRoom says whether userID is joined to a room this server holds (an error is a
// no: the user is then asked over federation, never served a possibly stale cache).
func (k *KeyServer) sharesRoom(ctx context.Context, userID string) bool {
	c := k.cache
	c.mu.Lock()
	a, ok := c.shares[userID]
	c.mu.Unlock()
	if ok && time.Since(a.at) < sharesTTL {
		return a.ok
	}
	rooms, err := k.rooms.QueryRoomsForUser(ctx, userID, []string{"join"})
	if err != nil {
		k.log().WithError(err).WithField("user_id", userID).Warn("keys: the roomserver could not say whether a remote user shares a room")
		return false
	}
	c.mu.Lock()
	if len(c.shares) >= maxSharesMemo {
		c.shares = map[string]sharesAnswer{}
	}
	c.shares[userID] = sharesAnswer{ok: len(rooms) > 0, at: time.Now()}
	c.mu.Unlock()
	return len(rooms) > 0
}

// answerFromCache moves the asked remote users who are cached (and still share a room)
// from remote (server → user → devices) into resp, and returns the users left to ask
// who share a room (to be cached after the query).
func (k *KeyServer) answerFromCache(ctx context.Context, remote map[string]map[string][]string, resp *api.QueryKeysResponse) ([]string, error) {
	var users []string
	for _, us := range remote {
		for u := range us {
			users = append(users, u)
		}
	}
	cached, err := k.db.CachedRemoteKeysOf(ctx, users)
	if err != nil {
		return nil, err
	}
	var toCache []string
	for server, us := range remote {
		for u, wanted := range us {
			c := cached[u]
			shares := k.sharesRoom(ctx, u)
			if c == nil || !shares {
				if c != nil {
					if err := k.db.ForgetRemoteUser(ctx, u); err != nil {
						return nil, err
					}
				}
				if shares {
					toCache = append(toCache, u)
				}
				continue
			}
			devs := map[string]json.RawMessage{}
			for id, js := range c.Devices {
				if len(wanted) == 0 || containsString(wanted, id) {
					devs[id] = js
				}
			}
			resp.DeviceKeys[u] = devs
			if c.MasterKey != nil {
				resp.MasterKeys[u] = c.MasterKey
				if c.SelfSigningKey != nil {
					resp.SelfSigningKeys[u] = c.SelfSigningKey
				}
			}
			delete(us, u)
		}
		if len(us) == 0 {
			delete(remote, server)
		}
	}
	return toCache, nil
}

// startResync fetches userID's device list in the background (once at a time per user,
// at most maxResyncs at once) and caches it.
func (k *KeyServer) startResync(userID string) {
	c := k.cache
	c.mu.Lock()
	if c.inFlight[userID] {
		c.mu.Unlock()
		return
	}
	c.inFlight[userID] = true
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.inFlight, userID)
			c.mu.Unlock()
		}()
		c.slots <- struct{}{}
		defer func() { <-c.slots }()
		ctx, cancel := context.WithTimeout(context.Background(), resyncTimeout)
		defer cancel()
		if err := k.resync(ctx, userID); err != nil {
			k.log().WithError(err).WithField("user_id", userID).Warn("keys: could not fetch a remote user's device list")
		}
	}()
}

// waitResyncs waits for the resyncs in flight (tests).
func (k *KeyServer) waitResyncs() { k.cache.wg.Wait() }

// resync asks userID's server for their device list (/user/devices) and caches what
// passes the checks of a query's answer.
func (k *KeyServer) resync(ctx context.Context, userID string) error {
	out, err := k.remote.QueryRemoteDevices(ctx, &fsapi.QueryRemoteDevicesRequest{UserID: userID})
	if err != nil {
		return err
	}
	server, _ := matrix.ServerNameOf(userID)
	l := storage.RemoteDeviceList{UserID: userID, StreamID: out.StreamID, Devices: map[string][]byte{}}
	if out.UserID != userID {
		k.dropRemote(server, userID, "user_id", nil)
		return nil
	}
	for id, raw := range out.Devices {
		dk, err := parseDeviceKeys(&api.UploadKeysRequest{UserID: userID, DeviceID: id, DeviceKeys: raw})
		if err != nil {
			k.dropRemote(server, userID, id, err)
			continue
		}
		l.Devices[id] = dk.JSON
	}
	if len(out.MasterKey) > 0 {
		mk, err := parseCrossSigningKey("master_key", userID, api.UsageMaster, out.MasterKey)
		if err != nil {
			k.dropRemote(server, userID, "master_key", err)
		} else {
			l.MasterKey = mk.JSON
			if len(out.SelfSigningKey) > 0 {
				sk, err := parseCrossSigningKey("self_signing_key", userID, api.UsageSelfSigning, out.SelfSigningKey)
				if err == nil {
					err = verifiedBy("self_signing_key", userID, mk, sk.JSON)
				}
				if err != nil {
					k.dropRemote(server, userID, "self_signing_key", err)
				} else {
					l.SelfSigningKey = sk.JSON
				}
			}
		}
	}
	return k.db.StoreRemoteDeviceList(ctx, l)
}

// applyToCache keeps the cache fresh with one checked m.device_list_update: applied when
// it follows the cached stream_id, else (a gap, or keys that fail the checks) the user's
// devices are fetched again.
func (k *KeyServer) applyToCache(ctx context.Context, u api.DeviceListUpdate) error {
	var keys []byte
	if !u.Deleted && len(u.Keys) > 0 && string(u.Keys) != "null" {
		if dk, err := parseDeviceKeys(&api.UploadKeysRequest{UserID: u.UserID, DeviceID: u.DeviceID, DeviceKeys: u.Keys}); err == nil {
			keys = dk.JSON
		}
	}
	out, err := k.db.ApplyRemoteDeviceUpdate(ctx, u.UserID, u.DeviceID, u.StreamID, u.PrevID, u.Deleted, keys)
	if err != nil {
		return err
	}
	if out == storage.RemoteGap {
		k.startResync(u.UserID)
	}
	return nil
}

// inputSigningKeyUpdate checks and keeps one m.signing_key_update of origin: a master key
// must name the user; a self-signing key must carry the valid signature of the new master
// key, or of the stored one. What fails is dropped (logged).
func (k *KeyServer) inputSigningKeyUpdate(ctx context.Context, origin string, u api.SigningKeyUpdate) error {
	server, ok := matrix.ServerNameOf(u.UserID)
	present := func(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }
	if !ok || !matrix.ValidUserID(u.UserID) || server != origin || server == k.serverName || (!present(u.MasterKey) && !present(u.SelfSigningKey)) {
		k.log().WithField("origin", origin).WithField("user_id", u.UserID).Info("dropping an m.signing_key_update")
		return nil
	}
	var master *parsedKey
	var masterJSON, sskJSON []byte
	if present(u.MasterKey) {
		mk, err := parseCrossSigningKey("master_key", u.UserID, api.UsageMaster, u.MasterKey)
		if err != nil {
			k.dropRemote(origin, u.UserID, "master_key", err)
			return nil
		}
		master, masterJSON = mk, mk.JSON
	} else {
		stored, err := k.db.RemoteMasterKey(ctx, u.UserID)
		if err != nil {
			return err
		}
		if stored != nil {
			master, _ = parseCrossSigningKey("master_key", u.UserID, api.UsageMaster, stored)
		}
	}
	if present(u.SelfSigningKey) {
		sk, err := parseCrossSigningKey("self_signing_key", u.UserID, api.UsageSelfSigning, u.SelfSigningKey)
		if err == nil && master == nil {
			err = errInvalidSignature("self_signing_key: no master key of %s is known", u.UserID)
		}
		if err == nil {
			err = verifiedBy("self_signing_key", u.UserID, master, sk.JSON)
		}
		if err != nil {
			k.dropRemote(origin, u.UserID, "self_signing_key", err)
			if masterJSON == nil {
				return nil
			}
		} else {
			sskJSON = sk.JSON
		}
	}
	return k.tracked(ctx, func(ctx context.Context) error {
		return k.db.StoreRemoteSigningKeys(ctx, u.UserID, masterJSON, sskJSON)
	})
}
