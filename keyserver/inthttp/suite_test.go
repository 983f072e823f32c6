package inthttp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
)

const server = "test.local"

// each runs fn over SQLite and Postgres, on the direct implementation and over inthttp.
func each(t *testing.T, fn func(t *testing.T, ks api.KeyServerAPI)) {
	for dbName, dsn := range testenv.Databases(t) {
		for _, mode := range []string{"direct", "inthttp"} {
			t.Run(dbName+"/"+mode, func(t *testing.T) {
				db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				ks, err := keyserver.NewInternalAPI(context.Background(), db, server)
				if err != nil {
					t.Fatal(err)
				}
				if mode == "inthttp" {
					ks = inthttptest.Serve(t, ks)
				}
				fn(t, ks)
			})
		}
	}
}

func matrixErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	var me *httputil.MatrixError
	if !errors.As(err, &me) || me.Status != status || me.ErrCode != code {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
}

func counts(t *testing.T, ks api.KeyServerAPI, d *devicetest.Device) *api.QueryKeyCountsResponse {
	t.Helper()
	c, err := ks.QueryKeyCounts(context.Background(), &api.QueryKeyCountsRequest{UserID: d.UserID, DeviceID: d.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUploadQueryClaim: device keys, one-time keys and a fallback key are stored and
// counted; another user sees the device keys as uploaded; claims take the one-time keys
// one by one, then the fallback key (marked used, claimable again), then nothing.
func TestUploadQueryClaim(t *testing.T) {
	each(t, func(t *testing.T, ks api.KeyServerAPI) {
		ctx := context.Background()
		alice := devicetest.New(t, "@alice:"+server, "ALICEDEV")
		req := alice.Upload(2, true)
		resp, err := ks.UploadKeys(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 2 {
			t.Fatalf("counts after upload: %v", resp.OneTimeKeyCounts)
		}
		// The same upload again is accepted and changes nothing.
		if resp, err := ks.UploadKeys(ctx, req); err != nil || resp.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 2 {
			t.Fatalf("repeated upload: %+v %v", resp, err)
		}
		if c := counts(t, ks, alice); c.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 2 ||
			fmt.Sprint(c.UnusedFallbackKeyTypes) != "[signed_curve25519]" {
			t.Fatalf("counts: %+v", c)
		}

		q, err := ks.QueryKeys(ctx, &api.QueryKeysRequest{Requester: "@bob:" + server,
			DeviceKeys: map[string][]string{alice.UserID: nil, "@nokeys:" + server: {}, "@carol:other.example": nil}})
		if err != nil {
			t.Fatal(err)
		}
		got := q.DeviceKeys[alice.UserID][alice.DeviceID]
		var dk map[string]any
		if err := json.Unmarshal(got, &dk); err != nil || dk["device_id"] != alice.DeviceID || alice.VerifyDeviceKeys(got) != nil {
			t.Fatalf("query: %s %v", got, err)
		}
		if devs, ok := q.DeviceKeys["@nokeys:"+server]; !ok || len(devs) != 0 {
			t.Fatalf("user without keys: %v", q.DeviceKeys)
		}
		if _, ok := q.Failures["other.example"]; !ok || len(q.Failures) != 1 {
			t.Fatalf("failures: %v", q.Failures)
		}
		if q, err := ks.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{alice.UserID: {"OTHER"}}}); err != nil ||
			len(q.DeviceKeys[alice.UserID]) != 0 {
			t.Fatalf("query of another device: %+v %v", q, err)
		}

		claim := func() map[string]json.RawMessage {
			t.Helper()
			c, err := ks.ClaimKeys(ctx, &api.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{
				alice.UserID: {alice.DeviceID: api.AlgorithmSignedCurve25519}}})
			if err != nil {
				t.Fatal(err)
			}
			return c.OneTimeKeys[alice.UserID][alice.DeviceID]
		}
		seen := map[string]bool{}
		for range 2 {
			k := claim()
			for id := range k {
				if seen[id] || id == alice.FallbackKeyID {
					t.Fatalf("claimed %s twice or the fallback key early", id)
				}
				seen[id] = true
			}
			if len(k) != 1 {
				t.Fatalf("claim: %v", k)
			}
		}
		if c := counts(t, ks, alice); c.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 0 || len(c.UnusedFallbackKeyTypes) != 1 {
			t.Fatalf("counts after two claims: %+v", c)
		}
		for range 2 { // the fallback key, again and again
			k := claim()
			if _, ok := k[alice.FallbackKeyID]; !ok || len(k) != 1 {
				t.Fatalf("fallback claim: %v", k)
			}
		}
		if c := counts(t, ks, alice); len(c.UnusedFallbackKeyTypes) != 0 {
			t.Fatalf("fallback key not marked used: %+v", c)
		}
		// A new fallback key is unused again.
		up := alice.Upload(0, true)
		up.DeviceKeys = nil
		if _, err := ks.UploadKeys(ctx, up); err != nil {
			t.Fatal(err)
		}
		if c := counts(t, ks, alice); len(c.UnusedFallbackKeyTypes) != 1 {
			t.Fatalf("new fallback key: %+v", c)
		}
		// A device without keys: nothing; another algorithm: nothing.
		c, err := ks.ClaimKeys(ctx, &api.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{
			alice.UserID: {"NOPE": api.AlgorithmSignedCurve25519}, "@x:" + server: {"D": "curve25519"}}})
		if err != nil || len(c.OneTimeKeys) != 0 {
			t.Fatalf("claim of nothing: %+v %v", c, err)
		}

		// Deleting the device forgets its keys.
		if err := ks.DeleteDeviceKeys(ctx, &api.DeleteDeviceKeysRequest{UserID: alice.UserID, DeviceIDs: []string{alice.DeviceID}}); err != nil {
			t.Fatal(err)
		}
		q, err = ks.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{alice.UserID: nil}})
		if err != nil || len(q.DeviceKeys[alice.UserID]) != 0 {
			t.Fatalf("after delete: %+v %v", q, err)
		}
		if c := counts(t, ks, alice); c.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 0 || len(c.UnusedFallbackKeyTypes) != 0 {
			t.Fatalf("counts after delete: %+v", c)
		}
		// All of a user's devices at once; other users keep theirs.
		a1, a2, bob := devicetest.New(t, alice.UserID, "A1"), devicetest.New(t, alice.UserID, "A2"), devicetest.New(t, "@bob:"+server, "B1")
		for _, d := range []*devicetest.Device{a1, a2, bob} {
			if _, err := ks.UploadKeys(ctx, d.Upload(1, false)); err != nil {
				t.Fatal(err)
			}
		}
		if err := ks.DeleteDeviceKeys(ctx, &api.DeleteDeviceKeysRequest{UserID: alice.UserID, All: true}); err != nil {
			t.Fatal(err)
		}
		q, err = ks.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{alice.UserID: nil, bob.UserID: nil}})
		if err != nil || len(q.DeviceKeys[alice.UserID]) != 0 || len(q.DeviceKeys[bob.UserID]) != 1 {
			t.Fatalf("after deleting all: %+v %v", q, err)
		}
	})
}

