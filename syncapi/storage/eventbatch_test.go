package storage

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

// StoreRoomEvents gives each record the Advance and Applied that StoreRoomEvent one by one
// gives, and stores the same; a replayed run changes nothing.
func TestStoreRoomEventsEqualsOneByOne(t *testing.T) {
	type rec struct {
		pos int64
		ev  func() *NewRoomEvent
	}
	m := func(pos int64) rec {
		return rec{pos, func() *NewRoomEvent { return &NewRoomEvent{Event: msg(fmt.Sprintf("$m%d", pos))} }}
	}
	st := func(pos int64, typ, key string) rec {
		return rec{pos, func() *NewRoomEvent { return asState(state(fmt.Sprintf("$s%d", pos), typ, key)) }}
	}
	tests := []struct {
		name        string
		before, run []rec
	}{
		{"in order", nil, []rec{m(1), st(2, "m.room.topic", ""), m(3), st(4, "m.room.topic", ""), m(5)}},
		{"gap then filled in the run", nil, []rec{m(1), m(3), m(2), m(4)}},
		{"positions received before", []rec{m(3), m(5)}, []rec{m(1), m(2), m(4)}},
		{"duplicates in the run", []rec{m(1), m(2)}, []rec{m(1), m(2), m(3), m(3)}},
		{"positions left held back (rows written at the end)", nil, []rec{m(1), m(3), m(5), m(3)}},
		{"received before, inside and above the run", []rec{m(2), m(4), m(7)}, []rec{m(3), m(1), m(5)}},
		{"received before, contiguous above the run", []rec{m(3), m(4), m(5)}, []rec{m(1), m(2)}},
		{"state and a gap", []rec{m(2)}, []rec{st(3, "m.room.topic", ""), m(1), st(5, "m.room.topic", ""), m(4)}},
		{"a lone record", nil, []rec{m(1)}},
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					_, one := openDB(t, dsn(t))
					_, bat := openDB(t, dsn(t))
					for _, r := range tc.before {
						if _, err := one.StoreRoomEvent(ctx, r.pos, r.ev()); err != nil {
							t.Fatal(err)
						}
						if _, err := bat.StoreRoomEvent(ctx, r.pos, r.ev()); err != nil {
							t.Fatal(err)
						}
					}
					var wantAdvs []Advance
					var wantApplied [][]StateDelta
					var run []RoomEventAt
					for _, r := range tc.run {
						ev := r.ev()
						adv, err := one.StoreRoomEvent(ctx, r.pos, ev)
						if err != nil {
							t.Fatal(err)
						}
						wantAdvs = append(wantAdvs, adv)
						wantApplied = append(wantApplied, ev.Applied)
						run = append(run, RoomEventAt{Pos: r.pos, Event: r.ev()})
					}
					advs, err := bat.StoreRoomEvents(ctx, run)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(advs, wantAdvs) {
						t.Errorf("advances %+v, one by one %+v", advs, wantAdvs)
					}
					for i, r := range run {
						if !reflect.DeepEqual(r.Event.Applied, wantApplied[i]) {
							t.Errorf("record %d applied %+v, one by one %+v", i, r.Event.Applied, wantApplied[i])
						}
					}
					contents := func(d *Database) []Event {
						evs, err := d.EventsBetween(ctx, 0, 100)
						if err != nil {
							t.Fatal(err)
						}
						return evs
					}
					if a, b := contents(one), contents(bat); !reflect.DeepEqual(a, b) {
						t.Errorf("stored %+v, one by one %+v", b, a)
					}
					wa, _, _ := one.Watermarks(ctx)
					wb, _, _ := bat.Watermarks(ctx)
					if wa != wb {
						t.Errorf("watermark %d, one by one %d", wb, wa)
					}
					// The positions held back above the watermark (and no row below it).
					received := func(d *Database) []int64 {
						rows, err := d.db.QueryContext(ctx, `SELECT pos FROM syncapi_received_positions ORDER BY pos`)
						if err != nil {
							t.Fatal(err)
						}
						defer rows.Close()
						var ps []int64
						for rows.Next() {
							var p int64
							if err := rows.Scan(&p); err != nil {
								t.Fatal(err)
							}
							ps = append(ps, p)
						}
						return ps
					}
					if a, b := received(one), received(bat); !reflect.DeepEqual(a, b) {
						t.Errorf("received positions %v, one by one %v", b, a)
					}
					before := contents(bat)
					replay := make([]RoomEventAt, len(run))
					for i, r := range tc.run {
						replay[i] = RoomEventAt{Pos: r.pos, Event: r.ev()}
					}
					advs, err = bat.StoreRoomEvents(ctx, replay)
					if err != nil {
						t.Fatal(err)
					}
					for i, a := range advs {
						if !a.Duplicate || a.Advanced() {
							t.Errorf("replayed record %d: %+v, want a duplicate", i, a)
						}
					}
					if after := contents(bat); !reflect.DeepEqual(before, after) {
						t.Errorf("replay changed the store")
					}
				})
			}
		})
	}
}

// BenchmarkStoreRoomEvents stores message records on SQLite one transaction per record
// (StoreRoomEvent, what the topic 2 consumer did before batches) and in runs of 64
// (StoreRoomEvents); ns/op is per record.
func BenchmarkStoreRoomEvents(b *testing.B) {
	for _, run := range []int{1, 64} {
		b.Run(fmt.Sprint("run=", run), func(b *testing.B) {
			ctx := context.Background()
			_, d := openDB(b, testenv.SQLitePath(b, "bench"))
			pos := int64(0)
			b.ResetTimer()
			for i := 0; i < b.N; i += run {
				n := min(run, b.N-i)
				recs := make([]RoomEventAt, n)
				for j := range recs {
					pos++
					recs[j] = RoomEventAt{Pos: pos, Event: &NewRoomEvent{Event: msg(fmt.Sprintf("$m%d", pos))}}
				}
				if run == 1 {
					if _, err := d.StoreRoomEvent(ctx, recs[0].Pos, recs[0].Event); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if _, err := d.StoreRoomEvents(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
