package consumers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// runOf is the storable records of msgs (all of them must be).
func runOf(t testing.TB, msgs []eventlog.Message) []storage.RoomEventAt {
	t.Helper()
	run := make([]storage.RoomEventAt, len(msgs))
	for i, m := range msgs {
		r, ok := storable(m)
		if !ok {
			t.Fatalf("record %d is not storable", i)
		}
		run[i] = r
	}
	return run
}

// inOneGroup calls storeRun for every run at once and makes them one group: it holds the
// commit lock until every call has queued its run, so the call that takes it next takes
// them all. It returns each call's error.
func inOneGroup(c *RoomEventConsumer, ctxs []context.Context, runs [][]storage.RoomEventAt) []error {
	errs := make([]error, len(runs))
	c.group.commit.Lock()
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.storeRun(ctxs[i], run)
		}()
	}
	for c.group.queued() < len(runs) {
		runtime.Gosched()
	}
	c.group.commit.Unlock()
	wg.Wait()
	return errs
}

func background(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = context.Background()
	}
	return ctxs
}

// toldUnion is told() with the events in position order (calls of a group may report
// them in any order).
func toldUnion(n *recNotifier) told {
	t := n.told()
	sort.Strings(t.events)
	return t
}

func TestGroupCommitEqualsOneByOne(t *testing.T) {
	tests := []struct {
		name string
		// before and after are handled one by one in both runs; runs are each one room's
		// records, stored as one group (one storeRun call per run, at once) in the second.
		before, after []eventlog.Message
		runs          [][]eventlog.Message
	}{
		{
			name: "three rooms interleaved, messages and state",
			runs: [][]eventlog.Message{
				{message(3, roomA, "$a3"), newEvent(6, roomA, "$topicA6", "m.room.topic", "", `{"topic":"a"}`), message(9, roomA, "$a9")},
				{member(4, roomB, "$createB4", "@u:test", "join"), message(7, roomB, "$b7"), member(10, roomB, "$inv10", "@v:test", "invite")},
				{message(5, "!c:test", "$c5"), message(8, "!c:test", "$c8")},
			},
		},
		{
			name: "a gap left by a room not in the group: held back, read back later",
			runs: [][]eventlog.Message{
				{message(3, roomA, "$a3"), message(6, roomA, "$a6")},
				{message(4, roomB, "$b4")}, // 5 is room C's, arriving after
			},
			after: []eventlog.Message{message(5, "!c:test", "$c5"), message(7, "!c:test", "$c7")},
			// (2, 4] is the group's own; 6 waits
		},
		{
			name:   "a position received before: the watermark jumps over it",
			before: []eventlog.Message{message(5, "!c:test", "$c5")},
			runs: [][]eventlog.Message{
				{message(3, roomA, "$a3"), message(6, roomA, "$a6")},
				{message(4, roomB, "$b4")},
			},
		},
		{
			name: "replayed records in the group",
			runs: [][]eventlog.Message{
				append(setup(), message(3, roomA, "$a3")),
				{message(4, roomB, "$b4")},
			},
		},
		{
			name: "one room alone",
			runs: [][]eventlog.Message{{message(3, roomA, "$a3"), message(4, roomA, "$a4")}},
		},
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					one, oneN, grp, grpN := twoConsumers(ctx, t, dsn(t), dsn(t), tc.before)
					runs := make([][]storage.RoomEventAt, len(tc.runs))
					for i, msgs := range tc.runs {
						for _, m := range msgs {
							mustNil(t, one.Handle(ctx, m))
						}
						runs[i] = runOf(t, msgs)
					}
					n := len(grpN.calls)
					for i, err := range inOneGroup(grp, background(len(runs)), runs) {
						if err != nil {
							t.Fatalf("run %d: %v", i, err)
						}
					}
					groupCalls := append([]notifyCall(nil), grpN.calls[n:]...)
					for _, m := range tc.after {
						mustNil(t, one.Handle(ctx, m))
						mustNil(t, grp.Handle(ctx, m))
					}

					if a, b := snap(t, one), snap(t, grp); !reflect.DeepEqual(a, b) {
						t.Errorf("stored one by one:\n%+v\nstored as a group:\n%+v", a, b)
					}
					if a, b := toldUnion(oneN), toldUnion(grpN); !reflect.DeepEqual(a, b) {
						t.Errorf("notifier told one by one:\n%+v\nas a group:\n%+v", a, b)
					}
					if len(groupCalls) != 1 || !groupCalls[0].exact {
						t.Errorf("the group told the notifier %+v, want one OnRoomAdvance", groupCalls)
					}
					// What the group told equals what reading back its advance gives.
					checkToldAsStored(ctx, t, grp, groupCalls)

					// The group delivered again changes nothing and tells nothing.
					stored := snap(t, grp)
					n = len(grpN.calls)
					again := make([][]storage.RoomEventAt, len(tc.runs))
					for i, msgs := range tc.runs {
						again[i] = runOf(t, msgs)
					}
					for i, err := range inOneGroup(grp, background(len(again)), again) {
						if err != nil {
							t.Fatalf("replayed run %d: %v", i, err)
						}
					}
					if now := snap(t, grp); !reflect.DeepEqual(stored, now) {
						t.Errorf("replay changed the store:\n%+v\n%+v", stored, now)
					}
					if len(grpN.calls) != n {
						t.Errorf("replay told the notifier %+v", grpN.calls[n:])
					}
				})
			}
		})
	}
}

