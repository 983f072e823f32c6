package internal

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// TestInputDeviceListUpdates: other servers' m.device_list_update EDUs are staged on
// topic 7 (after this server's own changes, on the same dense positions, with prev
// positions per user) when new; an update for a user of another server than its origin,
// for this server's users, without a device or stream_id, and one not newer than the
// device's last are dropped.
func TestInputDeviceListUpdates(t *testing.T) {
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
			alice := "@alice:" + testServer
			if _, err := k.UploadKeys(ctx, devicetest.New(t, alice, "A1").Upload(0, false)); err != nil {
				t.Fatal(err)
			}
			bob := "@bob:b.example"
			input := func(origin string, us ...api.DeviceListUpdate) {
				t.Helper()
				if err := k.InputDeviceListUpdates(ctx, &api.InputDeviceListUpdatesRequest{Origin: origin, Updates: us}); err != nil {
					t.Fatal(err)
				}
			}
			input("b.example",
				api.DeviceListUpdate{UserID: bob, DeviceID: "B1", StreamID: 10},
				api.DeviceListUpdate{UserID: bob, DeviceID: "B1", StreamID: 10},            // repeated
				api.DeviceListUpdate{UserID: "@eve:c.example", DeviceID: "E", StreamID: 1}, // not the origin's user
				api.DeviceListUpdate{UserID: alice, DeviceID: "A1", StreamID: 99},          // this server's user
				api.DeviceListUpdate{UserID: bob, StreamID: 11},                            // no device
				api.DeviceListUpdate{UserID: bob, DeviceID: "B2"})                          // no stream_id
			input("b.example", api.DeviceListUpdate{UserID: bob, DeviceID: "B1", StreamID: 9}, // older
				api.DeviceListUpdate{UserID: bob, DeviceID: "B1", StreamID: 12, Deleted: true},
				api.DeviceListUpdate{UserID: bob, DeviceID: "B2", StreamID: 3})
			for {
				n, err := ob.Relay(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			type rec struct {
				pos, prev    int64
				user, device string
				deleted      bool
			}
			var got []rec
			for _, m := range prod.msgs {
				var r api.OutputKeyChange
				if err := json.Unmarshal(m.Value, &r); err != nil {
					t.Fatal(err)
				}
				got = append(got, rec{r.StreamPos, r.PrevStreamPos, r.UserID, r.DeviceID, r.Deleted})
			}
			want := []rec{{1, 0, alice, "A1", false}, {2, 0, bob, "B1", false}, {3, 2, bob, "B1", true}, {4, 3, bob, "B2", false}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("topic 7: got %+v, want %+v", got, want)
			}
		})
	}
}
