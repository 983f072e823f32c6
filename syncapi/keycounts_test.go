package syncapi_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	ksinthttptest "github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
)

type failingKeyServer struct{ keyapi.KeyServerAPI }

func (failingKeyServer) QueryKeyCounts(context.Context, *keyapi.QueryKeyCountsRequest) (*keyapi.QueryKeyCountsResponse, error) {
	return nil, errors.New("keyserver down")
}

// TestSyncKeyCounts: /sync carries the requesting device's one-time key counts and unused
// fallback key types from the keyserver (arrow 16), direct and over inthttp, and they move
// with uploads and claims; another device's keys do not count; without an answer from the
// keyserver /sync still answers, without the two fields.
func TestSyncKeyCounts(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			ctx := context.Background()
			h := newHarnessImpl(t, impl, testenv.SQLitePath(t, "sync"))
			kdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "keys")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { kdb.Close() })
			ks, err := keyserver.NewInternalAPI(ctx, kdb, "test")
			if err != nil {
				t.Fatal(err)
			}
			if impl == implInthttp {
				ks = ksinthttptest.Serve(t, ks)
			}
			h.api.Syncer.KeyAPI = ks
			counts := func(query string) (map[string]any, []any, bool) {
				t.Helper()
				code, body := h.get("alice_tok", "/_matrix/client/v3/sync?"+query)
				if code != 200 {
					t.Fatalf("sync: %d %v", code, body)
				}
				c, _ := body["device_one_time_keys_count"].(map[string]any)
				fb, ok := body["device_unused_fallback_key_types"].([]any)
				return c, fb, ok
			}
			if c, fb, ok := counts(""); c["signed_curve25519"] != 0.0 || !ok || len(fb) != 0 {
				t.Fatalf("before any upload: %v %v", c, fb)
			}
			alice := devicetest.New(t, user("alice"), "ALICEDEV")
			if _, err := ks.UploadKeys(ctx, alice.Upload(3, true)); err != nil {
				t.Fatal(err)
			}
			other := devicetest.New(t, user("alice"), "PHONE")
			if _, err := ks.UploadKeys(ctx, other.Upload(5, false)); err != nil {
				t.Fatal(err)
			}
			c, fb, _ := counts("")
			if c["signed_curve25519"] != 3.0 || fmt.Sprint(fb) != "[signed_curve25519]" {
				t.Fatalf("after upload: %v %v", c, fb)
			}
			claim := &keyapi.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{alice.UserID: {alice.DeviceID: "signed_curve25519"}}}
			for range 4 { // three one-time keys, then the fallback key
				if _, err := ks.ClaimKeys(ctx, claim); err != nil {
					t.Fatal(err)
				}
			}
			since := h.sync("alice_tok", "").NextBatch
			if c, fb, ok := counts("timeout=0&since=" + since); c["signed_curve25519"] != 0.0 || !ok || len(fb) != 0 {
				t.Fatalf("after claims (incremental): %v %v", c, fb)
			}

			h.api.Syncer.KeyAPI = failingKeyServer{ks}
			if c, _, ok := counts(""); c != nil || ok {
				t.Fatalf("with the keyserver down: %v %v", c, ok)
			}
		})
	}
}
