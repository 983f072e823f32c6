package storage

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/matrix"
)

func openTestDB(t *testing.T, dsn string) *Database {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// Migrating twice is a no-op.
	if _, err := Open(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return d
}

func forEachDB(t *testing.T, fn func(t *testing.T, d *Database)) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) { fn(t, openTestDB(t, dsn(t))) })
	}
}

func tx(t *testing.T, d *Database, fn func(s *Store) error) {
	t.Helper()
	if err := d.WithTx(context.Background(), func(s *Store, _ *sql.Tx) error { return fn(s) }); err != nil {
		t.Fatal(err)
	}
}

func tup(typ, key string) matrix.StateKeyTuple {
	return matrix.StateKeyTuple{EventType: typ, StateKey: key}
}

func TestSnapshots(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		tests := []struct {
			name   string
			deltas []StateMap
			want   StateMap
		}{
			{"empty", nil, StateMap{}},
			{"one full", []StateMap{{tup("m.room.create", ""): 1}}, StateMap{tup("m.room.create", ""): 1}},
			{"replace", []StateMap{{tup("a", ""): 1, tup("b", ""): 2}, {tup("a", ""): 3}},
				StateMap{tup("a", ""): 3, tup("b", ""): 2}},
			{"remove", []StateMap{{tup("a", ""): 1, tup("b", ""): 2}, {tup("a", ""): 0}}, StateMap{tup("b", ""): 2}},
			{"big full snapshot spans several INSERTs", []StateMap{func() StateMap {
				m := StateMap{}
				for i := 1; i <= 2*entriesPerInsert+7; i++ {
					m[tup("m.room.member", fmt.Sprint("@u", i))] = int64(i)
				}
				return m
			}()}, func() StateMap {
				m := StateMap{}
				for i := 1; i <= 2*entriesPerInsert+7; i++ {
					m[tup("m.room.member", fmt.Sprint("@u", i))] = int64(i)
				}
				return m
			}()},
			{"long chain crosses full snapshots", func() []StateMap {
				var ds []StateMap
				for i := 1; i <= 3*snapshotFullEvery+5; i++ {
					ds = append(ds, StateMap{tup("m.room.member", fmt.Sprint(i%40)): int64(i)})
				}
				return ds
			}(), func() StateMap {
				m := StateMap{}
				for i := 1; i <= 3*snapshotFullEvery+5; i++ {
					m[tup("m.room.member", fmt.Sprint(i%40))] = int64(i)
				}
				return m
			}()},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var id int64
				tx(t, d, func(s *Store) error {
					for _, delta := range tc.deltas {
						var err error
						if id, err = s.NewSnapshot(ctx, "!r:x", id, delta); err != nil {
							return err
						}
					}
					return nil
				})
				got, err := d.Reader().LoadSnapshot(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
	})
}

func TestEventsAndEdges(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		sk := ""
		tx(t, d, func(s *Store) error {
			if err := s.InsertRoom(ctx, "!r:x", "10", "@a:x", 1); err != nil {
				return err
			}
			if _, err := s.InsertEvent(ctx, &EventRow{EventID: "$c", RoomID: "!r:x", Type: "m.room.create", StateKey: &sk, Sender: "@a:x",
				Depth: 1, JSON: []byte(`{"a":1}`), StateAfter: 7}); err != nil {
				return err
			}
			_, err := s.InsertEvent(ctx, &EventRow{EventID: "$m", RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x",
				Depth: 2, JSON: []byte(`{"b":2}`), PrevEventIDs: []string{"$c", "$c"}, AuthEventIDs: []string{"$c"}, StreamPos: 4})
			return err
		})
		r := d.Reader()
		tests := []struct {
			id        string
			wantType  string
			wantState bool
			wantDepth int64
		}{{"$c", "m.room.create", true, 1}, {"$m", "m.room.message", false, 2}}
		for _, tc := range tests {
			e, err := r.EventByID(ctx, tc.id)
			if err != nil || e == nil {
				t.Fatalf("%s: %v %v", tc.id, e, err)
			}
			if e.Type != tc.wantType || (e.StateKey != nil) != tc.wantState || e.Depth != tc.wantDepth || e.RoomVersion != "10" {
				t.Fatalf("%s: got %+v", tc.id, e)
			}
		}
		if e, err := r.EventByID(ctx, "$nope"); e != nil || err != nil {
			t.Fatalf("unknown event: %v %v", e, err)
		}
		m, _ := r.EventByID(ctx, "$m")
		prev, err := r.PrevEventIDs(ctx, m.NID)
		if err != nil || fmt.Sprint(prev) != "[$c]" {
			t.Fatalf("prev edges %v %v", prev, err)
		}
		tx(t, d, func(s *Store) error { return s.SetEventRedacted(ctx, "$m", []byte(`{}`)) })
		m, _ = r.EventByID(ctx, "$m")
		if !m.IsRedacted || string(m.JSON) != "{}" {
			t.Fatalf("redacted: %+v", m)
		}
		byID, err := r.EventsByID(ctx, []string{"$c", "$m", "$x"})
		if err != nil || len(byID) != 2 {
			t.Fatalf("EventsByID %v %v", byID, err)
		}
		// A duplicate event ID is refused.
		err = d.WithTx(ctx, func(s *Store, _ *sql.Tx) error {
			_, err := s.InsertEvent(ctx, &EventRow{EventID: "$m", RoomID: "!r:x", Type: "x", Sender: "@a:x", JSON: []byte(`{}`)})
			return err
		})
		if err == nil {
			t.Fatal("duplicate event accepted")
		}
	})
}

