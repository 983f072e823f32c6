package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// TestQueryWritePosition: read your own writes for topic 7 — each committed change is
// found under its user and its audience; a refused write records nothing; a keyserver
// started later answers every user with the newest position handed out (its floor).
func TestQueryWritePosition(t *testing.T) {
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
			ob, err := outbox.NewOutbox(sdb, "keyserver", &collector{})
			if err != nil {
				t.Fatal(err)
			}
			k := New(db, testServer)
			k.SetKeyChanges(ob, testTopic)
			alice, bob, carol := "@alice:"+testServer, "@bob:"+testServer, "@carol:"+testServer
			expect := func(k *KeyServer, what string, want map[string]int64) {
				t.Helper()
				for user, w := range want {
					if got, err := k.QueryWritePosition(ctx, user); err != nil || got != w {
						t.Fatalf("%s: position of %s = %d %v, want %d", what, user, got, err, w)
					}
				}
			}
			expect(k, "nothing written", map[string]int64{alice: 0, bob: 0})
			a1 := devicetest.New(t, alice, "A1")
			if _, err := k.UploadKeys(ctx, a1.Upload(1, false)); err != nil {
				t.Fatal(err)
			}
			expect(k, "alice's upload", map[string]int64{alice: 1, bob: 0})
			bad := devicetest.New(t, bob, "B1").Upload(1, false)
			bad.DeviceID = "B2" // device keys naming another device
			if _, err := k.UploadKeys(ctx, bad); err == nil {
				t.Fatal("bad upload accepted")
			}
			expect(k, "refused upload", map[string]int64{alice: 1, bob: 0})

			acs, bcs := devicetest.NewCrossSigning(t, alice), devicetest.NewCrossSigning(t, bob)
			if err := k.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: alice, MasterKey: acs.MasterKey(),
				SelfSigningKey: acs.SelfSigningKey(), UserSigningKey: acs.UserSigningKey()}); err != nil {
				t.Fatal(err)
			}
			if err := k.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: bob, MasterKey: bcs.MasterKey()}); err != nil {
				t.Fatal(err)
			}
			expect(k, "cross-signing keys", map[string]int64{alice: 2, bob: 3})
			var bobMaster struct {
				Keys map[string]string `json:"keys"`
			}
			_ = json.Unmarshal(bcs.MasterKey(), &bobMaster)
			var keyID string
			for id := range bobMaster.Keys {
				keyID = id[len("ed25519:"):]
			}
			res, err := k.UploadSignatures(ctx, &api.UploadSignaturesRequest{UserID: alice,
				Signatures: map[string]map[string]json.RawMessage{bob: {keyID: acs.SignWith(acs.UserSigning, bcs.MasterKey())}}})
			if err != nil || len(res.Failures) != 0 {
				t.Fatalf("signature upload: %+v %v", res, err)
			}
			// The change is bob's (audience alice): alice, who made it, must see it.
			expect(k, "alice signs bob's master key", map[string]int64{alice: 4, bob: 4, carol: 0})

			later := New(db, testServer)
			expect(later, "a keyserver started later", map[string]int64{alice: 4, carol: 4})
		})
	}
}
