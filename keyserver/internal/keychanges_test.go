package internal

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/storage"
)

const (
	testServer = "test.local"
	testTopic  = "axon.key_change"
)

// collector is an eventlog.Producer that keeps what the outbox relays.
type collector struct {
	mu   sync.Mutex
	msgs []eventlog.Message
}

func (c *collector) Publish(_ context.Context, msgs ...eventlog.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *collector) Close() error { return nil }

// change is the part of a topic 7 record a test compares.
type change struct {
	pos          int64
	user, device string
	deleted      bool
	crossSigning bool
	audience     string
	hasKeys      bool // device keys, or the cross-signing keys (m.signing_key_update)
}

// TestKeyChangesStaged: every change of a device list or of cross-signing keys is staged
// on topic 7 through the keyserver's outbox, keyed by the user, with dense positions from
// 1; uploads that change no device keys, and refused uploads, stage nothing; the
// positions are each user's stream_id.
func TestKeyChangesStaged(t *testing.T) {
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
			prod := &collector{}
			ob, err := outbox.NewOutbox(sdb, "keyserver", prod)
			if err != nil {
				t.Fatal(err)
			}
			k := New(db, testServer)
			k.SetKeyChanges(ob, testTopic)
			records := func() []change {
				t.Helper()
				for {
					n, err := ob.Relay(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				prod.mu.Lock()
				defer prod.mu.Unlock()
				var out []change
				for _, m := range prod.msgs {
					var r api.OutputKeyChange
					if err := json.Unmarshal(m.Value, &r); err != nil || m.Topic != testTopic || m.Key != r.UserID {
						t.Fatalf("record %s on %s key %s: %v", m.Value, m.Topic, m.Key, err)
					}
					c := change{pos: r.StreamPos, user: r.UserID, device: r.DeviceID, deleted: r.Deleted, crossSigning: r.CrossSigning,
						hasKeys: len(r.DeviceKeys) > 0 || (len(r.MasterKey) > 0 && r.CrossSigning)}
					if len(r.Audience) > 0 {
						c.audience = r.Audience[0]
					}
					out = append(out, c)
				}
				prod.msgs = nil
				return out
			}
			expect := func(what string, want ...change) {
				t.Helper()
				if got := records(); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: got %+v, want %+v", what, got, want)
				}
			}
			alice, bob := "@alice:"+testServer, "@bob:"+testServer
			a1, a2 := devicetest.New(t, alice, "A1"), devicetest.New(t, alice, "A2")
			up := a1.Upload(2, true)
			if _, err := k.UploadKeys(ctx, up); err != nil {
				t.Fatal(err)
			}
			expect("first upload", change{pos: 1, user: alice, device: "A1", hasKeys: true})
			if _, err := k.UploadKeys(ctx, up); err != nil {
				t.Fatal(err)
			}
			if _, err := k.UploadKeys(ctx, &api.UploadKeysRequest{UserID: alice, DeviceID: "A1",
				OneTimeKeys: a1.Upload(3, false).OneTimeKeys}); err != nil {
				t.Fatal(err)
			}
			expect("same keys again, one-time keys only")
			// A refused upload (a one-time key ID re-used with other content) stages nothing,
			// not even its new device keys.
			bad := a2.Upload(1, false)
			bad.OneTimeKeys = up.OneTimeKeys
			for id := range bad.OneTimeKeys {
				bad.OneTimeKeys[id] = a2.SignedKey(alice, false)
			}
			bad.DeviceID = "A1"
			bad.DeviceKeys = a2.DeviceKeysFor(alice, "A1")
			if _, err := k.UploadKeys(ctx, bad); err == nil {
				t.Fatal("conflicting one-time key accepted")
			}
			expect("refused upload")
			if _, err := k.UploadKeys(ctx, a2.Upload(1, false)); err != nil {
				t.Fatal(err)
			}
			expect("second device", change{pos: 2, user: alice, device: "A2", hasKeys: true})

			cs := devicetest.NewCrossSigning(t, alice)
			csReq := &api.UploadCrossSigningKeysRequest{UserID: alice, MasterKey: cs.MasterKey(), SelfSigningKey: cs.SelfSigningKey(),
				UserSigningKey: cs.UserSigningKey()}
			if err := k.UploadCrossSigningKeys(ctx, csReq); err != nil {
				t.Fatal(err)
			}
			if err := k.UploadCrossSigningKeys(ctx, csReq); err != nil {
				t.Fatal(err)
			}
			expect("cross-signing keys (the same again: nothing)", change{pos: 3, user: alice, crossSigning: true, hasKeys: true})

			// Alice signs bob's master key: only she sees bob's keys changed.
			bcs := devicetest.NewCrossSigning(t, bob)
			if err := k.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: bob, MasterKey: bcs.MasterKey()}); err != nil {
				t.Fatal(err)
			}
			signed := cs.SignWith(cs.UserSigning, bcs.MasterKey())
			var bobMaster struct {
				Keys map[string]string `json:"keys"`
			}
			_ = json.Unmarshal(bcs.MasterKey(), &bobMaster)
			var keyID string
			for id := range bobMaster.Keys {
				keyID = id[len("ed25519:"):]
			}
			res, err := k.UploadSignatures(ctx, &api.UploadSignaturesRequest{UserID: alice,
				Signatures: map[string]map[string]json.RawMessage{bob: {keyID: signed}}})
			if err != nil || len(res.Failures) != 0 {
				t.Fatalf("signature upload: %+v %v", res, err)
			}
			expect("bob's master key, then alice's signature of it",
				change{pos: 4, user: bob, crossSigning: true, hasKeys: true}, change{pos: 5, user: bob, crossSigning: true, audience: alice})

			// Alice signs her device A2 with her self-signing key: a change naming the device
			// (the federationsender's m.device_list_update).
			res, err = k.UploadSignatures(ctx, &api.UploadSignaturesRequest{UserID: alice,
				Signatures: map[string]map[string]json.RawMessage{alice: {"A2": cs.SignWith(cs.SelfSigning, a2.Upload(0, false).DeviceKeys)}}})
			if err != nil || len(res.Failures) != 0 {
				t.Fatalf("device signature upload: %+v %v", res, err)
			}
			expect("alice's signature of her device", change{pos: 6, user: alice, device: "A2", crossSigning: true})

			if err := k.DeleteDeviceKeys(ctx, &api.DeleteDeviceKeysRequest{UserID: alice, DeviceIDs: []string{"A2", "NOKEYS"}}); err != nil {
				t.Fatal(err)
			}
			expect("deleted device (one without keys: nothing)", change{pos: 7, user: alice, device: "A2", deleted: true})
			if err := k.DeleteDeviceKeys(ctx, &api.DeleteDeviceKeysRequest{UserID: alice, All: true}); err != nil {
				t.Fatal(err)
			}
			expect("every device", change{pos: 8, user: alice, device: "A1", deleted: true})
			for user, want := range map[string]int64{alice: 8, bob: 5, "@carol:" + testServer: 0} {
				if got, err := db.DeviceListStream(ctx, user); err != nil || got != want {
					t.Fatalf("stream of %s: %d %v, want %d", user, got, err, want)
				}
			}
		})
	}
}
