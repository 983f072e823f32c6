package internal

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"testing"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// fakeSharedRooms is arrow 22: user → joined rooms.
type fakeSharedRooms struct {
	mu    sync.Mutex
	rooms map[string][]string
}

func (f *fakeSharedRooms) QueryRoomsForUser(_ context.Context, userID string, _ []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rooms[userID], nil
}

// TestRemoteKeyCache: a remote user sharing a room is cached after a query (their
// /user/devices fetched once, in the background) and later queries are answered from the
// cache without asking their server; m.device_list_update with a prev_id naming the
// cached stream_id is applied, one with a gap makes the keyserver fetch /user/devices
// again; m.signing_key_update replaces the cross-signing keys (checked: a self-signing
// key not signed by the master key is dropped; another server's user is dropped) and is
// a topic 7 change; a user sharing no room is never cached; a cached user who no longer
// shares a room is forgotten and asked again.
func TestRemoteKeyCache(t *testing.T) {
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
			bob, carol := "@bob:b.example", "@carol:b.example"
			b1, b2 := devicetest.New(t, bob, "B1"), devicetest.New(t, bob, "B2")
			c1 := devicetest.New(t, carol, "C1")
			cs, cs2 := devicetest.NewCrossSigning(t, bob), devicetest.NewCrossSigning(t, bob)
			remote := &fakeRemote{
				query: map[string]*fsapi.QueryRemoteKeysResponse{"b.example": {DeviceKeys: map[string]map[string]json.RawMessage{
					bob: {"B1": b1.SignedDeviceKeys(b1.Keys())}, carol: {"C1": c1.SignedDeviceKeys(c1.Keys())}},
					MasterKeys: map[string]json.RawMessage{bob: cs.MasterKey()}}},
				devices: map[string]*fsapi.QueryRemoteDevicesResponse{bob: {UserID: bob, StreamID: 5,
					Devices:   map[string]json.RawMessage{"B1": b1.SignedDeviceKeys(b1.Keys()), "FORGED": b1.SignedDeviceKeys(b1.Keys())},
					MasterKey: cs.MasterKey(), SelfSigningKey: cs.SelfSigningKey()}},
			}
			rooms := &fakeSharedRooms{rooms: map[string][]string{bob: {"!r:" + testServer}}}
			k := New(db, testServer)
			k.SetKeyChanges(ob, testTopic)
			k.SetRemoteKeys(remote)
			k.SetSharedRooms(rooms)
			asks := func() []string {
				remote.mu.Lock()
				defer remote.mu.Unlock()
				return slices.Clone(remote.asked)
			}
			query := func(users ...string) *api.QueryKeysResponse {
				t.Helper()
				req := &api.QueryKeysRequest{DeviceKeys: map[string][]string{}}
				for _, u := range users {
					req.DeviceKeys[u] = nil
				}
				resp, err := k.QueryKeys(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			devices := func(resp *api.QueryKeysResponse, user string) []string {
				var out []string
				for id := range resp.DeviceKeys[user] {
					out = append(out, id)
				}
				sort.Strings(out)
				return out
			}
			expectAsks := func(what string, want ...string) {
				t.Helper()
				if got := asks(); !slices.Equal(got, want) {
					t.Fatalf("%s: asked %v, want %v", what, got, want)
				}
			}
			input := func(req *api.InputDeviceListUpdatesRequest) {
				t.Helper()
				if err := k.InputDeviceListUpdates(ctx, req); err != nil {
					t.Fatal(err)
				}
				k.waitResyncs()
			}

			resp := query(bob, carol)
			k.waitResyncs()
			if d := devices(resp, bob); !slices.Equal(d, []string{"B1"}) || len(resp.DeviceKeys[carol]) != 1 {
				t.Fatalf("first query: %+v", resp.DeviceKeys)
			}
			expectAsks("first query: the server, then bob's devices (carol shares no room)", "b.example", "devices "+bob)

			resp = query(bob)
			expectAsks("bob again: from the cache", "b.example", "devices "+bob)
			if d := devices(resp, bob); !slices.Equal(d, []string{"B1"}) || resp.SelfSigningKeys[bob] == nil || resp.MasterKeys[bob] == nil {
				t.Fatalf("cached answer (FORGED left out, self-signing key from /user/devices): %+v %s", resp.DeviceKeys, resp.SelfSigningKeys[bob])
			}
			query(carol)
			expectAsks("carol again: asked (not cached)", "b.example", "devices "+bob, "b.example")

			// An update following the cached stream_id is applied.
			before, _ := k.QueryWritePosition(ctx, bob)
			input(&api.InputDeviceListUpdatesRequest{Origin: "b.example", Updates: []api.DeviceListUpdate{
				{UserID: bob, DeviceID: "B2", StreamID: 6, PrevID: []int64{5}, Keys: b2.SignedDeviceKeys(b2.Keys())}}})
			if d := devices(query(bob), bob); !slices.Equal(d, []string{"B1", "B2"}) {
				t.Fatalf("after the update: %v", d)
			}
			if after, _ := k.QueryWritePosition(ctx, bob); after <= before {
				t.Fatalf("the update was not a topic 7 change: %d → %d", before, after)
			}
			expectAsks("applied update", "b.example", "devices "+bob, "b.example")

			// A gap (prev_id 8 is not the cached 6): the devices are fetched again.
			remote.mu.Lock()
			remote.devices[bob] = &fsapi.QueryRemoteDevicesResponse{UserID: bob, StreamID: 9,
				Devices: map[string]json.RawMessage{"B2": b2.SignedDeviceKeys(b2.Keys())}, MasterKey: cs.MasterKey()}
			remote.mu.Unlock()
			input(&api.InputDeviceListUpdatesRequest{Origin: "b.example", Updates: []api.DeviceListUpdate{
				{UserID: bob, DeviceID: "B1", StreamID: 9, PrevID: []int64{8}, Deleted: true}}})
			expectAsks("gap", "b.example", "devices "+bob, "b.example", "devices "+bob)
			if d := devices(query(bob), bob); !slices.Equal(d, []string{"B2"}) {
				t.Fatalf("after the resync: %v", d)
			}
			// An old update changes nothing.
			input(&api.InputDeviceListUpdatesRequest{Origin: "b.example", Updates: []api.DeviceListUpdate{
				{UserID: bob, DeviceID: "B1", StreamID: 7, PrevID: []int64{6}, Keys: b1.SignedDeviceKeys(b1.Keys())}}})
			if d := devices(query(bob), bob); !slices.Equal(d, []string{"B2"}) {
				t.Fatalf("after an old update: %v", d)
			}
			// An update without keys (another server's signature of the device): fetched again.
			remote.mu.Lock()
			remote.devices[bob].StreamID = 10
			remote.mu.Unlock()
			input(&api.InputDeviceListUpdatesRequest{Origin: "b.example", Updates: []api.DeviceListUpdate{
				{UserID: bob, DeviceID: "B2", StreamID: 10, PrevID: []int64{9}}}})
			expectAsks("update without keys", "b.example", "devices "+bob, "b.example", "devices "+bob, "devices "+bob)

			// m.signing_key_update: new keys are served; bad ones and other servers' users dropped.
			before, _ = k.QueryWritePosition(ctx, bob)
			input(&api.InputDeviceListUpdatesRequest{Origin: "b.example", SigningKeyUpdates: []api.SigningKeyUpdate{
				{UserID: bob, MasterKey: cs2.MasterKey(), SelfSigningKey: cs2.SelfSigningKey()}}})
			resp = query(bob)
			if string(resp.MasterKeys[bob]) != string(cs2.MasterKey()) || string(resp.SelfSigningKeys[bob]) != string(cs2.SelfSigningKey()) {
				t.Fatalf("after m.signing_key_update: %s %s", resp.MasterKeys[bob], resp.SelfSigningKeys[bob])
			}
			if after, _ := k.QueryWritePosition(ctx, bob); after <= before {
				t.Fatalf("m.signing_key_update was not a topic 7 change: %d → %d", before, after)
			}
			input(&api.InputDeviceListUpdatesRequest{Origin: "b.example", SigningKeyUpdates: []api.SigningKeyUpdate{
				{UserID: bob, SelfSigningKey: cs.KeyObject("self_signing", cs.SelfSigning, cs.Master)}, // not signed by cs2's master
				{UserID: bob, MasterKey: json.RawMessage(`{"user_id":"@bob:b.example","usage":["master"],"keys":{}}`)},
			}})
			input(&api.InputDeviceListUpdatesRequest{Origin: "c.example", SigningKeyUpdates: []api.SigningKeyUpdate{
				{UserID: bob, MasterKey: cs.MasterKey()}}})
			resp = query(bob)
			if string(resp.MasterKeys[bob]) != string(cs2.MasterKey()) || string(resp.SelfSigningKeys[bob]) != string(cs2.SelfSigningKey()) {
				t.Fatalf("a bad m.signing_key_update was taken: %s %s", resp.MasterKeys[bob], resp.SelfSigningKeys[bob])
			}
			expectAsks("signing keys", "b.example", "devices "+bob, "b.example", "devices "+bob, "devices "+bob)

			// Bob shares no room any more: forgotten, asked again each time, not cached.
			rooms.mu.Lock()
			rooms.rooms = nil
			rooms.mu.Unlock()
			k.cache.mu.Lock()
			k.cache.shares = map[string]sharesAnswer{} // as if sharesTTL passed
			k.cache.mu.Unlock()
			if d := devices(query(bob), bob); !slices.Equal(d, []string{"B1"}) {
				t.Fatalf("bob not sharing: %v", d)
			}
			k.waitResyncs()
			query(bob)
			expectAsks("bob not sharing", "b.example", "devices "+bob, "b.example", "devices "+bob, "devices "+bob, "b.example", "b.example")
		})
	}
}
