package inthttp_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
)

func query(t *testing.T, ks api.KeyServerAPI, requester string, users ...string) *api.QueryKeysResponse {
	t.Helper()
	req := &api.QueryKeysRequest{Requester: requester, DeviceKeys: map[string][]string{}}
	for _, u := range users {
		req.DeviceKeys[u] = nil
	}
	q, err := ks.QueryKeys(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func noCrossSigningKeys(t *testing.T, ks api.KeyServerAPI, userID string) {
	t.Helper()
	k, err := ks.CrossSigningKeys(context.Background(), &api.CrossSigningKeysRequest{UserID: userID})
	if err != nil || len(k.MasterKey)+len(k.SelfSigningKey)+len(k.UserSigningKey) != 0 {
		t.Fatalf("cross-signing keys stored: %+v %v", k, err)
	}
}

// TestCrossSigningUploadRefusesBadKeys: each bad /keys/device_signing/upload is the
// spec's error and stores none of the keys.
func TestCrossSigningUploadRefusesBadKeys(t *testing.T) {
	each(t, func(t *testing.T, ks api.KeyServerAPI) {
		ctx := context.Background()
		alice := "@alice:" + server
		cs, other := devicetest.NewCrossSigning(t, alice), devicetest.NewCrossSigning(t, "@bob:"+server)
		raw := func(obj map[string]any) json.RawMessage { b, _ := json.Marshal(obj); return b }
		pub := devicetest.Pub(cs.Master)
		cases := []struct {
			name   string
			mutate func(r *api.UploadCrossSigningKeysRequest)
			status int
			code   string
		}{
			{"master key of another user", func(r *api.UploadCrossSigningKeysRequest) { r.MasterKey = other.MasterKey() }, 400, "M_INVALID_PARAM"},
			{"master key without its usage", func(r *api.UploadCrossSigningKeysRequest) {
				r.MasterKey = cs.KeyObject("self_signing", cs.Master, nil)
			}, 400, "M_INVALID_PARAM"},
			{"two keys in one", func(r *api.UploadCrossSigningKeysRequest) {
				r.MasterKey = raw(map[string]any{"user_id": alice, "usage": []string{"master"},
					"keys": map[string]string{"ed25519:" + pub: pub, "ed25519:" + devicetest.Pub(cs.UserSigning): devicetest.Pub(cs.UserSigning)}})
			}, 400, "M_INVALID_PARAM"},
			{"key ID not naming the key", func(r *api.UploadCrossSigningKeysRequest) {
				r.MasterKey = raw(map[string]any{"user_id": alice, "usage": []string{"master"}, "keys": map[string]string{"ed25519:KEY": pub}})
			}, 400, "M_INVALID_PARAM"},
			{"short key", func(r *api.UploadCrossSigningKeysRequest) {
				r.MasterKey = raw(map[string]any{"user_id": alice, "usage": []string{"master"}, "keys": map[string]string{"ed25519:AAAA": "AAAA"}})
			}, 400, "M_INVALID_PARAM"},
			{"curve25519 key", func(r *api.UploadCrossSigningKeysRequest) {
				r.MasterKey = raw(map[string]any{"user_id": alice, "usage": []string{"master"}, "keys": map[string]string{"curve25519:" + pub: pub}})
			}, 400, "M_INVALID_PARAM"},
			{"master key not an object", func(r *api.UploadCrossSigningKeysRequest) { r.MasterKey = json.RawMessage(`"x"`) }, 400, "M_BAD_JSON"},
			{"keys of the wrong type", func(r *api.UploadCrossSigningKeysRequest) {
				r.MasterKey = raw(map[string]any{"user_id": alice, "usage": "master", "keys": []string{pub}})
			}, 400, "M_BAD_JSON"},
			{"self-signing key signed by another key", func(r *api.UploadCrossSigningKeysRequest) {
				r.SelfSigningKey = cs.KeyObject("self_signing", cs.SelfSigning, cs.UserSigning)
			}, 400, "M_INVALID_SIGNATURE"},
			{"unsigned user-signing key", func(r *api.UploadCrossSigningKeysRequest) {
				r.UserSigningKey = cs.KeyObject("user_signing", cs.UserSigning, nil)
			}, 400, "M_INVALID_SIGNATURE"},
			{"user-signing key changed after signing", func(r *api.UploadCrossSigningKeysRequest) {
				r.UserSigningKey = devicetest.With(r.UserSigningKey, "usage", []string{"user_signing", "master"})
			}, 400, "M_INVALID_SIGNATURE"},
			{"self-signing key without any master key", func(r *api.UploadCrossSigningKeysRequest) { r.MasterKey = nil }, 400, "M_MISSING_PARAM"},
			{"the same key twice", func(r *api.UploadCrossSigningKeysRequest) {
				r.SelfSigningKey = cs.KeyObject("self_signing", cs.Master, cs.Master)
			}, 400, "M_INVALID_PARAM"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := &api.UploadCrossSigningKeysRequest{UserID: alice, MasterKey: cs.MasterKey(),
					SelfSigningKey: cs.SelfSigningKey(), UserSigningKey: cs.UserSigningKey()}
				tc.mutate(req)
				matrixErr(t, ks.UploadCrossSigningKeys(ctx, req), tc.status, tc.code)
				noCrossSigningKeys(t, ks, alice)
			})
		}
		// A key named like one of the user's devices: 403.
		dev := devicetest.New(t, alice, pub)
		if _, err := ks.UploadKeys(ctx, dev.Upload(0, false)); err != nil {
			t.Fatal(err)
		}
		matrixErr(t, ks.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: alice, MasterKey: cs.MasterKey()}), 403, "M_FORBIDDEN")
		noCrossSigningKeys(t, ks, alice)
		// Another server's user.
		remote := devicetest.NewCrossSigning(t, "@eve:other.example")
		matrixErr(t, ks.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: remote.UserID, MasterKey: remote.MasterKey()}), 400, "M_INVALID_PARAM")
	})
}