// A run whose storage fails alone fails alone: the group it landed in is stored again run
// by run, so the other rooms' runs commit and are told to the notifier; alone, the failing
// run stores nothing and tells nothing; delivered again, the stored runs change nothing,
// and a call whose context has ended fails alone.
func TestGroupCommitFailure(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, n := newConsumer(t, dsn(t))
			for _, m := range setup() {
				mustNil(t, c.Handle(ctx, m))
			}
			good := func() [][]storage.RoomEventAt {
				return [][]storage.RoomEventAt{
					runOf(t, []eventlog.Message{message(3, roomA, "$a3"), message(5, roomA, "$a5")}),
					runOf(t, []eventlog.Message{message(4, roomB, "$b4")}),
				}
			}
			// A state event adding an event the syncapi never stored: its storage fails.
			bad := func() []storage.RoomEventAt {
				r := runOf(t, []eventlog.Message{member(6, "!c:test", "$c6", "@u:test", "join")})
				r[0].Event.AddsStateEventIDs = append(r[0].Event.AddsStateEventIDs, "$unknown")
				return r
			}

			// Alone, the bad run stores nothing and tells nothing.
			before, calls := snap(t, c), len(n.calls)
			if errs := inOneGroup(c, background(1), [][]storage.RoomEventAt{bad()}); errs[0] == nil {
				t.Fatal("the bad run alone: no error")
			}
			if after := snap(t, c); !reflect.DeepEqual(before, after) {
				t.Errorf("the failed run stored something:\n%+v\n%+v", before, after)
			}
			if len(n.calls) != calls {
				t.Errorf("the failed run told the notifier %+v", n.calls[calls:])
			}

			// In a group with good runs, only the bad run's call fails.
			runs := append(good(), bad())
			errs := inOneGroup(c, background(len(runs)), runs)
			if errs[0] != nil || errs[1] != nil || errs[2] == nil {
				t.Fatalf("errors %v, want nil, nil and the bad run's", errs)
			}
			s := snap(t, c)
			if s.watermark != 5 || len(s.events) != 5 {
				t.Errorf("after the group: watermark %d, %d events; want 5, 5", s.watermark, len(s.events))
			}
			checkToldAsStored(ctx, t, c, n.calls[calls:])
			var told []string
			for _, call := range n.calls[calls:] {
				told = append(told, eventKeys(call.events)...)
			}
			if len(told) != 3 {
				t.Errorf("the good runs told the notifier %v, want their 3 events", told)
			}

			// Delivered again, with one call cancelled: nothing changes.
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			calls = len(n.calls)
			runs = append(good(), runOf(t, []eventlog.Message{message(6, "!c:test", "$c6")}))
			errs = inOneGroup(c, []context.Context{ctx, ctx, cancelled}, runs)
			if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], context.Canceled) {
				t.Fatalf("errors %v, want nil, nil, context.Canceled", errs)
			}
			if again := snap(t, c); !reflect.DeepEqual(s, again) {
				t.Errorf("the replay changed the store:\n%+v\n%+v", s, again)
			}
			if len(n.calls) != calls {
				t.Errorf("the replay told the notifier %+v", n.calls[calls:])
			}
		})
	}
}

