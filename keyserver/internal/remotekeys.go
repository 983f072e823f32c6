package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/keyserver/api"
)

// Arrow 20 (keyserver → federationsender; numbered as docs/wiring.md, "Arrows from 14
// on"): /keys/query and /keys/claim for other servers' users. The keyserver groups the
// asked users by server, asks every server at once through the federationsender (which
// holds the signing key and the outbound client) within the request's timeout, and checks
// what comes back: device keys must name the asked user and device and carry the device's
// valid signature, cross-signing keys must name the user and the self-signing key carry
// the master key's signature; a claimed key must be of the asked device and algorithm
// (clients check its signature with the device keys they queried). Whatever fails a
// check is left out (and logged); a server
// that does not answer in time, or fails, is a `failures` entry of its name.

// DefaultRemoteTimeout is the time other servers get when the client names none (the
// spec's default `timeout` of /keys/query and /keys/claim).
const DefaultRemoteTimeout = 10 * time.Second

// SetRemoteKeys makes the keyserver ask other servers for their users' keys through the
// federationsender (arrow 20). Without it other servers' users are failures (503).
func (k *KeyServer) SetRemoteKeys(remote fsapi.RemoteKeysAPI) { k.remote = remote }

// remoteFailure is a failures entry: why a server's users were not answered.
func remoteFailure(err error) json.RawMessage {
	msg := "the server did not answer"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "the server did not answer in time"
	}
	b, _ := json.Marshal(map[string]any{"status": 503, "message": msg})
	return b
}

// remoteTimeout is the time other servers get for a request of timeoutMS milliseconds
// (0: DefaultRemoteTimeout).
func remoteTimeout(timeoutMS int64) time.Duration {
	if timeoutMS <= 0 {
		return DefaultRemoteTimeout
	}
	return time.Duration(timeoutMS) * time.Millisecond
}

// fanOut runs ask for every server at once, within timeoutMS, and returns the servers'
// errors.
func fanOut(ctx context.Context, servers []string, timeoutMS int64, ask func(ctx context.Context, server string) error) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout(timeoutMS))
	defer cancel()
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ask(ctx, s)
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			if err != nil {
				mu.Lock()
				errs[s] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// queryRemote asks every server of remote (server → user ID → device IDs) and adds the
// checked answers to resp.
func (k *KeyServer) queryRemote(ctx context.Context, remote map[string]map[string][]string, timeoutMS int64, resp *api.QueryKeysResponse) {
	var mu sync.Mutex
	errs := fanOut(ctx, sortedKeys(remote), timeoutMS, func(ctx context.Context, server string) error {
		out, err := k.remote.QueryRemoteKeys(ctx, &fsapi.QueryRemoteKeysRequest{Destination: server, DeviceKeys: remote[server]})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		k.addRemoteKeys(server, remote[server], out, resp)
		return nil
	})
	for server, err := range errs {
		k.log().WithError(err).WithField("server", server).Warn("keys/query: another server failed")
		resp.Failures[server] = remoteFailure(err)
	}
}

// addRemoteKeys adds server's answer for asked to resp, each key checked.
func (k *KeyServer) addRemoteKeys(server string, asked map[string][]string, out *fsapi.QueryRemoteKeysResponse, resp *api.QueryKeysResponse) {
	for userID, wanted := range asked {
		devs := map[string]json.RawMessage{}
		for deviceID, raw := range out.DeviceKeys[userID] {
			if len(wanted) > 0 && !containsString(wanted, deviceID) {
				continue
			}
			dk, err := parseDeviceKeys(&api.UploadKeysRequest{UserID: userID, DeviceID: deviceID, DeviceKeys: raw})
			if err != nil {
				k.dropRemote(server, userID, deviceID, err)
				continue
			}
			devs[deviceID] = dk.JSON
		}
		resp.DeviceKeys[userID] = devs
		master, ok := out.MasterKeys[userID]
		if !ok {
			continue
		}
		mk, err := parseCrossSigningKey("master_key", userID, api.UsageMaster, master)
		if err != nil {
			k.dropRemote(server, userID, "master_key", err)
			continue
		}
		resp.MasterKeys[userID] = mk.JSON
		if ssk, ok := out.SelfSigningKeys[userID]; ok {
			sk, err := parseCrossSigningKey("self_signing_key", userID, api.UsageSelfSigning, ssk)
			if err == nil {
				err = verifiedBy("self_signing_key", userID, mk, sk.JSON)
			}
			if err != nil {
				k.dropRemote(server, userID, "self_signing_key", err)
				continue
			}
			resp.SelfSigningKeys[userID] = sk.JSON
		}
	}
}

func (k *KeyServer) log() *logrus.Entry { return logrus.WithField("component", "keyserver") }

func (k *KeyServer) dropRemote(server, userID, what string, err error) {
	k.log().WithError(err).WithField("server", server).WithField("user_id", userID).
		Warn(fmt.Sprintf("dropping %s of another server's answer", what))
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// claimRemote claims keys of every server of remote (server → user ID → device ID →
// algorithm) and adds them to resp: only keys of asked devices and algorithms, one per
// device.
func (k *KeyServer) claimRemote(ctx context.Context, remote map[string]map[string]map[string]string, timeoutMS int64, resp *api.ClaimKeysResponse) {
	var mu sync.Mutex
	errs := fanOut(ctx, sortedKeys(remote), timeoutMS, func(ctx context.Context, server string) error {
		out, err := k.remote.ClaimRemoteKeys(ctx, &fsapi.ClaimRemoteKeysRequest{Destination: server, OneTimeKeys: remote[server]})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for userID, devices := range remote[server] {
			for deviceID, alg := range devices {
				for keyID, key := range out.OneTimeKeys[userID][deviceID] {
					a, _, err := splitKeyID(keyID)
					if err != nil || a != alg {
						k.dropRemote(server, userID, "a claimed key", fmt.Errorf("key %q is not of algorithm %q", keyID, alg))
						continue
					}
					if resp.OneTimeKeys[userID] == nil {
						resp.OneTimeKeys[userID] = map[string]map[string]json.RawMessage{}
					}
					resp.OneTimeKeys[userID][deviceID] = map[string]json.RawMessage{keyID: key}
					break
				}
			}
		}
		return nil
	})
	for server, err := range errs {
		k.log().WithError(err).WithField("server", server).Warn("keys/claim: another server failed")
		resp.Failures[server] = remoteFailure(err)
	}
}
