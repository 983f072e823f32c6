package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
)

// bulkRoom writes a room of n members (more than one INSERT of each kind) with
// InsertEvents: $create, $pl (auth: create), then $m<i> (auth: create, pl, and the
// member's previous event $m<i-1> for odd i), and $bad citing an auth event not stored.
func bulkRoom(t *testing.T, d *Database, n int) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	sk := ""
	rows := []*EventRow{
		{EventID: "$create", RoomID: "!r:x", Type: "m.room.create", StateKey: &sk, Sender: "@a:x", Depth: 1, JSON: []byte(`{}`), IsOutlier: true},
		{EventID: "$pl", RoomID: "!r:x", Type: "m.room.power_levels", StateKey: &sk, Sender: "@a:x", Depth: 2, JSON: []byte(`{}`),
			IsOutlier: true, PrevEventIDs: []string{"$create"}, AuthEventIDs: []string{"$create", "$create"}},
	}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("@u%d:x", i)
		auth := []string{"$create", "$pl"}
		if i%2 == 1 {
			auth = append(auth, fmt.Sprintf("$m%d", i-1))
		}
		rows = append(rows, &EventRow{EventID: fmt.Sprintf("$m%d", i), RoomID: "!r:x", Type: "m.room.member", StateKey: &key,
			Sender: key, Depth: int64(3 + i), JSON: []byte(fmt.Sprintf(`{"i":%d}`, i)), IsOutlier: true, IsRejected: i == 3,
			PrevEventIDs: []string{"$pl"}, AuthEventIDs: auth})
	}
	rows = append(rows, &EventRow{EventID: "$bad", RoomID: "!r:x", Type: "m.room.topic", StateKey: &sk, Sender: "@a:x", Depth: 9,
		JSON: []byte(`{}`), IsOutlier: true, AuthEventIDs: []string{"$unknown", "$create"}})
	var nids map[string]int64
	tx(t, d, func(s *Store) error {
		if err := s.InsertRoom(ctx, "!r:x", "10", "@a:x", 1); err != nil {
			return err
		}
		var err error
		nids, err = s.InsertEvents(ctx, rows)
		return err
	})
	if len(nids) != len(rows) {
		t.Fatalf("%d numeric IDs for %d events", len(nids), len(rows))
	}
	for i, r := range rows {
		if r.NID != nids[r.EventID] || r.NID == 0 {
			t.Fatalf("row %d: NID %d, returned %d", i, r.NID, nids[r.EventID])
		}
		if i > 0 && r.NID <= rows[i-1].NID {
			t.Fatalf("numeric IDs not in the order given: %s %d after %d", r.EventID, r.NID, rows[i-1].NID)
		}
	}
	return nids
}

func TestInsertEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		n := 2*d.Reader().rowsPerStatement(13) + 11 // several INSERTs
		nids := bulkRoom(t, d, n)
		r := d.Reader()
		byID, err := r.EventsByID(ctx, []string{"$pl", "$m3", "$m4"})
		if err != nil || len(byID) != 3 {
			t.Fatalf("EventsByID %v %v", byID, err)
		}
		tests := []struct {
			id                   string
			wantType, wantJSON   string
			wantRejected         bool
			wantPrev, wantAuth   string
			wantOutlier, wantKey bool
		}{
			{"$pl", "m.room.power_levels", `{}`, false, "[$create]", "[$create]", true, true},
			{"$m3", "m.room.member", `{"i":3}`, true, "[$pl]", "[$create $m2 $pl]", true, true},
			{"$m4", "m.room.member", `{"i":4}`, false, "[$pl]", "[$create $pl]", true, true},
		}
		for _, tc := range tests {
			e := byID[tc.id]
			if e.Type != tc.wantType || string(e.JSON) != tc.wantJSON || e.IsRejected != tc.wantRejected || e.IsOutlier != tc.wantOutlier ||
				(e.StateKey != nil) != tc.wantKey || e.NID != nids[tc.id] || e.RoomVersion != "10" {
				t.Fatalf("%s: %+v", tc.id, e)
			}
			prev, _ := r.PrevEventIDs(ctx, e.NID)
			auth, _ := r.AuthEventIDs(ctx, e.NID)
			if fmt.Sprint(prev) != tc.wantPrev || fmt.Sprint(auth) != tc.wantAuth {
				t.Fatalf("%s: prev %v auth %v", tc.id, prev, auth)
			}
		}
		for _, withJSON := range []bool{false, true} {
			got, err := r.EventsIDAndJSONByNID(ctx, []int64{nids["$m3"], nids["$pl"], 999999}, withJSON)
			if err != nil || len(got) != 2 || got[nids["$m3"]].EventID != "$m3" || got[nids["$pl"]].EventID != "$pl" {
				t.Fatalf("EventsIDAndJSONByNID(%v): %v %v", withJSON, got, err)
			}
			if js := string(got[nids["$m3"]].JSON); (withJSON && js != `{"i":3}`) || (!withJSON && js != "") {
				t.Fatalf("EventsIDAndJSONByNID(%v): JSON %q", withJSON, js)
			}
		}
		// An event ID stored already is refused, as with InsertEvent.
		err = d.WithTx(ctx, func(s *Store, _ *sql.Tx) error {
			_, err := s.InsertEvents(ctx, []*EventRow{{EventID: "$new", RoomID: "!r:x", Type: "x", Sender: "@a:x", JSON: []byte(`{}`)},
				{EventID: "$m0", RoomID: "!r:x", Type: "x", Sender: "@a:x", JSON: []byte(`{}`)}})
			return err
		})
		if err == nil {
			t.Fatal("duplicate event accepted")
		}
		if e, _ := r.EventByID(ctx, "$new"); e != nil {
			t.Fatal("the failed insert's other event was kept")
		}
		// Nothing to insert is no statement and no error.
		tx(t, d, func(s *Store) error {
			got, err := s.InsertEvents(ctx, nil)
			if len(got) != 0 {
				return fmt.Errorf("got %v", got)
			}
			return err
		})
	})
}

