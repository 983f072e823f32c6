package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
	"github.com/axon-matrix/axon/matrix/signing"
)

// e2eeSummary describes the end-to-end encryption scenario (flag -e2ee).
const e2eeSummary = "two monoliths over TLS: alice@A's /keys/query and /keys/claim for bob@B answered by B (arrow 20 → user/keys/query, user/keys/claim), signatures intact; bob's device-list changes reach alice's /sync device_lists.changed (topic 7 → m.device_list_update → arrow 15 → topic 7); bob's new cross-signing keys reach A as m.signing_key_update (device_lists.changed, /keys/query); with B stopped, A answers /keys/query for bob from its cache"

// e2eeDevice is one client device's ed25519 key (its curve25519 key is random bytes: the
// servers only pass it on).
type e2eeDevice struct {
	userID, deviceID string
	priv             ed25519.PrivateKey
}

func newE2EEDevice(userID, deviceID string) (*e2eeDevice, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return &e2eeDevice{userID: userID, deviceID: deviceID, priv: priv}, err
}

func (d *e2eeDevice) ed25519() string {
	return signing.EncodeBase64(d.priv.Public().(ed25519.PublicKey))
}

func (d *e2eeDevice) sign(obj any) (json.RawMessage, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return signing.SignJSON(d.userID, signing.KeyID("ed25519:"+d.deviceID), d.priv, raw)
}

// upload is POST /keys/upload of the device's keys and n signed one-time keys.
func (d *e2eeDevice) upload(ctx context.Context, c *csapi.Client, n int) error {
	curve := make([]byte, 32)
	_, _ = rand.Read(curve)
	dk, err := d.sign(map[string]any{"user_id": d.userID, "device_id": d.deviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]string{"ed25519:" + d.deviceID: d.ed25519(), "curve25519:" + d.deviceID: signing.EncodeBase64(curve)}})
	if err != nil {
		return err
	}
	otks := map[string]json.RawMessage{}
	for i := range n {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		if otks[fmt.Sprintf("signed_curve25519:OTK%d", i)], err = d.sign(map[string]any{"key": signing.EncodeBase64(k)}); err != nil {
			return err
		}
	}
	return c.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/upload", map[string]any{"device_keys": dk, "one_time_keys": otks}, nil)
}

