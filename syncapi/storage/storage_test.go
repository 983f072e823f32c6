package storage

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

const room = "!r:test"

func openDB(t testing.TB, dsn string) (*sqlutil.DB, *Database) {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := NewDatabase(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return db, d
}

func sk(s string) *string { return &s }

// msg makes a message event.
func msg(id string) Event {
	return Event{EventID: id, RoomID: room, Type: "m.room.message", Sender: "@a:test", JSON: []byte(`{"event_id":"` + id + `"}`)}
}

// member makes a membership event that enters the state.
func member(id, user, membership string) Event {
	return Event{EventID: id, RoomID: room, Type: "m.room.member", Sender: user, StateKey: sk(user), Membership: membership,
		JSON: []byte(fmt.Sprintf(`{"event_id":%q,"content":{"membership":%q}}`, id, membership))}
}

func state(id, typ, key string) Event {
	return Event{EventID: id, RoomID: room, Type: typ, Sender: "@a:test", StateKey: sk(key), JSON: []byte(`{"event_id":"` + id + `"}`)}
}

func asState(e Event) *NewRoomEvent {
	return &NewRoomEvent{Event: e, AddsStateEventIDs: []string{e.EventID}}
}

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventID
	}
	return out
}

func TestWatermark(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			conn := dsn(t)
			_, d := openDB(t, conn)
			steps := []struct {
				pos       int64
				wantFrom  int64
				wantTo    int64
				duplicate bool
			}{
				{pos: 1, wantFrom: 0, wantTo: 1},
				{pos: 3, wantFrom: 1, wantTo: 1}, // gap at 2: held back
				{pos: 4, wantFrom: 1, wantTo: 1},
				{pos: 3, wantFrom: 1, wantTo: 1, duplicate: true}, // replay above the watermark
				{pos: 2, wantFrom: 1, wantTo: 4},                  // gap filled: 2, 3, 4 visible
				{pos: 1, wantFrom: 4, wantTo: 4, duplicate: true}, // replay below the watermark
			}
			for i, s := range steps {
				adv, err := d.StoreRoomEvent(ctx, s.pos, &NewRoomEvent{Event: msg(fmt.Sprintf("$e%d", s.pos))})
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if adv.From != s.wantFrom || adv.To != s.wantTo || adv.Duplicate != s.duplicate {
					t.Fatalf("step %d (pos %d): got %+v want from %d to %d dup %v", i, s.pos, adv, s.wantFrom, s.wantTo, s.duplicate)
				}
			}
			// Skipped positions count as stored.
			if adv, err := d.SkipPosition(ctx, StreamRoom, 5); err != nil || adv.To != 5 {
				t.Fatalf("skip: %+v %v", adv, err)
			}
			// Account data has its own stream.
			if adv, err := d.StoreAccountData(ctx, 2, "@a:test", "", "m.x", []byte(`{}`)); err != nil || adv.To != 0 {
				t.Fatalf("account data 2: %+v %v", adv, err)
			}
			if adv, err := d.StoreAccountData(ctx, 1, "@a:test", "", "m.y", []byte(`{}`)); err != nil || adv.To != 2 {
				t.Fatalf("account data 1: %+v %v", adv, err)
			}
			// A restart continues from the persisted watermarks.
			_, d2 := openDB(t, conn)
			r, a, err := d2.Watermarks(ctx)
			if err != nil || r != 5 || a != 2 {
				t.Fatalf("watermarks after restart: %d %d %v", r, a, err)
			}
			evs, err := d2.RoomEvents(ctx, room, 0, 5, true, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ids(evs)); got != "[$e4 $e3 $e2 $e1]" {
				t.Fatalf("events: %s", got)
			}
		})
	}
}

func TestWatermarkLongRun(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, d := openDB(t, dsn(t))
			// 600 positions arrive in reverse: nothing is visible until position 1 arrives,
			// then all of them at once (more than one batch of the advance loop).
			for p := int64(1200); p >= 2; p-- {
				adv, err := d.SkipPosition(ctx, StreamRoom, p)
				if err != nil || adv.To != 0 {
					t.Fatalf("pos %d: %+v %v", p, adv, err)
				}
			}
			adv, err := d.SkipPosition(ctx, StreamRoom, 1)
			if err != nil || adv.To != 1200 {
				t.Fatalf("final: %+v %v", adv, err)
			}
		})
	}
}