func TestAuthChainOfNIDs(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		n := 3*d.Reader().rowsPerStatement(1) + 5 // the first level spans several queries
		nids := bulkRoom(t, d, n)
		all := make([]int64, 0, n)
		for i := 0; i < n; i++ {
			all = append(all, nids[fmt.Sprintf("$m%d", i)])
		}
		tests := []struct {
			name string
			from []int64
			want []string
		}{
			{"nothing", nil, nil},
			{"the create event has no auth events", []int64{nids["$create"]}, nil},
			{"one level", []int64{nids["$pl"]}, []string{"$create"}},
			{"two levels", []int64{nids["$m0"]}, []string{"$create", "$pl"}},
			{"through an earlier membership", []int64{nids["$m5"]}, []string{"$create", "$m4", "$pl"}},
			{"an auth event not stored is listed, its branch ends", []int64{nids["$bad"]}, []string{"$create", "$unknown"}},
			{"a repeated start is walked once", []int64{nids["$m1"], nids["$m1"]}, []string{"$create", "$m0", "$pl"}},
			{"the whole state", all, func() []string {
				want := []string{"$create", "$pl"}
				for i := 0; i < n; i += 2 {
					if i+1 < n {
						want = append(want, fmt.Sprintf("$m%d", i))
					}
				}
				slices.Sort(want)
				return want
			}()},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := d.Reader().AuthChainOfNIDs(ctx, tc.from)
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
				// The same as the recursive query over event IDs, for a single event.
				if len(tc.from) == 1 {
					ids, _ := d.Reader().EventIDsByNID(ctx, tc.from)
					old, err := d.Reader().AuthChain(ctx, []string{ids[tc.from[0]]})
					slices.Sort(old)
					if err != nil || fmt.Sprint(old) != fmt.Sprint(got) {
						t.Fatalf("AuthChain says %v %v", old, err)
					}
				}
			})
		}
	})
}

func TestSetMembershipsAndCurrentState(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		r := d.Reader()
		n := 2*d.Reader().rowsPerStatement(4) + 100 // more than two upserts of each
		nids := bulkRoom(t, d, n)
		var rows []MembershipRow
		state := StateMap{}
		for i := 0; i < n; i++ {
			m := "join"
			if i%10 == 0 {
				m = "leave"
			}
			nid := nids[fmt.Sprintf("$m%d", i)]
			rows = append(rows, MembershipRow{UserID: fmt.Sprintf("@u%d:x", i), Membership: m, EventNID: nid})
			state[tup("m.room.member", fmt.Sprintf("@u%d:x", i))] = nid
		}
		tx(t, d, func(s *Store) error {
			// A forgotten room the user left stays forgotten on a leave, and is no longer
			// forgotten on a join, as with SetMembership.
			if err := s.SetMembership(ctx, "!r:x", "@u0:x", "leave", nids["$bad"]); err != nil {
				return err
			}
			if err := s.SetMembership(ctx, "!r:x", "@u1:x", "leave", nids["$bad"]); err != nil {
				return err
			}
			if err := s.ForgetRoom(ctx, "!r:x", "@u0:x"); err != nil {
				return err
			}
			if err := s.ForgetRoom(ctx, "!r:x", "@u1:x"); err != nil {
				return err
			}
			if err := s.UpdateCurrentState(ctx, "!r:x", StateMap{tup("m.room.member", "@u0:x"): nids["$bad"], tup("m.room.topic", ""): nids["$pl"]}, nil); err != nil {
				return err
			}
			if err := s.SetMemberships(ctx, "!r:x", rows); err != nil {
				return err
			}
			return s.SetCurrentState(ctx, "!r:x", state)
		})
		if c, _ := r.JoinedCount(ctx, "!r:x"); c != n-(n+9)/10 {
			t.Fatalf("joined count %d, want %d", c, n-(n+9)/10)
		}
		tests := []struct {
			user, want string
			nid        int64
			forgotten  bool
		}{{"@u0:x", "leave", nids["$m0"], true}, {"@u1:x", "join", nids["$m1"], false},
			{fmt.Sprintf("@u%d:x", n-1), "join", nids[fmt.Sprintf("$m%d", n-1)], false}}
		for _, tc := range tests {
			m, nid, forgotten, err := r.Membership(ctx, "!r:x", tc.user)
			if err != nil || m != tc.want || nid != tc.nid || forgotten != tc.forgotten {
				t.Fatalf("%s: %s %d %v %v", tc.user, m, nid, forgotten, err)
			}
		}
		cur, err := r.CurrentState(ctx, "!r:x", nil)
		if err != nil || len(cur) != n+1 || cur[tup("m.room.member", "@u0:x")] != nids["$m0"] || cur[tup("m.room.topic", "")] != nids["$pl"] {
			t.Fatalf("current state: %d entries, %v", len(cur), err)
		}
	})
}