// e2eeScenario: alice@A and bob@B share a room; alice gets bob's device keys and a
// one-time key from B, and sees bob's device-list changes in /sync.
func (r *run) e2eeScenario() error {
	ctx := context.Background()
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	for _, label := range []string{"A", "B"} {
		r.begin("configure and start server " + label)
		s, err := r.start(bin, label)
		if err != nil {
			return err
		}
		r.servers = append(r.servers, s)
	}
	a, b := r.servers[0], r.servers[1]
	if dir := os.Getenv("AXON_E2E_JS_DIR"); dir != "" {
		r.begin("matrix-js-sdk (Rust crypto): an encrypted conversation between alice@A and bob@B (" + jsFederationTest + ")")
		if err := r.runJSFederation(ctx, dir, a, b); err != nil {
			return err
		}
	}
	r.begin("register alice on A and bob on B; bob@B joins alice's room")
	alice := &csapi.Client{BaseURL: a.clientURL}
	bob := &csapi.Client{BaseURL: b.clientURL}
	if _, err := alice.Register(ctx, "alice", "alice-password-1", "test"); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "test"); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	roomID, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "private_chat", Name: "e2ee"})
	if err != nil {
		return err
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/invite",
		map[string]any{"user_id": bob.UserID}, nil); err != nil {
		return err
	}
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(a.name),
		map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomID, func(v *roomView) bool { return v.members[bob.UserID] == "join" }); err != nil {
		return err
	}

	r.begin("bob uploads device keys and one-time keys on B; alice sees bob in device_lists.changed on A")
	since, err := r.deviceListsSince(ctx, alice)
	if err != nil {
		return err
	}
	bobDev, err := newE2EEDevice(bob.UserID, bob.DeviceID)
	if err != nil {
		return err
	}
	if err := bobDev.upload(ctx, bob, 2); err != nil {
		return err
	}
	if since, err = r.waitDeviceListChanged(ctx, alice, since, bob.UserID); err != nil {
		return err
	}

	r.begin("alice's /keys/query for bob is answered by B: bob's device keys, signed by bob's device")
	var q struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
		Failures   map[string]json.RawMessage            `json:"failures"`
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/query",
		map[string]any{"device_keys": map[string]any{bob.UserID: []string{}}, "timeout": 10000}, &q); err != nil {
		return err
	}
	raw, ok := q.DeviceKeys[bob.UserID][bob.DeviceID]
	if !ok {
		return fmt.Errorf("no keys of bob's device %s in %+v (failures %v)", bob.DeviceID, q.DeviceKeys, q.Failures)
	}
	if err := signing.VerifyJSON(bob.UserID, signing.KeyID("ed25519:"+bob.DeviceID), bobDev.priv.Public().(ed25519.PublicKey), raw); err != nil {
		return fmt.Errorf("bob's device keys as A returned them: %w", err)
	}

	r.begin("alice's /keys/claim for bob's device takes a one-time key on B")
	var c struct {
		OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
		Failures    map[string]json.RawMessage                       `json:"failures"`
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/claim",
		map[string]any{"one_time_keys": map[string]any{bob.UserID: map[string]string{bob.DeviceID: "signed_curve25519"}}}, &c); err != nil {
		return err
	}
	claimed := c.OneTimeKeys[bob.UserID][bob.DeviceID]
	if len(claimed) != 1 {
		return fmt.Errorf("claimed %v (failures %v), want one key", claimed, c.Failures)
	}
	for _, key := range claimed {
		if err := signing.VerifyJSON(bob.UserID, signing.KeyID("ed25519:"+bob.DeviceID), bobDev.priv.Public().(ed25519.PublicKey), key); err != nil {
			return fmt.Errorf("the claimed key: %w", err)
		}
	}
	var counts struct {
		OneTimeKeyCounts map[string]int `json:"one_time_key_counts"`
	}
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/upload", map[string]any{}, &counts); err != nil {
		return err
	}
	if counts.OneTimeKeyCounts["signed_curve25519"] != 1 {
		return fmt.Errorf("bob has %d one-time keys left on B, want 1", counts.OneTimeKeyCounts["signed_curve25519"])
	}

	r.begin("bob logs in a second device on B and uploads its keys; alice sees bob in device_lists.changed and both devices in /keys/query")
	bob2 := &csapi.Client{BaseURL: b.clientURL}
	if _, err := bob2.Login(ctx, "bob", "bob-password-1", "second"); err != nil {
		return err
	}
	bob2Dev, err := newE2EEDevice(bob.UserID, bob2.DeviceID)
	if err != nil {
		return err
	}
	if err := bob2Dev.upload(ctx, bob2, 1); err != nil {
		return err
	}
	if _, err := r.waitDeviceListChanged(ctx, alice, since, bob.UserID); err != nil {
		return err
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/query",
		map[string]any{"device_keys": map[string]any{bob.UserID: []string{}}}, &q); err != nil {
		return err
	}
	if _, ok := q.DeviceKeys[bob.UserID][bob2.DeviceID]; !ok || len(q.DeviceKeys[bob.UserID]) != 2 {
		return fmt.Errorf("bob's devices as A sees them: %v, want %s and %s", keysOfRaw(q.DeviceKeys[bob.UserID]), bob.DeviceID, bob2.DeviceID)
	}

	r.begin("bob uploads cross-signing keys on B; alice sees bob in device_lists.changed (m.signing_key_update) and his new keys in /keys/query")
	master, selfSigning, err := crossSigningKeys(bob.UserID)
	if err != nil {
		return err
	}
	if since, err = r.deviceListsSince(ctx, alice); err != nil {
		return err
	}
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/device_signing/upload",
		map[string]any{"master_key": master, "self_signing_key": selfSigning}, nil); err != nil {
		return fmt.Errorf("bob's cross-signing keys: %w", err)
	}
	if _, err := r.waitDeviceListChanged(ctx, alice, since, bob.UserID); err != nil {
		return err
	}
	var cq struct {
		MasterKeys      map[string]json.RawMessage `json:"master_keys"`
		SelfSigningKeys map[string]json.RawMessage `json:"self_signing_keys"`
	}
	deadline := time.Now().Add(r.timeout)
	for {
		if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/query",
			map[string]any{"device_keys": map[string]any{bob.UserID: []string{}}}, &cq); err != nil {
			return err
		}
		if sameJSON(cq.MasterKeys[bob.UserID], master) && sameJSON(cq.SelfSigningKeys[bob.UserID], selfSigning) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bob's cross-signing keys as A sees them: master %s, self-signing %s", cq.MasterKeys[bob.UserID], cq.SelfSigningKeys[bob.UserID])
		}
		time.Sleep(200 * time.Millisecond)
	}

	r.begin("B stops; alice's /keys/query for bob is answered from A's cache of bob's keys (both devices, his cross-signing keys)")
	_ = b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("server B did not stop within 30s")
	}
	var cached struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
		MasterKeys map[string]json.RawMessage            `json:"master_keys"`
		Failures   map[string]json.RawMessage            `json:"failures"`
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/query",
		map[string]any{"device_keys": map[string]any{bob.UserID: []string{}}, "timeout": 3000}, &cached); err != nil {
		return err
	}
	if len(cached.DeviceKeys[bob.UserID]) != 2 || len(cached.Failures) != 0 || !sameJSON(cached.MasterKeys[bob.UserID], master) {
		return fmt.Errorf("with B stopped: devices %v, master %s, failures %v", keysOfRaw(cached.DeviceKeys[bob.UserID]),
			cached.MasterKeys[bob.UserID], cached.Failures)
	}
	for id, raw := range cached.DeviceKeys[bob.UserID] {
		dev := bobDev
		if id == bob2.DeviceID {
			dev = bob2Dev
		}
		if err := signing.VerifyJSON(bob.UserID, signing.KeyID("ed25519:"+id), dev.priv.Public().(ed25519.PublicKey), raw); err != nil {
			return fmt.Errorf("cached keys of %s: %w", id, err)
		}
	}

	r.begin("alice's /keys/query for a user of a server that does not exist: a failure of that server, within the timeout")
	start := time.Now()
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/keys/query",
		map[string]any{"device_keys": map[string]any{"@nobody:127.0.0.1:1": []string{}}, "timeout": 3000}, &q); err != nil {
		return err
	}
	if _, ok := q.Failures["127.0.0.1:1"]; !ok || time.Since(start) > 10*time.Second {
		return fmt.Errorf("failures %v after %v", q.Failures, time.Since(start))
	}
	r.step = "done"
	return nil
}