// TestCrossSigning: uploaded cross-signing keys show in /keys/query (the user-signing key
// to its owner only); signatures of the user's devices by the self-signing key, of the
// master key by a device and of another user's master key by the user-signing key are
// stored and shown; bad signatures are failures and store nothing; a new master key drops
// the old self-signing key and its signatures.
func TestCrossSigning(t *testing.T) {
	each(t, func(t *testing.T, ks api.KeyServerAPI) {
		ctx := context.Background()
		aliceID, bobID, carolID := "@alice:"+server, "@bob:"+server, "@carol:"+server
		dev, dev2 := devicetest.New(t, aliceID, "ALICEDEV"), devicetest.New(t, aliceID, "ALICE2")
		for _, d := range []*devicetest.Device{dev, dev2} {
			if _, err := ks.UploadKeys(ctx, d.Upload(0, false)); err != nil {
				t.Fatal(err)
			}
		}
		alice, bob := devicetest.NewCrossSigning(t, aliceID), devicetest.NewCrossSigning(t, bobID)
		upload := func(cs *devicetest.CrossSigning, master bool) {
			t.Helper()
			req := &api.UploadCrossSigningKeysRequest{UserID: cs.UserID, SelfSigningKey: cs.SelfSigningKey(), UserSigningKey: cs.UserSigningKey()}
			if master {
				req.MasterKey = cs.MasterKey()
			}
			if err := ks.UploadCrossSigningKeys(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		upload(alice, true)
		upload(alice, true) // the same keys again change nothing
		upload(bob, true)
		own, err := ks.CrossSigningKeys(ctx, &api.CrossSigningKeysRequest{UserID: aliceID})
		if err != nil || own.MasterKey == nil || own.SelfSigningKey == nil || own.UserSigningKey == nil {
			t.Fatalf("own keys: %+v %v", own, err)
		}

		q := query(t, ks, bobID, aliceID)
		if q.MasterKeys[aliceID] == nil || alice.Verify(alice.Master, q.SelfSigningKeys[aliceID]) != nil {
			t.Fatalf("bob's view of alice's keys: %+v", q)
		}
		if _, ok := q.UserSigningKeys[aliceID]; ok {
			t.Fatal("alice's user-signing key shown to bob")
		}
		if q := query(t, ks, aliceID, aliceID); alice.Verify(alice.Master, q.UserSigningKeys[aliceID]) != nil {
			t.Fatalf("alice's own user-signing key: %s", q.UserSigningKeys[aliceID])
		}

		// Signatures: one good of each kind, and bad ones next to them.
		devKeys := func(d *devicetest.Device) json.RawMessage {
			return query(t, ks, aliceID, aliceID).DeviceKeys[aliceID][d.DeviceID]
		}
		masterPub, bobMaster := devicetest.Pub(alice.Master), devicetest.Pub(bob.Master)
		forged := alice.SignWith(alice.SelfSigning, devKeys(dev2))
		forged = devicetest.With(forged, "signatures", map[string]any{aliceID: map[string]string{
			"ed25519:" + devicetest.Pub(alice.SelfSigning): devicetest.B64(make([]byte, 64))}})
		resp, err := ks.UploadSignatures(ctx, &api.UploadSignaturesRequest{UserID: aliceID, Signatures: map[string]map[string]json.RawMessage{
			aliceID: {
				dev.DeviceID:  alice.SignWith(alice.SelfSigning, devKeys(dev)),
				masterPub:     dev.SignObject(alice.MasterKey()),
				dev2.DeviceID: forged,
				"NODEVICE":    alice.SignWith(alice.SelfSigning, devKeys(dev)),
			},
			bobID: {
				bobMaster:                       alice.SignWith(alice.UserSigning, bob.MasterKey()),
				devicetest.Pub(bob.SelfSigning): alice.SignWith(alice.UserSigning, bob.SelfSigningKey()),
			},
			"@dave:other.example": {"KEY": alice.SignWith(alice.UserSigning, bob.MasterKey())},
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]string{
			aliceID:               {dev2.DeviceID: "M_INVALID_SIGNATURE", "NODEVICE": "M_NOT_FOUND"},
			bobID:                 {devicetest.Pub(bob.SelfSigning): "M_NOT_FOUND"},
			"@dave:other.example": {"KEY": "M_INVALID_PARAM"},
		}
		if len(resp.Failures) != len(want) {
			t.Fatalf("failures: %+v", resp.Failures)
		}
		for u, keys := range want {
			if len(resp.Failures[u]) != len(keys) {
				t.Fatalf("failures of %s: %+v", u, resp.Failures[u])
			}
			for k, code := range keys {
				if resp.Failures[u][k].ErrCode != code {
					t.Fatalf("failure of %s %s: %+v, want %s", u, k, resp.Failures[u][k], code)
				}
			}
		}
		q = query(t, ks, aliceID, aliceID, bobID)
		if alice.Verify(alice.SelfSigning, q.DeviceKeys[aliceID][dev.DeviceID]) != nil || dev.VerifyDeviceKeys(q.DeviceKeys[aliceID][dev.DeviceID]) != nil {
			t.Fatalf("device keys without the self-signing signature: %s", q.DeviceKeys[aliceID][dev.DeviceID])
		}
		if alice.Verify(alice.SelfSigning, q.DeviceKeys[aliceID][dev2.DeviceID]) == nil {
			t.Fatal("the forged signature was stored")
		}
		if dev.VerifyDeviceKeys(q.MasterKeys[aliceID]) != nil {
			t.Fatalf("master key without the device's signature: %s", q.MasterKeys[aliceID])
		}
		if alice.Verify(alice.UserSigning, q.MasterKeys[bobID]) != nil {
			t.Fatalf("bob's master key without alice's signature, as alice sees it: %s", q.MasterKeys[bobID])
		}
		if q := query(t, ks, carolID, bobID); alice.Verify(alice.UserSigning, q.MasterKeys[bobID]) == nil {
			t.Fatal("alice's signature of bob's master key shown to carol")
		}

		// Bad signatures, each alone: a failure, nothing stored.
		sigFails := []struct {
			name          string
			target, keyID string
			obj           json.RawMessage
			code          string
		}{
			{"device signed by the user-signing key", aliceID, dev2.DeviceID, alice.SignWith(alice.UserSigning, devKeys(dev2)), "M_INVALID_SIGNATURE"},
			{"device keys changed", aliceID, dev2.DeviceID, alice.SignWith(alice.SelfSigning, devicetest.With(devKeys(dev2), "algorithms", []string{"x"})), "M_INVALID_PARAM"},
			{"master key signed by an unknown device", aliceID, masterPub, devicetest.New(t, aliceID, "GHOST").SignObject(alice.MasterKey()), "M_INVALID_SIGNATURE"},
			{"master key with a bad device signature", aliceID, masterPub, devicetest.New(t, aliceID, dev2.DeviceID).SignObject(alice.MasterKey()), "M_INVALID_SIGNATURE"},
			{"another user's master key signed by the self-signing key", bobID, bobMaster, alice.SignWith(alice.SelfSigning, bob.MasterKey()), "M_INVALID_SIGNATURE"},
			{"not an object", bobID, bobMaster, json.RawMessage(`[1]`), "M_BAD_JSON"},
		}
		for _, tc := range sigFails {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := ks.UploadSignatures(ctx, &api.UploadSignaturesRequest{UserID: aliceID,
					Signatures: map[string]map[string]json.RawMessage{tc.target: {tc.keyID: tc.obj}}})
				if err != nil || resp.Failures[tc.target][tc.keyID].ErrCode != tc.code {
					t.Fatalf("got %+v %v, want %s", resp, err, tc.code)
				}
				q := query(t, ks, aliceID, aliceID)
				if alice.Verify(alice.SelfSigning, q.DeviceKeys[aliceID][dev2.DeviceID]) == nil ||
					dev2.VerifyDeviceKeys(q.MasterKeys[aliceID]) == nil {
					t.Fatal("a refused signature was stored")
				}
			})
		}

		// A new master key alone drops the self-signing and user-signing keys the old one
		// signed, and their signatures.
		alice2 := devicetest.NewCrossSigning(t, aliceID)
		if err := ks.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: aliceID, MasterKey: alice2.MasterKey()}); err != nil {
			t.Fatal(err)
		}
		q = query(t, ks, aliceID, aliceID, bobID)
		if _, ok := q.SelfSigningKeys[aliceID]; ok || q.UserSigningKeys[aliceID] != nil {
			t.Fatalf("old self-signing or user-signing key kept: %+v", q)
		}
		if alice.Verify(alice.SelfSigning, q.DeviceKeys[aliceID][dev.DeviceID]) == nil || alice.Verify(alice.UserSigning, q.MasterKeys[bobID]) == nil {
			t.Fatal("signatures of the dropped keys kept")
		}
		if dev.VerifyDeviceKeys(q.MasterKeys[aliceID]) == nil {
			t.Fatal("the device's signature of the old master key shown on the new one")
		}
		// New sub-keys signed by the new master key are accepted on their own.
		upload(alice2, false)
		if q := query(t, ks, aliceID, aliceID); alice2.Verify(alice2.Master, q.SelfSigningKeys[aliceID]) != nil {
			t.Fatalf("new self-signing key: %+v", q.SelfSigningKeys)
		}
		// Sub-keys signed by the old master key no longer are.
		matrixErr(t, ks.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: aliceID, SelfSigningKey: alice.SelfSigningKey()}), 400, "M_INVALID_SIGNATURE")

		// Deleting a device forgets the signatures of it.
		resp, err = ks.UploadSignatures(ctx, &api.UploadSignaturesRequest{UserID: aliceID, Signatures: map[string]map[string]json.RawMessage{
			aliceID: {dev.DeviceID: alice2.SignWith(alice2.SelfSigning, devKeys(dev))}}})
		if err != nil || len(resp.Failures) != 0 {
			t.Fatalf("%+v %v", resp, err)
		}
		if err := ks.DeleteDeviceKeys(ctx, &api.DeleteDeviceKeysRequest{UserID: aliceID, DeviceIDs: []string{dev.DeviceID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.UploadKeys(ctx, dev.Upload(0, false)); err != nil {
			t.Fatal(err)
		}
		if alice2.Verify(alice2.SelfSigning, devKeys(dev)) == nil {
			t.Fatal("a deleted device's signature came back with its keys")
		}
	})
}