func TestStateHistory(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, d := openDB(t, dsn(t))
			name2 := state("$name2", "m.room.name", "")
			outlier := state("$topic", "m.room.topic", "")
			records := []*NewRoomEvent{
				asState(state("$create", "m.room.create", "")),
				asState(member("$alice", "@alice:test", "join")),
				asState(state("$name1", "m.room.name", "")),
				asState(member("$bob1", "@bob:test", "join")),
				{Event: msg("$m5")},
				asState(member("$bob2", "@bob:test", "leave")),
				// position 7: state resolution replaces the name and adds a topic that never was on our timeline
				{Event: msg("$m7"), AddsStateEventIDs: []string{"$name2x", "$topic"}, StateEvents: []Event{outlier, func() Event { e := name2; e.EventID = "$name2x"; return e }()}},
				// position 8: the topic leaves the state
				{Event: msg("$m8"), RemovesStateEventIDs: []string{"$topic", "$unknown"}},
				asState(member("$carol", "@carol:test", "invite")),
			}
			for i, r := range records {
				if _, err := d.StoreRoomEvent(ctx, int64(i+1), r); err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
			}
			stateTests := []struct {
				pos   int64
				types []string
				want  []string
			}{
				{pos: 0, want: nil},
				{pos: 1, want: []string{"$create"}},
				{pos: 3, want: []string{"$alice", "$create", "$name1"}},
				{pos: 5, want: []string{"$alice", "$bob1", "$create", "$name1"}},
				{pos: 6, want: []string{"$alice", "$bob2", "$create", "$name1"}},
				{pos: 7, want: []string{"$alice", "$bob2", "$create", "$name2x", "$topic"}},
				{pos: 8, want: []string{"$alice", "$bob2", "$create", "$name2x"}},
				{pos: 9, types: []string{"m.room.member"}, want: []string{"$alice", "$bob2", "$carol"}},
			}
			for _, tc := range stateTests {
				evs, err := d.StateAt(ctx, room, tc.pos, tc.types...)
				if err != nil {
					t.Fatal(err)
				}
				got := ids(evs)
				sort.Strings(got)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("state at %d: got %v want %v", tc.pos, got, tc.want)
				}
			}
			memTests := []struct {
				user string
				pos  int64
				want string
			}{
				{"@bob:test", 3, "[]"},
				{"@bob:test", 4, "[!r:test join 4]"},
				{"@bob:test", 9, "[!r:test leave 6]"},
				{"@carol:test", 9, "[!r:test invite 9]"},
			}
			for _, tc := range memTests {
				ms, err := d.MembershipsAt(ctx, tc.user, tc.pos)
				if err != nil {
					t.Fatal(err)
				}
				var parts []string
				for _, m := range ms {
					parts = append(parts, fmt.Sprintf("%s %s %d", m.RoomID, m.Membership, m.Pos))
				}
				if got := fmt.Sprintf("%v", parts); got != tc.want && !(tc.want == "[]" && len(parts) == 0) {
					t.Fatalf("memberships of %s at %d: got %s want %s", tc.user, tc.pos, got, tc.want)
				}
			}
			if ch, err := d.MembershipChanges(ctx, "@bob:test", 0, 9); err != nil || len(ch) != 2 || ch[1].Membership != "leave" {
				t.Fatalf("changes: %+v %v", ch, err)
			}
			if j, inv, err := d.MemberCounts(ctx, room, 9); err != nil || j != 1 || inv != 1 {
				t.Fatalf("counts: %d %d %v", j, inv, err)
			}
			// A state event remembers what it replaced; the first of its kind replaces nothing.
			if e, err := d.EventByID(ctx, "$bob2"); err != nil || e.ReplacesState != "$bob1" || e.PrevSender != "@bob:test" ||
				string(e.PrevContent) != `{"membership":"join"}` {
				t.Fatalf("replaces_state: %+v %v", e, err)
			}
			if e, _ := d.EventByID(ctx, "$bob1"); e.ReplacesState != "" || e.PrevContent != nil {
				t.Fatalf("first member event: %+v", e)
			}
			deltas, err := d.StateChangesBetween(ctx, room, 5, 8)
			if err != nil {
				t.Fatal(err)
			}
			var dl []string
			for _, c := range deltas {
				dl = append(dl, fmt.Sprintf("%d %s %q", c.Pos, c.EventType, c.EventID))
			}
			sort.Strings(dl)
			if want := `[6 m.room.member "$bob2" 7 m.room.name "$name2x" 7 m.room.topic "$topic" 8 m.room.topic ""]`; fmt.Sprint(dl) != want {
				t.Fatalf("deltas: %v", dl)
			}
			byID, err := d.EventsByIDs(ctx, []string{"$alice", "$nope", "$topic"})
			if err != nil || len(byID) != 2 {
				t.Fatalf("by IDs: %v %v", ids(byID), err)
			}
			if e, err := d.StateEventAt(ctx, room, "m.room.name", "", 6); err != nil || e == nil || e.EventID != "$name1" {
				t.Fatalf("name at 6: %+v %v", e, err)
			}
			// The outlier topic has no position; it is not on the timeline.
			if e, err := d.EventByID(ctx, "$topic"); err != nil || e == nil || e.StreamPos != 0 {
				t.Fatalf("outlier: %+v %v", e, err)
			}
			rooms, err := d.RoomsWithEvents(ctx, []string{room, "!other:test"}, 8, 9)
			if err != nil || !rooms[room] || len(rooms) != 1 {
				t.Fatalf("rooms with events: %v %v", rooms, err)
			}
			if rooms, _ := d.RoomsWithEvents(ctx, []string{room}, 9, 9); len(rooms) != 0 {
				t.Fatalf("empty range: %v", rooms)
			}
			// An added ID that nobody knows is an error and leaves nothing behind.
			if _, err := d.StoreRoomEvent(ctx, 10, &NewRoomEvent{Event: msg("$m10"), AddsStateEventIDs: []string{"$nope"}}); err == nil {
				t.Fatal("unknown added state event accepted")
			}
			if e, _ := d.EventByID(ctx, "$m10"); e != nil {
				t.Fatal("failed record left its event behind")
			}
			if r, _, _ := d.Watermarks(ctx); r != 9 {
				t.Fatalf("watermark moved on a failed record: %d", r)
			}
		})
	}
}

