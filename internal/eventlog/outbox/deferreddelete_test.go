package outbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

func rowCount(t *testing.T, db *sqlutil.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// On SQLite the relay defers deleting published rows: a round publishes without a commit of
// its own, nothing is published twice by the same process, an idle round deletes what was
// published, a restarted process publishes undeleted rows again (at-least-once), and Run
// deletes them when it stops.
func TestSQLiteDeferredDelete(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, testenv.SQLitePath(t, "deferred"))
	p := &fakeProducer{}
	ob, err := NewOutbox(db, "comp", p, WithDeleteInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		stage     []string // values staged before the round (key "k")
		relayed   int      // what Relay returns
		published []string // everything published so far
		rows      int      // rows left in the table after the round
	}{
		{[]string{"1", "2"}, 2, []string{"1", "2"}, 2},                // published, DELETE deferred
		{[]string{"3"}, 1, []string{"1", "2", "3"}, 3},                // only the new row goes out
		{nil, 0, []string{"1", "2", "3"}, 0},                          // idle round: deleted
		{[]string{"4", "5"}, 2, []string{"1", "2", "3", "4", "5"}, 2}, // ids continue after the deleted ones
	}
	for i, st := range steps {
		for _, v := range st.stage {
			stage(t, db, ob, m("k", v))
		}
		n, err := ob.Relay(ctx)
		if err != nil || n != st.relayed {
			t.Fatalf("step %d: Relay = %d, %v; want %d", i, n, err, st.relayed)
		}
		var got []string
		for _, v := range p.values() {
			got = append(got, v[len("k="):])
		}
		if fmt.Sprint(got) != fmt.Sprint(st.published) {
			t.Fatalf("step %d: published %v, want %v", i, got, st.published)
		}
		if r := rowCount(t, db, "comp_outbox"); r != st.rows {
			t.Fatalf("step %d: %d rows in the outbox, want %d", i, r, st.rows)
		}
		if n, err := ob.Pending(ctx); err != nil || n != 0 {
			t.Fatalf("step %d: Pending = %d, %v; want 0", i, n, err)
		}
	}

	// A restart (a new Outbox on the same database) publishes the undeleted rows again.
	p2 := &fakeProducer{}
	ob2, err := NewOutbox(db, "comp", p2, WithDeleteInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := ob2.Pending(ctx); n != 2 {
		t.Fatalf("restarted outbox: Pending = %d, want 2", n)
	}
	stop := runRelay(t, ob2)
	waitPublished(t, p2, 2, 10*time.Second) // the undeleted rows, published again
	stop()
	if got := p2.values(); fmt.Sprint(got) != "[k=4 k=5]" {
		t.Fatalf("restarted outbox published %v, want [k=4 k=5]", got)
	}
	if r := rowCount(t, db, "comp_outbox"); r != 0 {
		t.Fatalf("%d rows left after Run stopped, want 0", r)
	}
}
