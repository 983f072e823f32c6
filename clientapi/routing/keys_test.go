package routing

import (
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/keyserver/devicetest"
)

// TestKeys: /keys/upload, /keys/query and /keys/claim between two users (arrow 14), direct
// and over inthttp: alice's device keys as bob sees them carry her device's signature;
// bob's claims take her one-time keys, then her fallback key; bad bodies and bad keys get
// the spec's errors and store nothing; logging out forgets the device's keys.
func TestKeys(t *testing.T) {
	forEachImpl(t, func(t *testing.T, newHarness harnessFunc) {
		h := newHarness(t)
		alice, bob := h.register("alice"), h.register("bob")
		dev := devicetest.New(t, alice.id, alice.device)
		const upload, query, claim = "/_matrix/client/v3/keys/upload", "/_matrix/client/v3/keys/query", "/_matrix/client/v3/keys/claim"

		// Bad input first: nothing may be stored by any of these.
		other := devicetest.New(t, bob.id, alice.device)
		h.must(h.do("POST", upload, alice.token, map[string]any{"device_keys": other.DeviceKeysFor(bob.id, alice.device)}), 400, "M_INVALID_PARAM")
		bad := dev.Upload(1, false)
		h.must(h.do("POST", upload, alice.token, map[string]any{"device_keys": devicetest.Without(bad.DeviceKeys, "signatures"),
			"one_time_keys": bad.OneTimeKeys}), 400, "M_INVALID_PARAM")
		h.must(h.do("POST", upload, alice.token, map[string]any{"device_keys": bad.DeviceKeys,
			"one_time_keys": map[string]any{"rot13:AAAA": "x"}}), 400, "M_INVALID_PARAM")
		h.must(h.do("POST", upload, alice.token, `{"one_time_keys": ["x"]}`), 400, "M_BAD_JSON")
		h.must(h.do("POST", upload, alice.token, `not json`), 400, "M_NOT_JSON")
		h.must(h.do("POST", upload, "", map[string]any{}), 401, "M_MISSING_TOKEN")
		h.must(h.do("POST", query, bob.token, map[string]any{"timeout": 10}), 400, "M_BAD_JSON")
		h.must(h.do("POST", query, bob.token, map[string]any{"device_keys": map[string]any{alice.id: "all"}}), 400, "M_BAD_JSON")
		h.must(h.do("POST", claim, bob.token, map[string]any{}), 400, "M_BAD_JSON")
		h.must(h.do("GET", "/_matrix/client/v3/keys/changes?from=a&to=b", bob.token, nil), 404, "M_UNRECOGNIZED")
		h.must(h.do("GET", upload, alice.token, nil), 405, "M_UNRECOGNIZED")
		r := h.must(h.do("POST", query, bob.token, map[string]any{"device_keys": map[string]any{alice.id: []string{}}, "timeout": 10000}), 200)
		if devs, _ := r.body["device_keys"].(map[string]any)[alice.id].(map[string]any); len(devs) != 0 {
			t.Fatalf("keys stored by refused uploads: %s", r.raw)
		}

		// The real upload, with an empty counts answer before it.
		r = h.must(h.do("POST", upload, alice.token, map[string]any{}), 200)
		if c := r.body["one_time_key_counts"].(map[string]any); c["signed_curve25519"] != 0.0 {
			t.Fatalf("counts with nothing uploaded: %s", r.raw)
		}
		req := dev.Upload(2, true)
		r = h.must(h.do("POST", upload, alice.token, map[string]any{"device_keys": req.DeviceKeys,
			"one_time_keys": req.OneTimeKeys, "fallback_keys": req.FallbackKeys}), 200)
		if c := r.body["one_time_key_counts"].(map[string]any); c["signed_curve25519"] != 2.0 {
			t.Fatalf("counts: %s", r.raw)
		}
		r = h.must(h.do("POST", "/_matrix/client/r0/keys/query", bob.token, map[string]any{
			"device_keys": map[string]any{alice.id: []string{}, "@someone:elsewhere.example": []string{}}}), 200)
		var q struct {
			DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
			Failures   map[string]any                        `json:"failures"`
		}
		if err := json.Unmarshal(r.raw, &q); err != nil || dev.VerifyDeviceKeys(q.DeviceKeys[alice.id][alice.device]) != nil ||
			q.Failures["elsewhere.example"] == nil {
			t.Fatalf("query: %s %v", r.raw, err)
		}
		claimOne := func() map[string]any {
			t.Helper()
			r := h.must(h.do("POST", claim, bob.token, map[string]any{"one_time_keys": map[string]any{
				alice.id: map[string]string{alice.device: "signed_curve25519"}}, "timeout": 10000}), 200)
			keys, _ := r.body["one_time_keys"].(map[string]any)[alice.id].(map[string]any)[alice.device].(map[string]any)
			if len(keys) != 1 {
				t.Fatalf("claim: %s", r.raw)
			}
			return keys
		}
		for range 2 {
			if _, ok := claimOne()[dev.FallbackKeyID]; ok {
				t.Fatal("the fallback key before the one-time keys")
			}
		}
		if _, ok := claimOne()[dev.FallbackKeyID]; !ok {
			t.Fatal("no fallback key once the one-time keys are gone")
		}

		// Logging out forgets the device's keys.
		h.must(h.do("POST", "/_matrix/client/v3/logout", alice.token, map[string]any{}), 200)
		r = h.must(h.do("POST", query, bob.token, map[string]any{"device_keys": map[string]any{alice.id: []string{}}}), 200)
		if devs, _ := r.body["device_keys"].(map[string]any)[alice.id].(map[string]any); len(devs) != 0 {
			t.Fatalf("keys of a logged-out device: %s", r.raw)
		}
	})
}