func TestStreamPositionsAreDense(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		var got []int64
		for i := 0; i < 3; i++ {
			tx(t, d, func(s *Store) error {
				p, err := s.NextStreamPositions(ctx, 1)
				got = append(got, p)
				return err
			})
		}
		// A rolled-back transaction gives its position back.
		_ = d.WithTx(ctx, func(s *Store, _ *sql.Tx) error {
			if _, err := s.NextStreamPositions(ctx, 1); err != nil {
				return err
			}
			return fmt.Errorf("roll back")
		})
		tx(t, d, func(s *Store) error {
			p, err := s.NextStreamPositions(ctx, 1)
			got = append(got, p)
			return err
		})
		if fmt.Sprint(got) != "[1 2 3 4]" {
			t.Fatalf("positions %v", got)
		}
	})
}

func TestMembershipsAliasesTxns(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		r := d.Reader()
		steps := []struct {
			room, user, membership string
			forget                 bool
			wantJoined             []string
			wantAll                []string
		}{
			{"!a:x", "@u:x", "join", false, []string{"!a:x"}, []string{"!a:x"}},
			{"!b:x", "@u:x", "invite", false, []string{"!a:x"}, []string{"!a:x", "!b:x"}},
			{"!a:x", "@u:x", "leave", false, nil, []string{"!a:x", "!b:x"}},
			{"!a:x", "@u:x", "leave", true, nil, []string{"!b:x"}},
			{"!a:x", "@u:x", "join", false, []string{"!a:x"}, []string{"!a:x", "!b:x"}},
		}
		for i, st := range steps {
			tx(t, d, func(s *Store) error {
				if st.forget {
					return s.ForgetRoom(ctx, st.room, st.user)
				}
				return s.SetMembership(ctx, st.room, st.user, st.membership, int64(i+1))
			})
			joined, err := r.RoomsForUser(ctx, "@u:x", []string{"join"})
			if err != nil || fmt.Sprint(joined) != fmt.Sprint(st.wantJoined) {
				t.Fatalf("step %d: joined %v %v", i, joined, err)
			}
			all, _ := r.RoomsForUser(ctx, "@u:x", nil)
			if fmt.Sprint(all) != fmt.Sprint(st.wantAll) {
				t.Fatalf("step %d: all %v", i, all)
			}
		}
		if n, _ := r.JoinedCount(ctx, "!a:x"); n != 1 {
			t.Fatalf("joined count %d", n)
		}
		var ok1, ok2 bool
		tx(t, d, func(s *Store) error {
			var err error
			if ok1, err = s.InsertAlias(ctx, "#a:x", "!a:x", "@u:x"); err != nil {
				return err
			}
			ok2, err = s.InsertAlias(ctx, "#a:x", "!b:x", "@v:x")
			return err
		})
		if !ok1 || ok2 {
			t.Fatalf("alias inserts %v %v", ok1, ok2)
		}
		if room, creator, _ := r.Alias(ctx, "#a:x"); room != "!a:x" || creator != "@u:x" {
			t.Fatalf("alias %s %s", room, creator)
		}
		tx(t, d, func(s *Store) error { return s.InsertTxn(ctx, "!a:x", "@u:x", "D", "t1", "$e") })
		if id, _ := r.TxnEventID(ctx, "!a:x", "@u:x", "D", "t1"); id != "$e" {
			t.Fatalf("txn %q", id)
		}
		if id, _ := r.TxnEventID(ctx, "!a:x", "@u:x", "E", "t1"); id != "" {
			t.Fatalf("txn other device %q", id)
		}
		if id, _ := r.TxnEventID(ctx, "!b:x", "@u:x", "D", "t1"); id != "" {
			t.Fatalf("txn other room %q", id)
		}
	})
}