func TestOutlierGetsPosition(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, d := openDB(t, dsn(t))
			topic := state("$topic", "m.room.topic", "")
			if _, err := d.StoreRoomEvent(ctx, 1, &NewRoomEvent{Event: msg("$m1"), AddsStateEventIDs: []string{"$topic"}, StateEvents: []Event{topic}}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.StoreRoomEvent(ctx, 2, asState(topic)); err != nil {
				t.Fatal(err)
			}
			e, err := d.EventByID(ctx, "$topic")
			if err != nil || e.StreamPos != 2 {
				t.Fatalf("%+v %v", e, err)
			}
		})
	}
}

func TestRedactionAndAccountData(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, d := openDB(t, dsn(t))
			if _, err := d.StoreRoomEvent(ctx, 1, &NewRoomEvent{Event: msg("$m1")}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the replay changes nothing
				adv, err := d.StoreRedaction(ctx, 2, "$m1", []byte(`{"event_id":"$m1","content":{}}`), []byte(`{"event_id":"$red"}`))
				if err != nil || adv.To != 2 || adv.Duplicate != (i == 1) {
					t.Fatalf("redaction %d: %+v %v", i, adv, err)
				}
			}
			e, _ := d.EventByID(ctx, "$m1")
			if string(e.JSON) != `{"event_id":"$m1","content":{}}` || string(e.RedactedBecause) != `{"event_id":"$red"}` {
				t.Fatalf("redacted: %s %s", e.JSON, e.RedactedBecause)
			}
			// A redaction record without a position does not touch the stream.
			if adv, err := d.StoreRedaction(ctx, 0, "$zzz", []byte(`{}`), []byte(`{}`)); err != nil || adv.Advanced() {
				t.Fatalf("%+v %v", adv, err)
			}
			steps := []struct {
				pos     int64
				typ     string
				content string
			}{
				{1, "m.a", `{"v":1}`},
				{3, "m.a", `{"v":3}`},
				{2, "m.a", `{"v":2}`}, // older value arrives late: does not overwrite
				{4, "m.b", `{"v":4}`},
			}
			for _, s := range steps {
				if _, err := d.StoreAccountData(ctx, s.pos, "@u:test", "", s.typ, []byte(s.content)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := d.StoreAccountData(ctx, 5, "@u:test", room, "m.tag", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			ads, err := d.AccountDataBetween(ctx, "@u:test", 0, 5)
			if err != nil || len(ads) != 3 || string(ads[0].Content) != `{"v":3}` || ads[2].RoomID != room {
				t.Fatalf("%+v %v", ads, err)
			}
			ads, _ = d.AccountDataBetween(ctx, "@u:test", 3, 4)
			if len(ads) != 1 || ads[0].Type != "m.b" {
				t.Fatalf("%+v", ads)
			}
		})
	}
}

// TestConcurrentConsumers stores positions from several goroutines in shuffled order, as
// consumers of different partitions do: the watermark must end at the last position, and
// every Advance must start where some earlier one ended (no position exposed twice or skipped).
func TestConcurrentConsumers(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, d := openDB(t, dsn(t))
			const n, workers = 120, 4
			perm := rand.New(rand.NewSource(1)).Perm(n)
			var mu sync.Mutex
			covered := map[int64]bool{}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < n; i += workers {
						pos := int64(perm[i] + 1)
						adv, err := d.StoreRoomEvent(ctx, pos, &NewRoomEvent{Event: msg(fmt.Sprintf("$c%d", pos))})
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						for p := adv.From + 1; p <= adv.To; p++ {
							if covered[p] {
								errs <- fmt.Errorf("position %d exposed twice", p)
							}
							covered[p] = true
						}
						mu.Unlock()
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if r, _, _ := d.Watermarks(ctx); r != n || len(covered) != n {
				t.Fatalf("watermark %d, %d positions exposed", r, len(covered))
			}
		})
	}
}