// Rooms' records stored by concurrent HandleBatch calls (as the dispatcher's workers make
// them, groups forming as they may) end as stored one by one.
func TestGroupCommitConcurrentRooms(t *testing.T) {
	const rooms, perRoom, batch = 6, 20, 3
	// Positions go round-robin over the rooms; each room's records in order.
	msgs := make([][]eventlog.Message, rooms)
	pos := int64(2)
	for i := 0; i < perRoom; i++ {
		for r := range rooms {
			pos++
			room := fmt.Sprintf("!r%d:test", r)
			if i%5 == 0 {
				msgs[r] = append(msgs[r], member(pos, room, fmt.Sprintf("$m%d", pos), fmt.Sprintf("@u%d:test", i), "join"))
			} else {
				msgs[r] = append(msgs[r], message(pos, room, fmt.Sprintf("$e%d", pos)))
			}
		}
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			one, oneN := newConsumer(t, dsn(t))
			grp, grpN := newConsumer(t, dsn(t))
			for _, m := range setup() {
				mustNil(t, one.Handle(ctx, m))
				mustNil(t, grp.Handle(ctx, m))
			}
			for _, room := range msgs {
				for _, m := range room {
					mustNil(t, one.Handle(ctx, m))
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, rooms)
			for r, room := range msgs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := range slices.Chunk(room, batch) {
						if err := grp.HandleBatch(ctx, b); err != nil {
							errs[r] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			mustNil(t, errors.Join(errs...))
			if a, b := snap(t, one), snap(t, grp); !reflect.DeepEqual(a, b) {
				t.Errorf("stored one by one:\n%+v\nconcurrently:\n%+v", a, b)
			}
			if a, b := toldUnion(oneN), toldUnion(grpN); !reflect.DeepEqual(a, b) {
				t.Errorf("notifier told one by one:\n%+v\nconcurrently:\n%+v", a, b)
			}
		})
	}
}

func TestGroupTake(t *testing.T) {
	tests := []struct {
		name     string
		queued   []int // each job's record count
		max      int
		want     []int
		leftover int
	}{
		{"all fit", []int{1, 2, 3}, 256, []int{1, 2, 3}, 0},
		{"bounded", []int{100, 100, 100}, 256, []int{100, 100}, 1},
		{"exactly the bound", []int{128, 128, 1}, 256, []int{128, 128}, 1},
		{"a long run goes alone", []int{300, 1}, 256, []int{300}, 1},
		{"oldest first, whole jobs", []int{10, 250, 5}, 256, []int{10}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g groupCommit
			for _, n := range tc.queued {
				g.push(&groupJob{run: make([]storage.RoomEventAt, n)})
			}
			var got []int
			for _, j := range g.take(tc.max) {
				got = append(got, len(j.run))
			}
			if !reflect.DeepEqual(got, tc.want) || g.queued() != tc.leftover {
				t.Errorf("took %v leaving %d, want %v leaving %d", got, g.queued(), tc.want, tc.leftover)
			}
		})
	}
}