// TestUploadRefusesBadInput: each bad upload is a 400 with the spec's errcode and stores
// nothing — not even the good keys next to the bad one.
func TestUploadRefusesBadInput(t *testing.T) {
	each(t, func(t *testing.T, ks api.KeyServerAPI) {
		ctx := context.Background()
		alice := devicetest.New(t, "@alice:"+server, "ALICEDEV")
		mallory := devicetest.New(t, "@mallory:"+server, "MALDEV")
		otherKey := make([]byte, 32)
		rand.Read(otherKey)
		cases := []struct {
			name   string
			mutate func(r *api.UploadKeysRequest)
			code   string
		}{
			{"device keys of another user", func(r *api.UploadKeysRequest) { r.DeviceKeys = mallory.DeviceKeysFor(mallory.UserID, alice.DeviceID) }, "M_INVALID_PARAM"},
			{"device keys of another device", func(r *api.UploadKeysRequest) { r.DeviceKeys = alice.DeviceKeysFor(alice.UserID, "OTHERDEV") }, "M_INVALID_PARAM"},
			{"bad device key signature", func(r *api.UploadKeysRequest) { r.DeviceKeys = alice.Resigned(r.DeviceKeys, mallory) }, "M_INVALID_PARAM"},
			{"unsigned device keys", func(r *api.UploadKeysRequest) { r.DeviceKeys = devicetest.Without(r.DeviceKeys, "signatures") }, "M_INVALID_PARAM"},
			{"device keys changed after signing", func(r *api.UploadKeysRequest) {
				r.DeviceKeys = devicetest.With(r.DeviceKeys, "algorithms", []string{"m.megolm.v1.aes-sha2"})
			}, "M_INVALID_PARAM"},
			{"device keys without ed25519", func(r *api.UploadKeysRequest) {
				r.DeviceKeys = alice.SignedDeviceKeys(map[string]string{"curve25519:ALICEDEV": devicetest.B64(otherKey)})
			}, "M_INVALID_PARAM"},
			{"unknown device key algorithm", func(r *api.UploadKeysRequest) {
				r.DeviceKeys = alice.SignedDeviceKeys(alice.KeysWith(map[string]string{"rsa:ALICEDEV": devicetest.B64(otherKey)}))
			}, "M_INVALID_PARAM"},
			{"malformed device key", func(r *api.UploadKeysRequest) {
				r.DeviceKeys = alice.SignedDeviceKeys(alice.KeysWith(map[string]string{"curve25519:ALICEDEV": "not base64!"}))
			}, "M_INVALID_PARAM"},
			{"device keys not an object", func(r *api.UploadKeysRequest) { r.DeviceKeys = json.RawMessage(`["x"]`) }, "M_BAD_JSON"},
			{"unknown one-time key algorithm", func(r *api.UploadKeysRequest) {
				r.OneTimeKeys["rot13:AAAA"] = json.RawMessage(`"` + devicetest.B64(otherKey) + `"`)
			}, "M_INVALID_PARAM"},
			{"one-time key ID without algorithm", func(r *api.UploadKeysRequest) { r.OneTimeKeys["AAAA"] = json.RawMessage(`"x"`) }, "M_INVALID_PARAM"},
			{"short curve25519 key", func(r *api.UploadKeysRequest) { r.OneTimeKeys["curve25519:AAAA"] = json.RawMessage(`"AAAA"`) }, "M_INVALID_PARAM"},
			{"one-time key signed by another device", func(r *api.UploadKeysRequest) {
				r.OneTimeKeys["signed_curve25519:MAL"] = mallory.SignedKey(alice.UserID, false)
			}, "M_INVALID_PARAM"},
			{"unsigned signed_curve25519 key", func(r *api.UploadKeysRequest) {
				r.OneTimeKeys["signed_curve25519:NOSIG"] = json.RawMessage(`{"key":"` + devicetest.B64(otherKey) + `"}`)
			}, "M_INVALID_PARAM"},
			{"bad fallback key signature", func(r *api.UploadKeysRequest) {
				r.FallbackKeys = map[string]json.RawMessage{"signed_curve25519:FB": mallory.SignedKey(alice.UserID, true)}
			}, "M_INVALID_PARAM"},
			{"two fallback keys of one algorithm", func(r *api.UploadKeysRequest) {
				r.FallbackKeys["signed_curve25519:FB2"] = alice.SignedKey(alice.UserID, true)
			}, "M_INVALID_PARAM"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := alice.Upload(2, true)
				tc.mutate(req)
				_, err := ks.UploadKeys(ctx, req)
				matrixErr(t, err, 400, tc.code)
				q, err := ks.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{alice.UserID: nil}})
				if err != nil || len(q.DeviceKeys[alice.UserID]) != 0 {
					t.Fatalf("stored after a refused upload: %+v %v", q, err)
				}
				if c := counts(t, ks, alice); c.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 0 || len(c.UnusedFallbackKeyTypes) != 0 {
					t.Fatalf("keys stored after a refused upload: %+v", c)
				}
			})
		}
		// Signed keys before any device keys are refused.
		req := alice.Upload(1, false)
		req.DeviceKeys = nil
		_, err := ks.UploadKeys(ctx, req)
		matrixErr(t, err, 400, "M_INVALID_PARAM")
		// Another server's device.
		remote := devicetest.New(t, "@eve:other.example", "EVEDEV")
		_, err = ks.UploadKeys(ctx, remote.Upload(1, false))
		matrixErr(t, err, 400, "M_INVALID_PARAM")

		// A one-time key ID re-used with another key is refused, and the rest of that
		// upload is not stored.
		first := alice.Upload(1, false)
		if _, err := ks.UploadKeys(ctx, first); err != nil {
			t.Fatal(err)
		}
		second := alice.Upload(1, false)
		for id := range first.OneTimeKeys {
			second.OneTimeKeys[id] = alice.SignedKey(alice.UserID, false)
		}
		_, err = ks.UploadKeys(ctx, second)
		matrixErr(t, err, 400, "M_INVALID_PARAM")
		if c := counts(t, ks, alice); c.OneTimeKeyCounts[api.AlgorithmSignedCurve25519] != 1 {
			t.Fatalf("counts after a refused re-use: %+v", c)
		}
		// Query and claim with a malformed user ID.
		_, err = ks.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{"alice": nil}})
		matrixErr(t, err, 400, "M_INVALID_PARAM")
		_, err = ks.ClaimKeys(ctx, &api.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{"alice": {"D": "x"}}})
		matrixErr(t, err, 400, "M_INVALID_PARAM")
	})
}
