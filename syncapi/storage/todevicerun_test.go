package storage

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// TestStoreToDeviceRunMatchesOneByOne: a run of to-device records stored in one
// transaction (StoreToDeviceRun, with its in-memory watermark for records at the next
// positions) gives every record the Advance that StoreToDevice gives it one at a time, and
// leaves the same watermark and messages, whatever was received before it out of order.
func TestStoreToDeviceRunMatchesOneByOne(t *testing.T) {
	cases := []struct {
		name   string
		before []int64 // stored one by one first (out of order makes rows above the watermark)
		run    []int64
	}{
		{"in order from the start", nil, []int64{1, 2, 3, 4}},
		{"in order after earlier ones", []int64{1, 2}, []int64{3, 4, 5}},
		{"a position received above the watermark before", []int64{1, 4}, []int64{2, 3, 5}},
		{"a gap inside the run, closed later in it", []int64{1}, []int64{2, 5, 6, 3, 4, 7}},
		{"replays inside the run", []int64{1, 2}, []int64{2, 3, 3, 1, 4}},
		{"a gap left open at the end", nil, []int64{1, 2, 4}},
	}
	msg := func(pos int64) ToDevice {
		return ToDevice{UserID: fmt.Sprintf("@u%d:test", pos), DeviceID: "DEV", Sender: "@s:test", Type: "m.test",
			Content: []byte(`{}`), StreamPos: pos}
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					_, one := openDB(t, dsn(t))
					_, run := openDB(t, dsn(t))
					for _, p := range tc.before {
						for _, d := range []*Database{one, run} {
							m := msg(p)
							if _, err := d.StoreToDevice(ctx, &m); err != nil {
								t.Fatal(err)
							}
						}
					}
					var want []Advance
					for _, p := range tc.run {
						m := msg(p)
						adv, err := one.StoreToDevice(ctx, &m)
						if err != nil {
							t.Fatal(err)
						}
						want = append(want, adv)
					}
					msgs := make([]ToDevice, 0, len(tc.run))
					for _, p := range tc.run {
						msgs = append(msgs, msg(p))
					}
					got, err := run.StoreToDeviceRun(ctx, msgs)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("advances %+v, want %+v", got, want)
					}
					w1, err1 := one.EDUWatermark(ctx)
					w2, err2 := run.EDUWatermark(ctx)
					if err1 != nil || err2 != nil || w1 != w2 {
						t.Fatalf("watermark %d (%v), one by one %d (%v)", w2, err2, w1, err1)
					}
					p1, _ := one.PendingToDevices(ctx)
					p2, _ := run.PendingToDevices(ctx)
					byUser := func(a, b PendingToDevice) int { return strings.Compare(a.UserID, b.UserID) }
					slices.SortFunc(p1, byUser)
					slices.SortFunc(p2, byUser)
					if !reflect.DeepEqual(p1, p2) {
						t.Fatalf("pending %+v, one by one %+v", p2, p1)
					}
					// What both left in syncapi_received_positions: every later record is
					// taken the same way (the gaps close alike).
					for p := int64(1); p <= slices.Max(tc.run)+1; p++ {
						m1, m2 := msg(p), msg(p)
						a1, err1 := one.StoreToDevice(ctx, &m1)
						a2, err2 := run.StoreToDevice(ctx, &m2)
						if err1 != nil || err2 != nil || a1 != a2 {
							t.Fatalf("later record %d: %+v (%v), one by one %+v (%v)", p, a2, err2, a1, err1)
						}
					}
				})
			}
		})
	}
}