// ownAdvance: which groups' advances the notifier learns from the records themselves.
func TestOwnAdvance(t *testing.T) {
	type rec struct {
		pos      int64
		from, to int64
		dup      bool
	}
	tests := []struct {
		name    string
		recs    []rec // in transaction order, each with its Advance
		wantAdv storage.Advance
		wantOwn bool
		wantPos []int64 // the events told, in order
	}{
		{"in order", []rec{{3, 2, 3, false}, {4, 3, 4, false}}, storage.Advance{From: 2, To: 4}, true, []int64{3, 4}},
		{"interleaved rooms, one fills the other's gap", []rec{{4, 2, 2, false}, {6, 2, 2, false}, {3, 2, 4, false}, {5, 4, 6, false}},
			storage.Advance{From: 2, To: 6}, true, []int64{3, 4, 5, 6}},
		{"duplicates left out", []rec{{2, 2, 2, true}, {3, 2, 3, false}}, storage.Advance{From: 2, To: 3}, true, []int64{3}},
		{"a record held back behind a gap", []rec{{3, 2, 3, false}, {5, 3, 3, false}}, storage.Advance{From: 2, To: 3}, false, nil},
		{"a position received before", []rec{{3, 2, 4, false}}, storage.Advance{From: 2, To: 4}, false, nil},
		{"nothing moved", []rec{{5, 2, 2, false}}, storage.Advance{From: 2, To: 2}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []storage.RoomEventAt
			var advs []storage.Advance
			for _, r := range tc.recs {
				ev := &storage.NewRoomEvent{Event: storage.Event{EventID: fmt.Sprint("$", r.pos), RoomID: roomA},
					Applied: []storage.StateDelta{{Pos: r.pos, EventType: "t"}}}
				recs = append(recs, storage.RoomEventAt{Pos: r.pos, Event: ev})
				advs = append(advs, storage.Advance{From: r.from, To: r.to, Duplicate: r.dup})
			}
			adv, evs, deltas, own := ownAdvance(recs, advs)
			if adv != tc.wantAdv || own != tc.wantOwn {
				t.Fatalf("advance %+v own %v, want %+v %v", adv, own, tc.wantAdv, tc.wantOwn)
			}
			var got, gotDeltas []int64
			for i, e := range evs {
				got = append(got, e.StreamPos)
				gotDeltas = append(gotDeltas, deltas[i].Pos)
			}
			if !reflect.DeepEqual(got, tc.wantPos) || !reflect.DeepEqual(gotDeltas, tc.wantPos) {
				t.Errorf("told events at %v, deltas at %v; want %v", got, gotDeltas, tc.wantPos)
			}
		})
	}
}

// BenchmarkConcurrentRooms stores lone message records of 16 rooms at once (the
// dispatcher's 16 workers, each storing its room's next record as soon as the last one
// committed), on Postgres and SQLite: "alone" is one transaction per call
// (storage.StoreRoomEvents, what storeRun did before the group commit), "grouped" is
// storeRun. ns/op is per record.
func BenchmarkConcurrentRooms(b *testing.B) {
	dbs := []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"postgres", func(b *testing.B) string { return testenv.PostgresDSN(b) }},
		{"sqlite", func(b *testing.B) string { return testenv.SQLitePath(b, "bench") }},
	}
	for _, db := range dbs {
		for _, mode := range []string{"alone", "grouped"} {
			b.Run(db.name+"/"+mode, func(b *testing.B) {
				c, _ := newConsumer(b, db.dsn(b))
				var pos, rooms atomic.Int64
				ctx := context.Background()
				b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					room := fmt.Sprintf("!r%d:test", rooms.Add(1))
					for pb.Next() {
						p := pos.Add(1)
						run := runOf(b, []eventlog.Message{message(p, room, fmt.Sprintf("$e%d", p))})
						var err error
						if mode == "alone" {
							_, err = c.db.StoreRoomEvents(ctx, run)
						} else {
							err = c.storeRun(ctx, run)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
