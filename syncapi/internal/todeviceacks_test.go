package internal

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// TestToDeviceAcksGroup: many devices acknowledging at once (some twice, one with a
// cancelled request) each return only after their own messages up to their position are
// gone, and nothing above it is touched; a failing group reports its error to every
// caller in it.
func TestToDeviceAcksGroup(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sdb.Close() })
			db, err := storage.NewDatabase(ctx, sdb)
			if err != nil {
				t.Fatal(err)
			}
			const devices = 60
			var msgs []storage.ToDevice
			pos := int64(0)
			for round := range 3 {
				for d := range devices {
					pos++
					msgs = append(msgs, storage.ToDevice{UserID: fmt.Sprintf("@u%d:test", d), DeviceID: "DEV", Sender: "@s:test",
						Type: "m.test", Content: []byte(fmt.Sprintf(`{"round":%d}`, round)), StreamPos: pos})
				}
			}
			if _, err := db.StoreToDeviceRun(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			var acks toDeviceAcks
			var wg sync.WaitGroup
			errs := make([]error, devices)
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			for d := range devices {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := ctx
					if d == 7 {
						c = cancelled // the group runs on without the request's cancellation
					}
					user := fmt.Sprintf("@u%d:test", d)
					// Up to the device's message of round 1 (two of its three).
					upTo := int64(devices + d + 1)
					if errs[d] = acks.delete(c, db, storage.ToDeviceAck{UserID: user, DeviceID: "DEV", UpTo: upTo}); errs[d] != nil {
						return
					}
					if d%5 == 0 { // a repeated acknowledgement changes nothing
						errs[d] = acks.delete(c, db, storage.ToDeviceAck{UserID: user, DeviceID: "DEV", UpTo: upTo})
					}
				}()
			}
			wg.Wait()
			for d := range devices {
				if errs[d] != nil {
					t.Fatalf("device %d: %v", d, errs[d])
				}
				left, err := db.ToDeviceBetween(ctx, fmt.Sprintf("@u%d:test", d), "DEV", 0, pos, 10)
				if err != nil || len(left) != 1 || left[0].StreamPos != int64(2*devices+d+1) {
					t.Fatalf("device %d: left %+v %v, want only the round 2 message", d, left, err)
				}
			}
			if len(acks.queue) != 0 {
				t.Fatalf("%d acknowledgements left queued", len(acks.queue))
			}
			// A group that cannot commit fails each of its callers.
			sdb.Close()
			if err := acks.delete(ctx, db, storage.ToDeviceAck{UserID: "@u1:test", DeviceID: "DEV", UpTo: pos}); err == nil {
				t.Fatal("delete on a closed database: no error")
			}
		})
	}
}
