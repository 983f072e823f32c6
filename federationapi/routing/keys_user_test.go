package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	keyinthttptest "github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
	"github.com/axon-matrix/axon/matrix/federation"
)

// TestUserKeyEndpoints drives arrow 15 (federationapi → keyserver) with X-Matrix signed
// requests from remote.example against a real keyserver (direct and over inthttp):
// /user/devices lists alice's devices with keys, her master and self-signing keys and a
// stream_id that grows with each change; /user/keys/query answers only this server's
// users and never a user-signing key; /user/keys/claim takes a one-time key; unsigned,
// malformed and foreign requests get the spec's errors.
func TestUserKeyEndpoints(t *testing.T) {
	for _, impl := range []string{"direct", "inthttp"} {
		t.Run(impl, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "keys")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			// The topic 7 records are dropped here; their positions are the stream_ids.
			ks, err := keyserver.NewInternalAPI(ctx, db, us, keyserver.WithKeyChanges(discardOutbox{}, "axon.key_change"))
			if err != nil {
				t.Fatal(err)
			}
			if impl == "inthttp" {
				ks = keyinthttptest.Serve(t, ks)
			}
			e := newEnv(t)
			root := mux.NewRouter()
			root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
			})
			Setup(root, root, Config{ServerName: us, MaxBodyBytes: 4096, KeyServer: ks}, e.keys)
			srv := httptest.NewServer(root)
			t.Cleanup(srv.Close)
			e.srv = srv

			call := func(method, uri string, body any, signed bool) (int, map[string]any) {
				t.Helper()
				var raw []byte
				if body != nil {
					raw, _ = json.Marshal(body)
				}
				var auth []string
				if signed {
					x, err := federation.RequestToSign{Method: method, URI: uri, Origin: "remote.example", Destination: us,
						Content: raw}.Sign(e.remote.ID, e.remote.Private)
					if err != nil {
						t.Fatal(err)
					}
					auth = append(auth, x.String())
				}
				return e.do(t, method, uri, raw, auth...)
			}

			alice := "@alice:" + us
			devA, devB := devicetest.New(t, alice, "ADEV"), devicetest.New(t, alice, "BDEV")
			for _, d := range []*devicetest.Device{devA, devB} {
				if _, err := ks.UploadKeys(ctx, d.Upload(2, false)); err != nil {
					t.Fatal(err)
				}
			}
			cs := devicetest.NewCrossSigning(t, alice)
			if err := ks.UploadCrossSigningKeys(ctx, &keyapi.UploadCrossSigningKeysRequest{UserID: alice, MasterKey: cs.MasterKey(),
				SelfSigningKey: cs.SelfSigningKey(), UserSigningKey: cs.UserSigningKey()}); err != nil {
				t.Fatal(err)
			}
			devicesURI := "/_matrix/federation/v1/user/devices/" + url.PathEscape(alice)
			code, body := call("GET", devicesURI, nil, true)
			if code != 200 || body["user_id"] != alice || body["master_key"] == nil || body["self_signing_key"] == nil {
				t.Fatalf("devices: %d %v", code, body)
			}
			var ids []string
			for _, d := range body["devices"].([]any) {
				dev := d.(map[string]any)
				ids = append(ids, dev["device_id"].(string))
				keys, _ := json.Marshal(dev["keys"])
				if err := devicetest.New(t, alice, "x").VerifyDeviceKeys(keys); err == nil {
					t.Fatal("verification with a stranger's key passed")
				}
			}
			if !reflect.DeepEqual(ids, []string{"ADEV", "BDEV"}) {
				t.Fatalf("devices %v", ids)
			}
			stream1 := body["stream_id"].(float64)
			if stream1 != 3 { // two devices' keys, then the cross-signing keys
				t.Fatalf("stream_id %v", stream1)
			}
			if err := ks.DeleteDeviceKeys(ctx, &keyapi.DeleteDeviceKeysRequest{UserID: alice, DeviceIDs: []string{"BDEV"}}); err != nil {
				t.Fatal(err)
			}
			if _, body := call("GET", devicesURI, nil, true); len(body["devices"].([]any)) != 1 || body["stream_id"].(float64) != stream1+1 {
				t.Fatalf("devices after a deletion: %v", body)
			}

			q := map[string]any{"device_keys": map[string]any{alice: []string{}, "@bob:remote.example": []string{}}}
			code, body = call("POST", "/_matrix/federation/v1/user/keys/query", q, true)
			dk, _ := body["device_keys"].(map[string]any)
			if code != 200 || len(dk) != 1 || dk[alice] == nil || body["master_keys"].(map[string]any)[alice] == nil ||
				body["user_signing_keys"] != nil {
				t.Fatalf("query: %d %v", code, body)
			}
			raw, _ := json.Marshal(dk[alice].(map[string]any)["ADEV"])
			if err := devA.VerifyDeviceKeys(raw); err != nil {
				t.Fatalf("queried keys: %v", err)
			}

			claim := map[string]any{"one_time_keys": map[string]any{alice: map[string]string{"ADEV": keyapi.AlgorithmSignedCurve25519},
				"@bob:remote.example": map[string]string{"X": keyapi.AlgorithmSignedCurve25519}}}
			code, body = call("POST", "/_matrix/federation/v1/user/keys/claim", claim, true)
			otk, _ := body["one_time_keys"].(map[string]any)
			if code != 200 || len(otk) != 1 || len(otk[alice].(map[string]any)["ADEV"].(map[string]any)) != 1 {
				t.Fatalf("claim: %d %v", code, body)
			}
			c, err := ks.QueryKeyCounts(ctx, &keyapi.QueryKeyCountsRequest{UserID: alice, DeviceID: "ADEV"})
			if err != nil || c.OneTimeKeyCounts[keyapi.AlgorithmSignedCurve25519] != 1 {
				t.Fatalf("counts after the claim: %+v %v", c, err)
			}

			for _, tc := range []struct {
				name, method, uri string
				body              any
				signed            bool
				status            int
				code              string
			}{
				{"unsigned devices", "GET", devicesURI, nil, false, 401, "M_UNAUTHORIZED"},
				{"unsigned query", "POST", "/_matrix/federation/v1/user/keys/query", q, false, 401, "M_UNAUTHORIZED"},
				{"unsigned claim", "POST", "/_matrix/federation/v1/user/keys/claim", claim, false, 401, "M_UNAUTHORIZED"},
				{"another server's user", "GET", "/_matrix/federation/v1/user/devices/" + url.PathEscape("@bob:remote.example"), nil, true, 400, "M_INVALID_PARAM"},
				{"query without device_keys", "POST", "/_matrix/federation/v1/user/keys/query", map[string]any{}, true, 400, "M_BAD_JSON"},
				{"query of the wrong shape", "POST", "/_matrix/federation/v1/user/keys/query", map[string]any{"device_keys": []int{1}}, true, 400, "M_BAD_JSON"},
				{"claim without one_time_keys", "POST", "/_matrix/federation/v1/user/keys/claim", map[string]any{}, true, 400, "M_BAD_JSON"},
			} {
				if code, body := call(tc.method, tc.uri, tc.body, tc.signed); code != tc.status || body["errcode"] != tc.code {
					t.Fatalf("%s: %d %v, want %d %s", tc.name, code, body, tc.status, tc.code)
				}
			}
		})
	}
}
