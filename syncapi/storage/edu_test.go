package storage

import (
	"context"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// TestEDUStorage: topic 3 records move the edu watermark over gaps like the other streams;
// a receipt is replaced only by a later position; to-device messages are read per device,
// oldest first, and deleted up to an acknowledged position; replays change nothing.
func TestEDUStorage(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			_, d := openDB(t, dsn(t))
			ctx := context.Background()
			td := func(pos int64, dev, body string) *ToDevice {
				return &ToDevice{UserID: "@a:test", DeviceID: dev, Sender: "@s:test", Type: "m.test", Content: []byte(`{"b":"` + body + `"}`), StreamPos: pos}
			}
			steps := []struct {
				name    string
				store   func() (Advance, error)
				wantTo  int64
				wantDup bool
			}{
				{"typing 1", func() (Advance, error) { return d.StoreTypingPosition(ctx, 1) }, 1, false},
				{"receipt 3 (gap at 2)", func() (Advance, error) {
					return d.StoreReceipt(ctx, &Receipt{RoomID: room, UserID: "@b:test", Type: "m.read", EventID: "$new", TS: 3, StreamPos: 3})
				}, 1, false},
				{"receipt 2 closes the gap, older than 3", func() (Advance, error) {
					return d.StoreReceipt(ctx, &Receipt{RoomID: room, UserID: "@b:test", Type: "m.read", EventID: "$old", TS: 2, StreamPos: 2})
				}, 3, false},
				{"to-device 4", func() (Advance, error) { return d.StoreToDevice(ctx, td(4, "D1", "one")) }, 4, false},
				{"to-device 5, other device", func() (Advance, error) { return d.StoreToDevice(ctx, td(5, "D2", "x")) }, 5, false},
				{"to-device 6", func() (Advance, error) { return d.StoreToDevice(ctx, td(6, "D1", "two")) }, 6, false},
				{"replay of 4", func() (Advance, error) { return d.StoreToDevice(ctx, td(4, "D1", "changed")) }, 6, true},
				{"unusable 7 skipped", func() (Advance, error) { return d.SkipPosition(ctx, StreamEDU, 7) }, 7, false},
			}
			for _, s := range steps {
				adv, err := s.store()
				if err != nil || adv.To != s.wantTo || adv.Duplicate != s.wantDup {
					t.Fatalf("%s: %+v %v, want to %d dup %v", s.name, adv, err, s.wantTo, s.wantDup)
				}
			}
			if w, err := d.EDUWatermark(ctx); err != nil || w != 7 {
				t.Fatalf("watermark %d %v", w, err)
			}
			rs, err := d.ReceiptsBetween(ctx, []string{room, "!other:test"}, 0, 7)
			if err != nil || len(rs) != 1 || rs[0].EventID != "$new" || rs[0].StreamPos != 3 {
				t.Fatalf("receipts %+v %v", rs, err)
			}
			if rs, err := d.ReceiptsBetween(ctx, []string{room}, 3, 7); err != nil || len(rs) != 0 {
				t.Fatalf("receipts after 3: %+v %v", rs, err)
			}
			if rp, err := d.ReceiptRoomPositions(ctx); err != nil || !reflect.DeepEqual(rp, map[string]int64{room: 3}) {
				t.Fatalf("receipt positions %v %v", rp, err)
			}
			bodies := func(after int64) []string {
				ms, err := d.ToDeviceBetween(ctx, "@a:test", "D1", after, 7, 10)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, m := range ms {
					out = append(out, string(m.Content))
				}
				return out
			}
			if got := bodies(0); !reflect.DeepEqual(got, []string{`{"b":"one"}`, `{"b":"two"}`}) {
				t.Fatalf("to-device %v", got)
			}
			p, err := d.PendingToDevices(ctx)
			if err != nil || len(p) != 2 {
				t.Fatalf("pending %+v %v", p, err)
			}
			if err := d.DeleteToDevice(ctx, "@a:test", "D1", 4); err != nil {
				t.Fatal(err)
			}
			if got := bodies(0); !reflect.DeepEqual(got, []string{`{"b":"two"}`}) {
				t.Fatalf("after acknowledging 4: %v", got)
			}
			rooms, users, err := d.EDUTargetsBetween(ctx, 1, 7)
			if err != nil || !reflect.DeepEqual(rooms, []string{room}) || !reflect.DeepEqual(users, []string{"@a:test"}) {
				t.Fatalf("targets %v %v %v", rooms, users, err)
			}
		})
	}
}
