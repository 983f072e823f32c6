package storage

import (
	"context"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestQueue: rows come back per destination in the order queued, a PDU queued twice for
// a destination is stored once, deletes remove only the rows named, and a reopened
// database still has them.
func TestQueue(t *testing.T) {
	ctx := context.Background()
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			open := func() (*Database, func()) {
				db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
				if err != nil {
					t.Fatal(err)
				}
				d, err := Open(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				return d, func() { db.Close() }
			}
			d, closeDB := open()
			var pdus []QueuedPDU
			for i := range 5 {
				for _, dest := range []string{"a.test", "b.test"} {
					pdus = append(pdus, QueuedPDU{Destination: dest, RoomID: "!r:x", EventID: fmt.Sprintf("$%d", i), JSON: []byte(fmt.Sprintf(`{"n":%d}`, i))})
				}
			}
			if err := d.QueuePDUs(ctx, pdus); err != nil {
				t.Fatal(err)
			}
			if err := d.QueuePDUs(ctx, pdus[:4]); err != nil { // a replay
				t.Fatal(err)
			}
			closeDB()
			d, closeDB = open()
			defer closeDB()
			dests, err := d.Destinations(ctx)
			if err != nil || len(dests) != 2 || dests[0] != "a.test" || dests[1] != "b.test" {
				t.Fatalf("destinations %v %v", dests, err)
			}
			rows, err := d.PeekPDUs(ctx, "a.test", 3)
			if err != nil || len(rows) != 3 {
				t.Fatalf("peek: %v %v", rows, err)
			}
			for i, r := range rows {
				if r.EventID != fmt.Sprintf("$%d", i) || string(r.JSON) != fmt.Sprintf(`{"n":%d}`, i) {
					t.Fatalf("row %d: %+v", i, r)
				}
			}
			if err := d.DeletePDUs(ctx, "a.test", []int64{rows[0].ID, rows[1].ID}); err != nil {
				t.Fatal(err)
			}
			for dest, want := range map[string]int{"a.test": 3, "b.test": 5} {
				if n, err := d.CountPDUs(ctx, dest); err != nil || n != want {
					t.Fatalf("%s: %d rows, want %d (%v)", dest, n, want, err)
				}
			}
			rows, _ = d.PeekPDUs(ctx, "a.test", 50)
			if len(rows) != 3 || rows[0].EventID != "$2" {
				t.Fatalf("after delete: %+v", rows)
			}
		})
	}
}
