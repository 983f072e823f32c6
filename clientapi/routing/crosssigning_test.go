package routing

import (
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/devicetest"
)

// forEachDBImpl is forEachImpl over SQLite and Postgres.
func forEachDBImpl(t *testing.T, fn func(t *testing.T, h *harness)) {
	for dbName, dsn := range testenv.Databases(t) {
		for _, impl := range impls {
			t.Run(dbName+"/"+impl, func(t *testing.T) { fn(t, newHarnessDSN(t, impl, dsn(t))) })
		}
	}
}

// TestCrossSigningRoutes: /keys/device_signing/upload lets the first master key through
// without user-interactive auth (and a repeat of the same keys), asks for the password to
// replace it; bad keys are refused; /keys/query shows the keys (the user-signing key to
// its owner only); /keys/signatures/upload stores a good signature and reports a bad one
// as a failure (arrow 14).
func TestCrossSigningRoutes(t *testing.T) {
	forEachDBImpl(t, func(t *testing.T, h *harness) {
		const v3 = "/_matrix/client/v3"
		alice, bob := h.register("alice"), h.register("bob")
		dev := devicetest.New(t, alice.id, alice.device)
		up := dev.Upload(0, false)
		h.must(h.do("POST", v3+"/keys/upload", alice.token, map[string]any{"device_keys": up.DeviceKeys}), 200)
		cs := devicetest.NewCrossSigning(t, alice.id)
		keys := map[string]any{"master_key": cs.MasterKey(), "self_signing_key": cs.SelfSigningKey(), "user_signing_key": cs.UserSigningKey()}

		// Bad input first: nothing stored, and no UIA asked while she has no master key.
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, map[string]any{"master_key": cs.MasterKey(),
			"self_signing_key": cs.KeyObject("self_signing", cs.SelfSigning, cs.UserSigning)}), 400, "M_INVALID_SIGNATURE")
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, map[string]any{
			"master_key": devicetest.NewCrossSigning(t, bob.id).MasterKey()}), 400, "M_INVALID_PARAM")
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, map[string]any{"master_key": []string{"x"}}), 400, "M_BAD_JSON")
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, `{`), 400, "M_NOT_JSON")
		h.must(h.do("POST", v3+"/keys/device_signing/upload", "", keys), 401, "M_MISSING_TOKEN")

		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, keys), 200)
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, keys), 200) // a retry: no UIA

		var q struct {
			DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
			MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
			SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
			UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
		}
		queryAs := func(token string) {
			t.Helper()
			q.DeviceKeys, q.MasterKeys, q.SelfSigningKeys, q.UserSigningKeys = nil, nil, nil, nil
			r := h.must(h.do("POST", v3+"/keys/query", token, map[string]any{"device_keys": map[string]any{alice.id: []string{}}}), 200)
			if err := json.Unmarshal(r.raw, &q); err != nil {
				t.Fatal(err)
			}
		}
		queryAs(bob.token)
		if q.MasterKeys[alice.id] == nil || cs.Verify(cs.Master, q.SelfSigningKeys[alice.id]) != nil || q.UserSigningKeys[alice.id] != nil {
			t.Fatalf("bob's query: %+v", q)
		}
		queryAs(alice.token)
		if cs.Verify(cs.Master, q.UserSigningKeys[alice.id]) != nil {
			t.Fatalf("alice's own user-signing key: %+v", q)
		}

		// Signatures: her device signed by her self-signing key; a forged one fails.
		devKeys := q.DeviceKeys[alice.id][alice.device]
		signed := cs.SignWith(cs.SelfSigning, devKeys)
		r := h.must(h.do("POST", v3+"/keys/signatures/upload", alice.token, map[string]any{alice.id: map[string]any{
			alice.device: signed, devicetest.Pub(cs.Master): cs.SignWith(cs.UserSigning, cs.MasterKey())}}), 200)
		var sr struct {
			Failures map[string]map[string]struct{ Errcode string } `json:"failures"`
		}
		if err := json.Unmarshal(r.raw, &sr); err != nil || len(sr.Failures[alice.id]) != 1 ||
			sr.Failures[alice.id][devicetest.Pub(cs.Master)].Errcode != "M_INVALID_SIGNATURE" {
			t.Fatalf("signatures upload: %s", r.raw)
		}
		queryAs(bob.token)
		if cs.Verify(cs.SelfSigning, q.DeviceKeys[alice.id][alice.device]) != nil || dev.VerifyDeviceKeys(q.DeviceKeys[alice.id][alice.device]) != nil {
			t.Fatalf("device keys without the cross-signature: %s", q.DeviceKeys[alice.id][alice.device])
		}
		h.must(h.do("POST", v3+"/keys/signatures/upload", alice.token, map[string]any{alice.id: "x"}), 400, "M_BAD_JSON")

		// Replacing the master key needs her password.
		cs2 := devicetest.NewCrossSigning(t, alice.id)
		newKeys := map[string]any{"master_key": cs2.MasterKey(), "self_signing_key": cs2.SelfSigningKey()}
		ch := h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, newKeys), 401)
		if flows, _ := ch.body["flows"].([]any); len(flows) != 1 || ch.str("session") == "" {
			t.Fatalf("challenge: %s", ch.raw)
		}
		queryAs(bob.token)
		if cs.Verify(cs.Master, q.SelfSigningKeys[alice.id]) != nil {
			t.Fatal("keys replaced without UIA")
		}
		pw := func(password string) map[string]any {
			return map[string]any{"type": "m.login.password", "session": ch.str("session"), "password": password,
				"identifier": map[string]any{"type": "m.id.user", "user": alice.id}}
		}
		newKeys["auth"] = pw("wrong")
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, newKeys), 401, "M_FORBIDDEN")
		newKeys["auth"] = pw(alice.password)
		h.must(h.do("POST", v3+"/keys/device_signing/upload", alice.token, newKeys), 200)
		queryAs(bob.token)
		if cs2.Verify(cs2.Master, q.SelfSigningKeys[alice.id]) != nil || q.MasterKeys[alice.id] == nil {
			t.Fatalf("new keys: %+v", q)
		}
		if cs.Verify(cs.SelfSigning, q.DeviceKeys[alice.id][alice.device]) == nil {
			t.Fatal("the old self-signing key's signature kept")
		}
	})
}
