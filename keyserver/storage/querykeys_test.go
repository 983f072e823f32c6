package storage_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// TestKeysOf: the one-statement read of a /keys/query returns each asked user's device
// keys (of the listed devices, or all), cross-signing keys and the signatures of their
// keys, and nothing of users not asked for, on SQLite and Postgres.
func TestKeysOf(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sdb.Close() })
			db, err := storage.Open(ctx, sdb)
			if err != nil {
				t.Fatal(err)
			}
			const alice, bob, carol = "@alice:test", "@bob:test", "@carol:test"
			for _, d := range []struct{ user, dev string }{{alice, "A1"}, {alice, "A2"}, {bob, "B1"}, {carol, "C1"}} {
				if err := db.StoreUpload(ctx, &storage.Upload{UserID: d.user, DeviceID: d.dev, DeviceKeys: &storage.DeviceKeys{
					Ed25519: "ed-" + d.dev, JSON: []byte(`{"device_id":"` + d.dev + `"}`)}}); err != nil {
					t.Fatal(err)
				}
			}
			for _, u := range []string{alice, carol} {
				if err := db.StoreCrossSigningKeys(ctx, u, []storage.CrossSigningKey{
					{Type: "master", KeyID: "ed25519:M" + u, JSON: []byte(`{"m":"` + u + `"}`)},
					{Type: "self_signing", KeyID: "ed25519:S" + u, JSON: []byte(`{"s":"` + u + `"}`)}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			sigs := []storage.Signature{
				{TargetUserID: alice, TargetKeyID: "A1", SignerUserID: alice, SignerKeyID: "ed25519:S" + alice, Signature: "sigA1"},
				{TargetUserID: carol, TargetKeyID: "C1", SignerUserID: carol, SignerKeyID: "ed25519:S" + carol, Signature: "sigC1"},
			}
			if err := db.StoreSignatures(ctx, sigs); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name    string
				ask     map[string][]string
				devices map[string][]string
				cs      []string
				sigs    []string
			}{
				{"all devices", map[string][]string{alice: nil, bob: nil}, map[string][]string{alice: {"A1", "A2"}, bob: {"B1"}}, []string{alice}, []string{"sigA1"}},
				{"listed devices", map[string][]string{alice: {"A2", "gone"}}, map[string][]string{alice: {"A2"}}, []string{alice}, []string{"sigA1"}},
				{"unknown user", map[string][]string{"@nobody:test": nil}, map[string][]string{}, nil, nil},
				{"carol", map[string][]string{carol: nil}, map[string][]string{carol: {"C1"}}, []string{carol}, []string{"sigC1"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, err := db.KeysOf(ctx, tc.ask)
					if err != nil {
						t.Fatal(err)
					}
					devs := map[string][]string{}
					for u, ds := range got.DeviceKeys {
						for d, js := range ds {
							if string(js) != `{"device_id":"`+d+`"}` {
								t.Errorf("%s %s: %s", u, d, js)
							}
							devs[u] = append(devs[u], d)
						}
					}
					for u := range devs {
						if len(devs[u]) == 2 && devs[u][0] > devs[u][1] {
							devs[u][0], devs[u][1] = devs[u][1], devs[u][0]
						}
					}
					if !reflect.DeepEqual(devs, tc.devices) {
						t.Errorf("devices %v, want %v", devs, tc.devices)
					}
					var cs []string
					for u, byType := range got.CrossSigning {
						if len(byType) != 2 || byType["master"].KeyID != "ed25519:M"+u || string(byType["self_signing"].JSON) != `{"s":"`+u+`"}` {
							t.Errorf("cross-signing keys of %s: %+v", u, byType)
						}
						cs = append(cs, u)
					}
					if !reflect.DeepEqual(cs, tc.cs) {
						t.Errorf("cross-signing users %v, want %v", cs, tc.cs)
					}
					var ss []string
					for _, s := range got.Signatures {
						ss = append(ss, s.Signature)
					}
					if !reflect.DeepEqual(ss, tc.sigs) {
						t.Errorf("signatures %v (%+v), want %v", ss, got.Signatures, tc.sigs)
					}
				})
			}
		})
	}
}