// jsFederationTest is the matrix-js-sdk test run against both servers when AXON_E2E_JS_DIR
// names tests/e2e/js (tests/e2e/js.sh sets it, after npm ci).
const jsFederationTest = "federation-encrypted.test.mjs"

// runJSFederation runs jsFederationTest in dir with the client URLs of a and b.
func (r *run) runJSFederation(ctx context.Context, dir string, a, b *server) error {
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-force-exit", jsFederationTest)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AXON_E2E_BASE_URL="+a.clientURL, "AXON_E2E_BASE_URL_A="+a.clientURL, "AXON_E2E_BASE_URL_B="+b.clientURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", jsFederationTest, err, out)
	}
	return nil
}

// crossSigningKeys makes a master key and a self-signing key signed by it for userID.
func crossSigningKeys(userID string) (master, selfSigning json.RawMessage, err error) {
	mPub, mPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	key := func(pub ed25519.PublicKey, usage string) ([]byte, error) {
		b64 := signing.EncodeBase64(pub)
		return json.Marshal(map[string]any{"user_id": userID, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + b64: b64}})
	}
	if master, err = key(mPub, "master"); err != nil {
		return nil, nil, err
	}
	raw, err := key(sPub, "self_signing")
	if err != nil {
		return nil, nil, err
	}
	selfSigning, err = signing.SignJSON(userID, signing.KeyID("ed25519:"+signing.EncodeBase64(mPub)), mPriv, raw)
	return master, selfSigning, err
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func keysOfRaw(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// deviceListView is the part of /sync this scenario reads.
type deviceListView struct {
	NextBatch   string `json:"next_batch"`
	DeviceLists struct {
		Changed []string `json:"changed"`
	} `json:"device_lists"`
}

// deviceListsSince makes an initial /sync as c and returns its next_batch.
func (r *run) deviceListsSince(ctx context.Context, c *csapi.Client) (string, error) {
	var v deviceListView
	if err := c.SyncInto(ctx, csapi.SyncRequest{}, &v); err != nil {
		return "", fmt.Errorf("/sync as %s: %w", c.UserID, err)
	}
	return v.NextBatch, nil
}

// waitDeviceListChanged syncs as c from since until device_lists.changed names userID,
// and returns the next_batch of that response.
func (r *run) waitDeviceListChanged(ctx context.Context, c *csapi.Client, since, userID string) (string, error) {
	deadline := time.Now().Add(r.timeout)
	for {
		var v deviceListView
		if err := c.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: time.Second}, &v); err != nil {
			return "", fmt.Errorf("/sync as %s: %w", c.UserID, err)
		}
		if slices.Contains(v.DeviceLists.Changed, userID) {
			return v.NextBatch, nil
		}
		since = v.NextBatch
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not in device_lists.changed of %s's /sync within %s", userID, c.UserID, r.timeout)
		}
	}
}
